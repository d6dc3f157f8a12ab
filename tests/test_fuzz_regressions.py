"""Replay the saved inputs of every fuzz harness (tests/fuzz/fuzz_*.c) under the sanitizers.

The harnesses are libFuzzer targets (``LLVMFuzzerTestOneInput``); here they are linked with a
small driver (tests/fuzz/driver.c) so gcc can run them over ``tests/fuzz/corpus/<name>/``,
which holds seeds and every input that ever crashed a harness. The driver also runs a fixed
number of pseudo-random mutations of each input, so the run covers more than the files.
Coverage-guided fuzzing proper is ``tests/fuzz/run_libfuzzer.sh`` (clang + libFuzzer), run
briefly by CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.c_build import build, have_compiler, run

FUZZ = Path(__file__).parent / "fuzz"
HARNESSES = sorted(FUZZ.glob("fuzz_*.c"))


@pytest.mark.skipif(not have_compiler(), reason="no C compiler on this machine")
@pytest.mark.parametrize("harness", HARNESSES, ids=[p.stem for p in HARNESSES])
def test_fuzz_corpus_runs_clean(harness: Path) -> None:
    corpus = FUZZ / "corpus" / harness.stem.removeprefix("fuzz_")
    inputs = sorted(p for p in corpus.glob("*") if p.is_file())
    assert inputs, f"no saved inputs in {corpus}"
    binary = build(harness.stem, [harness, FUZZ / "driver.c"])
    proc = run(binary, "--mutations=200", *map(str, inputs))
    assert proc.returncode == 0, f"{harness.name} failed:\n{proc.stdout}\n{proc.stderr}"
