"""What a user installing with pip gets: an sdist that builds the C core, and a wheel (the
stable ABI's) whose ``gateway demo`` runs away from the source tree, its market data being
package data. (Installed with ``--target`` and run by this interpreter, so it uses the
dependencies this environment has: a venv of its own would need them from the network.)"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``args`` in ``cwd`` with this environment, less PYTHONPATH (the source tree's),
    plus ``env``; fail the test unless it exits 0."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    proc = subprocess.run(args, cwd=cwd, env=base | (env or {}), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc


def test_the_sdist_builds_a_wheel_that_runs_the_demo_outside_the_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path),
         "sdist", "-d", str(dist)], ROOT)
    (sdist,) = dist.glob("fixgw-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {Path(n).name for n in tar.getnames() if "/csrc/" in n}
    assert {p.name for p in (ROOT / "csrc").iterdir() if p.suffix in (".c", ".h")} <= names

    # the wheel built from the sdist alone: nothing of the source tree helps it
    run([sys.executable, "-m", "pip", "wheel", "-q", str(sdist), "--no-deps",
         "--no-build-isolation", "-w", str(dist)], tmp_path)
    (wheel,) = dist.glob("fixgw-*.whl")
    assert "-abi3-" in wheel.name
    with zipfile.ZipFile(wheel) as z:
        assert {"engine/_core.abi3.so", "engine/samples/AMZN-2012-06-21.md.log",
                "fixspec/data/FIX44.xml"} <= set(z.namelist())

    # installed on its own (the dependencies are this interpreter's), run from a folder that
    # is not the source tree: the installed copy comes first on the path
    target = tmp_path / "installed"
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)], tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target)}
    where = run([sys.executable, "-c", "import gateway; print(gateway.__file__)"],
                elsewhere, env=env).stdout
    assert Path(where.strip()).is_relative_to(target), where
    demo = run([sys.executable, "-m", "gateway.cli", "demo", "--qty", "200", "--window", "2",
                "--slices", "2", "--speed", "60"], elsewhere, timeout=60, env=env)
    row = next(line for line in demo.stdout.splitlines() if "buy AMZN" in line)
    assert "200/200" in row and "filled" in row, demo.stdout
