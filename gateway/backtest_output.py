"""The backtest's output folder, replaced as a whole by a backtest that finishes.

A backtest writes each pass's folder (``algo``, ``naive``, ``twap``: the run's audit log, FIX
logs and client config) and then the report files (gateway/tca_report.py) into a staging
folder inside the output folder (``.backtest-partial-XXXXXXXX``, hidden; on the same file
system, so moving out of it is a rename), and :meth:`StagedOutput.publish` moves them into
place once all are written:

* each staged pass folder replaces the folder of its name;
* the pass folders of passes this backtest did not make (a baseline left out since an earlier
  backtest into the same folder) are removed: a reader would take them for this run's;
* each staged report file replaces its namesake (``os.replace``), ``report.html`` last.

Nothing else in the output folder is touched: only :data:`PASS_FOLDERS` and what this
backtest staged. A backtest that fails before it publishes (bad market data, an exception,
a full disk, Ctrl-C) calls :meth:`StagedOutput.discard`, which removes the staging folder:
the output folder stays as the last finished backtest left it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gateway.backtest_config import BASELINES

__all__ = ["PASS_FOLDERS", "STAGING_PREFIX", "StagedOutput"]

#: The folders a backtest makes in its output folder, one per pass (market has none).
PASS_FOLDERS = ("algo", *BASELINES)
STAGING_PREFIX = ".backtest-partial-"
#: Published last: the page a reader opens names the other files, which are then in place.
_LAST = "report.html"


class StagedOutput:
    """A staging folder inside ``folder`` (made now) for one backtest's output."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))

    def path(self, name: str) -> Path:
        """Where the pass or report file ``name`` is written until it is published."""
        return self.staging / name

    def publish(self) -> None:
        """Move everything staged into the output folder (module docstring), remove the pass
        folders this backtest did not make, then the staging folder."""
        staged = sorted(self.staging.iterdir(), key=lambda p: (p.name == _LAST, p.name))
        made = {p.name for p in staged}
        trash = self.staging / ".replaced"
        trash.mkdir()
        for item in staged:
            target = self.folder / item.name
            if item.is_dir():
                # a folder cannot be renamed over a full one: the old one goes aside first
                if target.exists() or target.is_symlink():
                    target.rename(trash / item.name)
                item.rename(target)
            else:
                os.replace(item, target)
        for name in PASS_FOLDERS:
            old = self.folder / name
            if name not in made and old.is_dir() and not old.is_symlink():
                old.rename(trash / name)
        shutil.rmtree(self.staging)

    def discard(self, why: BaseException | None = None) -> None:
        """Remove the staging folder and what it holds; ``why``, the exception that stops
        the backtest, gets a note saying the output folder was left as it was (printed
        under its error line by gateway.cli)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        if why is None:
            return
        if (self.folder / _LAST).exists():
            why.add_note(f"{self.folder}: left as the last finished backtest wrote it; this "
                         "run's partial output was removed")
        else:
            why.add_note(f"{self.folder}: no report written; this run's partial output was "
                         "removed")
