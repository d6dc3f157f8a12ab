"""Run every C unit test in tests/c/test_*.c under AddressSanitizer and UBSan.

Each file is a standalone program that exits 0 when all its checks pass; any sanitizer report
makes it exit non-zero, which fails the test with the report attached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.c_build import build, have_compiler, run

C_TESTS = sorted((Path(__file__).parent / "c").glob("test_*.c"))


@pytest.mark.skipif(not have_compiler(), reason="no C compiler on this machine")
@pytest.mark.parametrize("source", C_TESTS, ids=[p.stem for p in C_TESTS])
def test_c_program_passes_under_sanitizers(source: Path) -> None:
    binary = build(source.stem, [source])
    proc = run(binary)
    assert proc.returncode == 0, f"{source.name} failed:\n{proc.stdout}\n{proc.stderr}"
