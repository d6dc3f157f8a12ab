"""``gateway run`` on a bad configuration: one line naming file, line and key; exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("text", "line", "what"), [
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, heartbeat_intervall: 30}\n", 4, "heartbeat_intervall: unknown key"),
    ("acceptor: {port: 1}\nsessions:\n  - begin_string: FIX.4.4\n    sender_comp_id: A\n"
     "    target_comp_id: B\n    store: {fsync: sometimes}\n", 6, "expected one of always"),
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, application: venue}\n", 0, "needs a 'venue:' section"),
    ("acceptor: {port: 1}\nsessions:\n  - {begin_string: FIX.4.4, sender_comp_id: A,\n"
     "     target_comp_id: B, application: venue}\nvenue:\n  symbols:\n"
     "    AAPL: {tick_size: -1}\n", 7, "expected a positive number"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "run", str(path), "--port", "0",
                           "--run-dir", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gateway: error: ") and what in err[0], err
    if line:
        assert f"{path}:{line}:" in err[0]
