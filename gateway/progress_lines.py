"""Progress lines on stdout that never make the caller wait: :class:`LinePrinter`.

``gateway run`` prints a client's parent orders a line a report, from inside the session's
handling of that report. A blocking write there would stop the event loop (heartbeats,
every other session) whenever stdout is a pipe nobody empties, so the lines are written by a
thread of their own, with ``os.write`` on the descriptor (a thread blocked in a system call
holds no Python lock the interpreter needs at exit).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable

QUEUED_LINES = 1000  # lines waiting for a reader that has stopped reading, before drops


def warn(text: str) -> None:
    print(f"gateway: warning: {text}", file=sys.stderr, flush=True)


class LinePrinter:
    """Lines to ``fd`` (None: stdout's descriptor), in order, written by a daemon thread.

    :meth:`print` never blocks: when ``queued`` lines are already waiting (the reader has
    stopped reading), a line is dropped and counted in :attr:`dropped`, with one warning on
    stderr. Once the descriptor fails (a closed pipe, ``| head``), :attr:`broken` is set, the
    lines stop with one warning, and :meth:`print` does nothing more.
    """

    def __init__(self, fd: int | None = None, queued: int = QUEUED_LINES,
                 warn: Callable[[str], None] = warn) -> None:
        self.fd = fd
        self.warn = warn
        self.broken = False
        self.dropped = 0
        self._lines: queue.Queue[bytes] = queue.Queue(queued)
        self._thread: threading.Thread | None = None  # started by the first line

    def print(self, line: str) -> None:
        if self.broken:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._write, name="progress lines",
                                            daemon=True)
            self._thread.start()
        try:
            self._lines.put_nowait(line.encode("utf-8", "replace") + b"\n")
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                self.warn("stdout is not being read: progress lines are dropped until it is")

    def close(self) -> None:
        """Say how many lines were dropped, if any (the thread ends with the process)."""
        if self.dropped:
            self.warn(f"{self.dropped} progress lines were dropped: stdout was not read")

    def _write(self) -> None:
        try:
            fd = sys.stdout.fileno() if self.fd is None else self.fd
            while True:
                data = self._lines.get()
                while data:
                    data = data[os.write(fd, data):]
        except (OSError, ValueError) as exc:  # ValueError: stdout closed or not a file
            self.broken = True
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self.warn(f"progress lines stopped: stdout: {reason}")
