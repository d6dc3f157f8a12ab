"""Input files named on the command line: a missing file or a folder is one error line that
names the argument and the path, never ``[Errno 2] ...``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.input_paths import input_file


@pytest.mark.parametrize("argv, expected", [
    (["backtest", "--log", "{missing}"], "--log {missing}: no such file"),
    (["backtest", "--log", "{folder}"], "--log {folder}: is a folder, not a file"),
    (["replay", "{missing}", "--to", "127.0.0.1:9"], "LOG {missing}: no such file"),
    (["replay", "{folder}", "--to", "127.0.0.1:9"], "LOG {folder}: is a folder, not a file"),
])
def test_commands_name_the_argument_and_the_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        expected: str) -> None:
    names = {"missing": str(tmp_path / "nonexistent.log"), "folder": str(tmp_path)}
    assert main([arg.format(**names) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err == f"gateway: error: {expected.format(**names)}\n"
    assert "Errno" not in err


def test_input_file_returns_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"")
    assert input_file(path, "--log") == path
    with pytest.raises(ValueError, match=r"^--log .*nope\.log: no such file$"):
        input_file(tmp_path / "nope.log", "--log")
