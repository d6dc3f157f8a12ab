"""Output files that only a run that succeeds replaces.

A command that opens its output file at the start and writes as it goes destroys the file
that was there the moment it starts, and leaves a partial one when it stops partway (bad
input found at line 881, a full disk, Ctrl-C): 880 rows that look like a complete book.
:func:`replacing` writes to a temporary file in the same folder instead and renames it over
the target only when the block ends normally (``os.replace``, atomic within one file system:
a reader sees the old file or the new one, never part of either). On any exception the
temporary file is removed, the target is left as it was, and the exception carries a note
(:pep:`678`, printed by :mod:`gateway.cli` under the error line) saying so.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["PARTIAL_SUFFIX", "not_an_input", "replacing", "why_unwritable"]

#: Temporary files end so; a ``kill -9`` mid-write can leave one behind, never the target.
PARTIAL_SUFFIX = ".partial"


def why_unwritable(path: Path, exc: OSError) -> str:
    """Why ``path`` (a file, or a folder, to make) could not be, from ``exc``: the part of
    it that is a file where a folder must be, or a symbolic link to nothing there (a folder
    cannot be made in its place), else the system's words (``Permission denied``)."""
    if isinstance(exc, NotADirectoryError | FileExistsError):
        for p in (path, *path.parents):
            if p.exists() and not p.is_dir():
                return f"{p} is a file, not a folder"
            if p.is_symlink() and not p.exists():
                return f"{p} is a symbolic link to {os.readlink(p)}, which does not exist"
    return exc.strerror or str(exc)


def not_an_input(target: Path, what: str, *inputs: Path) -> None:
    """:class:`ValueError` if ``target`` is one of ``inputs`` (the same file, by any name:
    a link, ``./x``): the run would replace what it reads, and a check of the output
    against that input would compare the output with itself."""
    for source in inputs:
        with suppress(OSError):  # (a target not there yet is no input)
            if os.path.samefile(target, source):
                raise ValueError(f"{what} {target}: is the input {source}; name another file")


def _unwritable(target: Path, what: str, exc: OSError) -> OSError:
    """``exc`` (met making ``target``'s folder or temporary file) restated with the option
    and the path."""
    named = f"{what} {target}" if what else str(target)
    return type(exc)(f"{named}: cannot be written: {why_unwritable(target.parent, exc)}")


@contextmanager
def replacing(target: Path, what: str = "") -> Iterator[Path]:
    """A temporary path beside ``target`` to write the new content to; renamed over
    ``target`` when the block ends normally, removed when it raises (anything, Ctrl-C too).

    Folders up to ``target`` are made as needed. A ``target`` that is a symbolic link has the
    file it points to replaced, and an existing target's permission bits carry over to the
    new file (as writing it in place would have kept them). A ``target`` that exists but is
    no regular file (``/dev/null``, a pipe) is yielded itself, to be written in place: there
    is no file to keep, and a rename would put a regular file where the device was. When the
    block raises and ``target`` exists, or the block had written something, the exception
    gets a note naming ``target`` and what became of it; the exception itself is raised
    unchanged. ``what`` (an option: ``--book-out``) heads the error when ``target`` cannot
    be made (a file where a folder must be, no permission): an OSError naming the path and
    why."""
    try:
        mode = target.stat().st_mode  # through a symbolic link
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a file where a folder must be, a folder we may not read
        raise _unwritable(target, what, exc) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{what + ' ' if what else ''}{target}: is a folder, not a file")
    if mode is not None and not stat.S_ISREG(mode):
        yield target
        return
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}"
                           f"{PARTIAL_SUFFIX}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.touch(exist_ok=False)  # created here (umask applies): the block may open it "wb"
    except OSError as exc:
        raise _unwritable(target, what, exc) from None
    try:
        yield tmp
        if target.exists():
            shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        wrote = tmp.exists() and tmp.stat().st_size > 0
        with suppress(OSError):
            tmp.unlink()
        if target.exists():
            exc.add_note(f"{target}: left as it was; this run's output was discarded")
        elif wrote:
            exc.add_note(f"{target}: not written; this run's partial output was removed")
        raise
