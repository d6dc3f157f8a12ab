"""What a restarted algo gateway knows of the parents it had, and of their children.

The algo desk keeps its parents and their runners in memory: a process that ends (a crash,
``kill -9``, or a stop: a clean stop logs out without stopping the parents) loses them,
while the sessions' stores are durable. From them a restarted algo gateway learns:

* per client session, its parents as the client last heard of them
  (:func:`gateway.venue_restart.recover` of the reports stored for that session, the same
  reading a restarted venue does of its own orders): which were still open, reported
  Canceled with :data:`RESTART_TEXT` when the client next logs on, and every ClOrdID the
  parents had, refused for new parents that trading day;
* from the upstream session's store, every NewOrderSingle the gateway sent the venue: the
  children (ClOrdID ``<parent OrderID>.<n>``, see :func:`gateway.routers.parent_of`) of
  each parent (:func:`stored_children`). Those of a parent lost open may still work at the
  venue; the gateway cancels each once the upstream link is up (ClOrdID ``<child>~r``,
  :data:`RESTART_CANCEL`), and a "too late" or "unknown order" answer for a child already
  done is expected.

A restart-cancel already in the upstream store (an earlier restart that sent it) is not
sent again. The store holds what was sent since the upstream session's last sequence reset
(``reset_on_logon: false`` in sessions/algo.yaml makes that rare): children sent before one
are not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.codec import scan_fields
from gateway.routers import parent_of
from gateway.store import StoredMessage

__all__ = ["RESTART_CANCEL", "RESTART_TEXT", "StoredChild", "restart_cancel_id",
           "stored_children"]

RESTART_TEXT = ("algo gateway restarted: the parent was lost and is canceled; its children "
                "still working are canceled at the venue")
RESTART_CANCEL = "~r"  # suffix of a restart-cancel's ClOrdID (a runner's cancels end in ~c)

_NOS = b"\x0135=D\x01"
_CANCEL = b"\x0135=F\x01"


@dataclass(frozen=True, slots=True)
class StoredChild:
    """A child order as the NewOrderSingle the upstream store kept: enough to cancel it."""

    child_id: str  # its ClOrdID (11)
    parent_id: str  # its parent's OrderID (the desk's runner id)
    symbol: str
    side: str  # Side (54) as sent


def restart_cancel_id(child_id: str) -> str:
    """The ClOrdID of the restart-cancel of ``child_id``."""
    return child_id + RESTART_CANCEL


def stored_children(stored: Iterable[StoredMessage]) -> list[StoredChild]:
    """The children sent in the upstream session's stored messages (oldest first) whose
    restart-cancel is not among them."""
    children: dict[str, StoredChild] = {}
    canceled: set[str] = set()
    for message in stored:
        raw = message.raw
        if _NOS in raw:
            f = scan_fields(raw)
            cl = f.get(11, "")
            if cl and "." in cl:
                children[cl] = StoredChild(cl, parent_of(cl), f.get(55, ""), f.get(54, ""))
        elif _CANCEL in raw:
            cl = scan_fields(raw).get(11, "")
            if cl.endswith(RESTART_CANCEL):
                canceled.add(cl.removesuffix(RESTART_CANCEL))
    return [c for c in children.values() if c.child_id not in canceled]
