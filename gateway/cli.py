"""The ``gateway`` command: one entry point, a subcommand per job.

Each subcommand lives in its own module (``gateway/cmd_*.py``) that exposes
``add_parser(subparsers)``; this module only wires them together and turns the errors a user
can cause (bad files, bad config, bad arguments) into one line on stderr and exit status 2.

Signals: from the moment :func:`main` starts, SIGINT, SIGTERM and SIGHUP stop a command
quietly (one line on stderr, no traceback) with exit status 128 + the signal's number (130,
143, 129). That covers the half second or so the imports take before a command starts.
A command may take them over for its own use: ``gateway run`` does once it has begun to
start its sessions, and then stops gracefully on any of the three and exits 0.

An error's notes (:pep:`678`; a command's output file left as it was, or its partial output
removed: gateway/output_files.py) follow its line, one ``gateway:`` line each, also when a
signal stopped the command.

SIGUSR1 (``gateway run``'s kill switch) is noted from the same moment rather than left to
kill the process: ``gateway run`` throws the switch as soon as its sessions are up, before
it reads any order (:func:`kill_requested`); other commands ignore it. SIGUSR2 (``gateway
run``'s log reopening) is ignored until a command takes it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, NoReturn, TextIO, cast


class _Stdout:
    """A command's stdout, whose reader may go away: once ``| head`` has what it wanted,
    what the command prints goes nowhere (its stdout's descriptor is then /dev/null, so the
    interpreter's last flush fails neither) and the command finishes with its own exit
    status, rather than an error line naming EPIPE. Everything else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)
        except OSError as exc:  # a full disk, say: the error names what failed
            raise UserError(f"cannot write to stdout: {exc.strerror or exc}") from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()
        except OSError as exc:
            raise UserError(f"cannot write to stdout: {exc.strerror or exc}") from exc

    def _reader_gone(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        self._stream.flush()  # what the buffer held goes to /dev/null now

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """sys.stdout as :class:`_Stdout` inside the block; a stdout that was closed (``>&-``:
    None in Python) is /dev/null, as nobody reads it. Put back after the block."""
    previous = sys.stdout
    stream = previous if previous is not None else open(os.devnull, "w")  # noqa: SIM115
    guarded = _Stdout(stream)
    sys.stdout = cast(TextIO, guarded)
    try:
        yield
    finally:
        # (main flushed it, saying any failure; a command cut short: said already)
        with suppress(UserError, ValueError):
            guarded.flush()
        sys.stdout = previous


class UserError(Exception):
    """A problem with the user's input; printed without a traceback."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived before the command took them over, or SIGINT while the
    command was being chosen (:func:`stop_signals`). A BaseException, as KeyboardInterrupt
    is, so that no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one ``gateway: error:`` line, like every other
    error the command reports (still exit status 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the subcommands' namespace key and parsers by name, if this parser has them
        self._subcommands: tuple[str, dict[str, argparse.ArgumentParser]] | None = None

    def add_subparsers(self, **kwargs: Any) -> Any:
        action = super().add_subparsers(**kwargs)
        self._subcommands = (kwargs["dest"], action.choices)
        return action

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gateway: error: {message}; see {self.prog} --help\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """As argparse's, but an argument no parser took is the error of the subcommand
        chosen, the innermost (``see gateway lobster replay --help``), not the top
        parser's."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen: argparse.ArgumentParser = self
            while isinstance(chosen, _Parser) and chosen._subcommands is not None:
                dest, parsers = chosen._subcommands
                inner = parsers.get(getattr(parsed, dest, None) or "")
                if inner is None:
                    break
                chosen = inner
            chosen.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    # The subcommands are imported here, not at the top: their imports (numpy, the C core)
    # take a few tenths of a second, and main() wants its signal handling in place first.
    # What only one command's work needs (river, matplotlib) is imported when it runs.
    from gateway import cmd_audit, cmd_backtest, cmd_demo, cmd_lobster, cmd_replay, cmd_run

    parser = _Parser(prog="gateway", description="FIX trading gateway with a C core.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmd_audit.add_parser(sub)
    cmd_demo.add_parser(sub)
    cmd_backtest.add_parser(sub)
    cmd_lobster.add_parser(sub)
    cmd_replay.add_parser(sub)
    cmd_run.add_parser(sub)
    return parser


#: the stop signal the command is ending on; empty while none came
_stop: list[int] = []


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    # Once: a supervisor repeating the signal (or sending SIGTERM after SIGINT) must not
    # raise again while the first is handled, where nothing would catch it (a traceback).
    if not _stop:
        _stop.append(signum)
        raise Stopped(signum)


_kill: list[int] = []  # SIGUSR1s noted before a command took the signal over


def _note_kill(signum: int, frame: FrameType | None) -> None:
    _kill.append(signum)


def kill_requested() -> bool:
    """Whether SIGUSR1 arrived since :func:`main` started and before the command took the
    signal over (asked once: the answer is cleared)."""
    found = bool(_kill)
    _kill.clear()
    return found


#: The signals that stop a command (``gateway run`` gracefully). SIGHUP is one of them: a
#: closed terminal or a supervisor's reload must log the sessions out, not drop them.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def ignore_stop_signals() -> None:
    """From now on the stop signals do nothing: for a command whose work is done (``gateway
    run`` once stopped, its event loop having put their defaults back), so a supervisor's
    repeated SIGTERM cannot turn a clean end into death by the signal. The handlers
    :func:`stop_signals` replaced are still put back after it (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


@contextmanager
def stop_signals(*, exiting: bool = False) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Stopped` inside the block (the first of them:
    the later ones are ignored) and SIGUSR1 is noted (:func:`kill_requested`); the previous
    handlers are back after it, except the stop signals when ``exiting`` (the process ends
    after the block: they stay blocked). Only the main thread can set handlers: elsewhere (a test
    calling :func:`main` from a thread) nothing changes.

    SIGINT too, and not as KeyboardInterrupt: while the modules import, a KeyboardInterrupt
    raised inside ``exec`` of source text (dataclasses make their methods that way) is marked
    unhandled in CPython even once caught, and the interpreter would then end itself by
    SIGINT instead of exiting with 130. A command gets KeyboardInterrupt back
    (:func:`ctrl_c_as_keyboard_interrupt`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _stop.clear()
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, _note_kill)
    # a log rotation's signal before any log is open has nothing to do, and must not end the
    # process (SIGUSR2's default)
    previous[signal.SIGUSR2] = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        yield
    finally:
        if exiting:
            # blocked, not only ignored: the interpreter's own exit puts SIGINT's default
            # back, and a signal then would end the process by it
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if exiting and sig in STOP_SIGNALS else handler)


@contextmanager
def ctrl_c_as_keyboard_interrupt(wanted: bool = True) -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt inside the block, as Python's own handler does, so a
    command's ``asyncio.run`` turns Ctrl-C into cancelling its task and its sessions log out
    (``gateway demo``), or a command catches it to report on what ran (``gateway replay``);
    the handler before it is back after it. Only when ``wanted`` (a command that sets
    ``keyboard_interrupt``): elsewhere SIGINT stays :class:`Stopped`, since a
    KeyboardInterrupt raised inside ``exec`` (a module a command imports late) ends the
    process by SIGINT at its exit, whatever caught it. Main thread only, as
    :func:`stop_signals`."""
    if not wanted or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (None: the process's own command line, after which
    the process ends: the stop signals are then left blocked, not restored); its exit
    status."""
    stopped: BaseException
    with stop_signals(exiting=argv is None), guarded_stdout():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            try:
                with ctrl_c_as_keyboard_interrupt(getattr(args, "keyboard_interrupt", False)):
                    result: int = args.run(args)
                sys.stdout.flush()  # its last output: a failure to write it is said here
            except (UserError, ValueError, OSError) as exc:
                print(f"gateway: error: {exc}", file=sys.stderr)
                print_notes(exc)
                return 2
            return result
        except KeyboardInterrupt as exc:
            signum, stopped = signal.SIGINT, exc
        except Stopped as exc:
            signum, stopped = signal.Signals(exc.signum), exc
    print(f"gateway: stopped by {signum.name}", file=sys.stderr)
    print_notes(stopped)
    return 128 + signum


def print_notes(exc: BaseException) -> None:
    """The notes an error picked up on its way out (PEP 678), one ``gateway:`` line each,
    after the error's own line: what became of the output a failed command was writing
    (gateway.output_files)."""
    for note in getattr(exc, "__notes__", ()):
        print(f"gateway: {note}", file=sys.stderr)


if __name__ == "__main__":
    # ``python -m gateway.cli`` runs this file as __main__, a second copy of the module: the
    # commands import gateway.cli, whose state (kill_requested) must be the one main() uses
    from gateway.cli import main as _main

    sys.exit(_main())
