"""``gateway demo`` runs started in the same second each get a run directory (audit log,
FIX logs, configs) of their own."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway import cmd_demo

NOW = datetime(2026, 5, 21, 14, 30, 5, 900000)


def test_runs_in_one_second_get_numbered_directories(tmp_path: Path) -> None:
    made = [cmd_demo.new_run_dir(tmp_path / "demo", NOW) for _ in range(3)]
    assert [p.name for p in made] == ["20260521-143005", "20260521-143005-2",
                                      "20260521-143005-3"]
    assert all(p.is_dir() for p in made)


def _claim(base: Path, barrier: Any, out: Any) -> None:
    barrier.wait()  # all processes try the same name at once
    out.put(str(cmd_demo.new_run_dir(base, NOW)))


def test_processes_claiming_at_once_never_share_a_directory(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 4
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(tmp_path, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [out.get(timeout=30) for _ in range(n)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert len(set(got)) == n, got


class FrozenClock:
    """Stands in for ``datetime`` in cmd_demo: every run starts in the same second."""

    @staticmethod
    def now() -> datetime:
        return NOW


@pytest.mark.skipif(not cmd_demo.SAMPLE.is_file(), reason="the bundled market data is missing")
def test_two_demos_in_one_second_keep_their_records_apart(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_demo, "datetime", FrozenClock)
    args = argparse.Namespace(qty=100, window=1.0, slices=1, speed=60.0, run_dir=tmp_path)
    for _ in range(2):
        assert asyncio.run(cmd_demo.demo(args)) == 0
    runs = sorted(tmp_path.iterdir())
    assert [p.name for p in runs] == ["20260521-143005", "20260521-143005-2"]
    for run in runs:
        # each audit log holds its own run only: one logon, one parent order
        records = (run / "audit.jsonl").read_text()
        assert records.count('"event":"LoggedOn"') == 1
        assert records.count('"event":"algo_started"') == 1
