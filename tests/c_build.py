"""Compile C test programs against csrc/ with AddressSanitizer and UBSan, for the C tests.

Shared by tests/test_c_sanitized.py (unit tests in tests/c/) and tests/test_fuzz_regressions.py
(fuzz harnesses in tests/fuzz/ run over their saved inputs). Binaries go to tests/c/bin/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
BIN = ROOT / "tests" / "c" / "bin"
CC = os.environ.get("CC", "gcc")
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
CFLAGS = ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-I", str(CSRC)]
# Leak checks need ptrace, which some sandboxes refuse; ASan's other checks still run.
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=0:halt_on_error=1:detect_leaks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def have_compiler() -> bool:
    return shutil.which(CC) is not None


def build(name: str, sources: list[Path]) -> Path:
    """Compile ``sources`` plus every csrc/*.c into ``tests/c/bin/name``; raise on any warning."""
    BIN.mkdir(parents=True, exist_ok=True)
    out = BIN / name
    cmd = [CC, *CFLAGS, *SANITIZE, *map(str, sources), *map(str, sorted(CSRC.glob("*.c"))),
           "-o", str(out), "-lm", "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"compile failed: {' '.join(cmd)}\n{proc.stderr}")
    return out


def run(binary: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SAN_ENV}
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
