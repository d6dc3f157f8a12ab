"""Input files named on the command line, checked before a command starts its work.

A command that opens a missing file deep inside a reader gets ``[Errno 2] No such file or
directory: 'x'``, which names neither the option nor what was expected. :func:`input_file`
checks up front and raises a ``ValueError`` that names both (the CLI prints it as one
``gateway: error:`` line, exit status 2).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def path_arg(text: str) -> Path:
    """A path given on the command line (argparse's ``type``): an empty one is refused, not
    taken as the current folder (``--output ''`` wrote a backtest's report there)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return Path(text)


def input_file(path: Path, argument: str) -> Path:
    """``path`` if it names a file this process can read; else ``ValueError`` with
    ``ARGUMENT PATH: what is wrong`` (no such file, a folder, cannot read: reason).

    ``argument`` is how the user gave it: an option (``--log``) or a positional's metavar
    (``LOG``)."""
    try:
        if path.is_dir():
            raise ValueError(f"{argument} {path}: is a folder, not a file")
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise ValueError(f"{argument} {path}: no such file") from None
    except OSError as exc:
        reason = exc.strerror or os.strerror(exc.errno or 0) or type(exc).__name__
        raise ValueError(f"{argument} {path}: cannot read: {reason}") from None
    return path
