"""Output files survive a failed run: a command that stops partway leaves the file it was
asked to write as it was (or, if there was none, no file), never a truncated or partial one
that looks complete, and says so on stderr.

Covers ``lobster to-fix -o``, ``lobster replay --out``, ``backtest --log --book-out`` and the
backtest's report folder (its report files and its pass folders, and the pass folders of
baselines a later run into the same folder leaves out)."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import gateway.backtest
import gateway.tca
import gateway.tca_report
from gateway.cli import main
from gateway.cmd_lobster import sample_path
from gateway.output_files import replacing
from tests.test_backtest import ROOT, config_with
from tests.test_lobster import GOOD_MSG, GOOD_OB, SAMPLES
from tests.test_md_fix import BUNDLED_LOG

OLD = b"the previous good file\n"


def leftovers(folder: Path, *keep: Path) -> list[str]:
    """Names in ``folder`` other than ``keep``: a temporary file left behind shows here."""
    return sorted(p.name for p in folder.iterdir() if p not in keep)


def test_replacing_renames_on_success_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError) as info, replacing(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"partial")
        raise RuntimeError("stopped")
    assert target.read_bytes() == OLD and leftovers(tmp_path, target) == []
    assert info.value.__notes__ == [f"{target}: left as it was; this run's output was "
                                    "discarded"]
    with replacing(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path, target) == []
    fresh = tmp_path / "sub" / "fresh.csv"
    with pytest.raises(RuntimeError) as info, replacing(fresh) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("stopped")
    assert not fresh.exists() and leftovers(fresh.parent) == []
    assert info.value.__notes__ == [f"{fresh}: not written; this run's partial output was "
                                    "removed"]
    with pytest.raises(RuntimeError) as info, replacing(tmp_path / "none.csv"):
        raise RuntimeError("nothing written, nothing there: nothing to say")
    assert not hasattr(info.value, "__notes__")


def test_a_target_that_is_no_regular_file_is_written_in_place(tmp_path: Path) -> None:
    """A pipe (as ``/dev/null`` or ``/dev/stdout`` would be) stays what it is: renaming a
    file over it would leave a regular file where it was."""
    fifo = tmp_path / "book.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert main(["lobster", "replay", "--out", str(fifo)]) == 0
    reader.join(timeout=60)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and leftovers(tmp_path, fifo) == []
    assert got == [sample_path(SAMPLES[0][1]).read_bytes()]
    with pytest.raises(IsADirectoryError, match="is a folder, not a file"), \
            replacing(tmp_path):
        pass
    link = tmp_path / "link.csv"  # a link to a file: the file is replaced, the link stays
    real = tmp_path / "real.csv"
    real.write_bytes(OLD)
    link.symlink_to(real)
    with replacing(link) as tmp:
        tmp.write_bytes(b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_an_output_path_through_a_file_names_the_option_and_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file where a folder must be: the option, the path and which part is the file (once
    a bare "[Errno 20] Not a directory", or for --output "File exists")."""
    afile = tmp_path / "afile"
    afile.write_bytes(OLD)
    for book in (afile / "book.csv", afile / "sub" / "book.csv"):
        assert main(["backtest", "--log", str(BUNDLED_LOG), "--dump-book", "1",
                     "--book-out", str(book)]) == 2
        assert capsys.readouterr().err == (f"gateway: error: --book-out {book}: cannot be "
                                           f"written: {afile} is a file, not a folder\n")
    assert main(["lobster", "replay", "--out", str(afile / "b.csv")]) == 2
    assert f"--out {afile / 'b.csv'}: cannot be written: {afile} is a file" in (
        capsys.readouterr().err)
    for out in (afile, afile / "sub"):
        assert main(["backtest", str(config_with(tmp_path)), "--output", str(out),
                     "--quiet"]) == 2
        assert (f"the output folder {out} cannot be written: {afile} is a file, not a "
                "folder") in capsys.readouterr().err
    assert afile.read_bytes() == OLD


def test_an_output_path_through_a_dangling_link_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A symbolic link to nothing where a folder must be: named as such (once "File
    exists"); ``lobster to-fix`` names its option as the other commands do."""
    gone = tmp_path / "gone"
    link = tmp_path / "link"
    link.symlink_to(gone)
    book = link / "book.csv"
    assert main(["backtest", "--log", str(BUNDLED_LOG), "--dump-book", "1",
                 "--book-out", str(book)]) == 2
    assert capsys.readouterr().err == (
        f"gateway: error: --book-out {book}: cannot be written: {link} is a symbolic link to "
        f"{gone}, which does not exist\n")
    messages, orderbook = (sample_path(name) for name in SAMPLES[0])
    assert main(["lobster", "to-fix", str(messages), str(orderbook), "-o",
                 str(link / "day.log")]) == 2
    assert capsys.readouterr().err.startswith(
        f"gateway: error: --out {link / 'day.log'}: cannot be written: {link} is a symbolic")
    assert not gone.exists()


@pytest.mark.skipif(not os.path.ismount("/sys"), reason="needs sysfs at /sys, which refuses "
                    "a new folder even to root (a read-only folder does not stop root)")
def test_a_folder_that_cannot_be_made_names_the_option(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lobster", "replay", "--out", "/sys/no-such/b.csv"]) == 2
    assert capsys.readouterr().err.startswith(
        "gateway: error: --out /sys/no-such/b.csv: cannot be written: ")


@pytest.mark.parametrize(("command", "which"), [
    ("replay", 0), ("replay", 1), ("to-fix", 0), ("to-fix", 1), ("book-out", 0)])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, which: int) -> None:
    """``lobster replay M O --out O --check`` replaced the orderbook with the book it built,
    then compared that with itself: "matches": true for any messages."""
    msg, ob = tmp_path / "m.csv", tmp_path / "o.csv"
    msg.write_text(GOOD_MSG)
    ob.write_text(GOOD_OB)
    log = tmp_path / "md.log"
    log.write_bytes(BUNDLED_LOG.read_bytes())
    inputs = {"replay": (msg, ob), "to-fix": (msg, ob), "book-out": (log,)}[command]
    victim = inputs[which]
    (tmp_path / "link").symlink_to(victim)  # the same file by another name
    out = tmp_path / "link"
    before = victim.read_bytes()
    args = {"replay": ["lobster", "replay", str(msg), str(ob), "--out", str(out), "--check"],
            "to-fix": ["lobster", "to-fix", str(msg), str(ob), "--symbol", "T", "--date",
                       "2012-06-21", "-o", str(out)],
            "book-out": ["backtest", "--log", str(log), "--dump-book", "5", "--book-out",
                         str(out)]}[command]
    option = {"replay": "--out", "to-fix": "--out", "book-out": "--book-out"}[command]
    assert main(args) == 2
    assert capsys.readouterr().err == (f"gateway: error: {option} {out}: is the input "
                                       f"{victim}; name another file\n")
    assert victim.read_bytes() == before


def test_a_failed_to_fix_keeps_the_existing_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The third message deletes an order no message added: once, keep.log was truncated
    to 0 bytes when the run stopped there."""
    msg, ob = tmp_path / "m.csv", tmp_path / "o.csv"
    msg.write_text(GOOD_MSG + "34200.3,3,99,10,4990000,1\n")
    ob.write_text(GOOD_OB + "5010000,50,5000000,100\n")
    keep = tmp_path / "keep.log"
    keep.write_bytes(OLD)
    args = ["lobster", "to-fix", str(msg), str(ob), "--symbol", "T", "--date", "2012-06-21",
            "-o", str(keep)]
    assert main(args) == 2
    assert keep.read_bytes() == OLD and leftovers(tmp_path, msg, ob, keep) == []
    err = capsys.readouterr().err
    assert f"{msg}:3: the message names an order or level the book does not hold" in err
    assert f"gateway: {keep}: left as it was" in err
    ob.write_text(GOOD_OB)  # a good pair now: the log is replaced
    msg.write_text(GOOD_MSG)
    assert main(args) == 0
    assert keep.read_bytes().count(b"\x0135=X\x01") == 2
    assert leftovers(tmp_path, msg, ob, keep) == []


def test_a_to_fix_stopped_by_a_bad_csv_line_says_the_log_is_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line the CSV reader refuses stops the run before the plan: the log was kept, but
    the line saying so was missing."""
    msg, ob = tmp_path / "m.csv", tmp_path / "o.csv"
    msg.write_text(GOOD_MSG + "34200.3,not-a-number,99,10,4990000,1\n")
    ob.write_text(GOOD_OB + "5010000,50,5000000,100\n")
    keep = tmp_path / "keep.log"
    keep.write_bytes(OLD)
    assert main(["lobster", "to-fix", str(msg), str(ob), "--symbol", "T", "--date",
                 "2012-06-21", "-o", str(keep)]) == 2
    assert keep.read_bytes() == OLD and leftovers(tmp_path, msg, ob, keep) == []
    err = capsys.readouterr().err
    assert f"{msg}:3: " in err and f"gateway: {keep}: left as it was" in err, err


@pytest.mark.parametrize("old", [True, False], ids=["old-file", "no-file"])
def test_a_failed_book_dump_leaves_no_partial_book(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], old: bool) -> None:
    """Prices in cents: the replay stops at line 1044, the first price with more decimals.
    Once, the 1,042 rows written until then were left as BOOK.csv."""
    book = tmp_path / "BOOK.csv"
    if old:
        book.write_bytes(OLD)
    assert main(["backtest", "--log", str(BUNDLED_LOG), "--dump-book", "5", "--book-out",
                 str(book), "--price-decimals", "2"]) == 2
    err = capsys.readouterr().err
    assert f"{BUNDLED_LOG}:1044: MDEntryPx (270) has a bad value" in err
    if old:
        assert book.read_bytes() == OLD
        assert f"gateway: {book}: left as it was" in err
    else:
        assert not book.exists()
        assert f"gateway: {book}: not written; this run's partial output was removed" in err
    assert leftovers(tmp_path, book) == []


def _limited(max_bytes: int) -> None:
    """In the child: files may not grow past ``max_bytes``, and a write past it fails with
    EFBIG instead of killing the process (as a full disk fails a write)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))


def test_a_replay_that_cannot_finish_writing_keeps_the_old_book(tmp_path: Path) -> None:
    """The sample's book is about 300 KB; the child may write 50 KB. Once, the old file was
    truncated and 50 KB of the new one left in its place."""
    book = tmp_path / "BOOK.csv"
    book.write_bytes(OLD)
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "lobster", "replay", "--out", str(book)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        preexec_fn=lambda: _limited(50_000))
    assert proc.returncode == 2, proc.stderr
    assert book.read_bytes() == OLD and leftovers(tmp_path, book) == []
    assert "File too large" in proc.stderr and f"{book}: left as it was" in proc.stderr
    assert main(["lobster", "replay", "--out", str(book)]) == 0
    assert book.read_bytes() == sample_path(SAMPLES[0][1]).read_bytes()


# -- the backtest's report folder -------------------------------------------------------------


def _folder(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (but the PNGs, which differ by a timestamp) and its bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix != ".png"}


@pytest.mark.parametrize("where", ["report", "metrics", "pass", "market"])
def test_a_failed_backtest_leaves_the_last_report_folder_as_it_was(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        where: str) -> None:
    """A backtest that stops while it writes its report, or in a pass after the algo's,
    leaves the folder as the last finished backtest wrote it: the report and the pass
    folders it describes (once, its algo folder and report files were overwritten)."""
    out = tmp_path / "out"
    good = config_with(tmp_path / "a", baselines=["twap"])
    assert main(["backtest", str(good), "--output", str(out), "--quiet"]) == 0
    capsys.readouterr()
    before = _folder(out)
    assert "summary.json" in before and "algo/audit.jsonl" in before

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if where == "report":
        monkeypatch.setattr(gateway.tca_report, "write_plots", fail)
    elif where == "metrics":  # the TCA before the report (it left its staging folder)
        monkeypatch.setattr(gateway.tca, "run_metrics", fail)
    elif where == "market":  # bad market data: the stderr note was missing
        pass
    else:
        real = gateway.backtest.Backtest.run_pass

        def run_pass(self: gateway.backtest.Backtest, name: str, *args: object,
                     **kwargs: object) -> object:
            if name == "twap":
                fail()
            return real(self, name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(gateway.backtest.Backtest, "run_pass", run_pass)
    damaged = tmp_path / "damaged.md.log"
    damaged.write_bytes(BUNDLED_LOG.read_bytes().replace(b"\n", b"\nnot FIX\n", 1))
    other = config_with(tmp_path / "b", baselines=["twap"], orders=[
        {"symbol": "AMZN", "side": "sell", "qty": 500, "start": "13:31:00", "window": 60}],
        **({"log": damaged} if where == "market" else {}))
    assert main(["backtest", str(other), "--output", str(out), "--quiet"]) == 2
    assert _folder(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    err = capsys.readouterr().err
    assert (f"{damaged}:2: not a log line" if where == "market"
            else "No space left on device") in err
    assert f"{out}: left as the last finished backtest wrote it" in err


def test_a_failed_first_backtest_says_no_report_was_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damaged = tmp_path / "damaged.md.log"
    damaged.write_bytes(BUNDLED_LOG.read_bytes().replace(b"\n", b"\nnot FIX\n", 1))
    out = tmp_path / "out"
    assert main(["backtest", str(config_with(tmp_path, log=damaged)), "--output", str(out),
                 "--quiet"]) == 2
    assert f"{out}: no report written; this run's partial output was removed" in (
        capsys.readouterr().err)
    assert list(out.iterdir()) == []


def test_a_rerun_with_fewer_baselines_removes_their_old_folders(tmp_path: Path) -> None:
    """Only the backtest's own pass folders go; anything else in the folder stays."""
    out = tmp_path / "out"
    assert main(["backtest", str(config_with(tmp_path, baselines=["naive", "twap"])),
                 "--output", str(out), "--quiet"]) == 0
    assert {"algo", "naive", "twap"} <= {p.name for p in out.iterdir()}
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "keep.csv").write_text("mine")
    assert main(["backtest", str(config_with(tmp_path, baselines=[])), "--output", str(out),
                 "--quiet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "naive" not in names and "twap" not in names
    assert {"algo", "summary.json", "report.html", "notes.txt", "mine"} <= names
    assert (out / "mine" / "keep.csv").read_text() == "mine"
    assert set(json.loads((out / "summary.json").read_text())["runs"]) == {"algo"}
    assert not [n for n in names if n.startswith(".")]
