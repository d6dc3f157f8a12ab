"""What a user installing with pip gets: an sdist that builds the C core, and a wheel (the
stable ABI's) whose ``gateway demo`` runs away from the source tree, its market data being
package data."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
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

    # installed in a venv (the dependencies from this interpreter's site-packages), run from
    # a folder that is not the source tree
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
         "--no-index", str(wheel)], tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([str(venv / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"],
                elsewhere).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    demo = run([str(venv / "bin" / "gateway"), "demo", "--qty", "200", "--window", "2",
                "--slices", "2", "--speed", "60"], elsewhere, timeout=60)
    row = next(line for line in demo.stdout.splitlines() if "buy AMZN" in line)
    assert "200/200" in row and "filled" in row, demo.stdout
