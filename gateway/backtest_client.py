"""The backtest's FIX clients: send each parent order at its start, follow its reports.

One :class:`BacktestClient` serves every client session of a run (initiators towards the
venue's acceptor, over :class:`gateway.backtest_link.MemoryWire`). Each order goes out as a
NewOrderSingle with TargetStrategy (847), EffectiveTime (168) = its start and ExpireTime
(126) = its end, when the virtual clock reaches the start; its ExecutionReports update its
:class:`~gateway.backtest_records.ParentRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.application import SessionHandle
from gateway.backtest_records import ParentRecord
from gateway.client_app import parent_message
from gateway.client_order import ClientOrder
from gateway.config import SessionConfig
from gateway.fixmessage import Message
from gateway.venue_orders import FINAL_STATUSES

__all__ = ["BacktestClient", "PlannedParent"]

_WORDS = {"0": "new", "1": "partial", "2": "filled", "4": "canceled", "8": "rejected",
          "C": "expired", "3": "done for day", "A": "pending new", "6": "pending cancel",
          "5": "replaced", "E": "pending replace"}


@dataclass(frozen=True, slots=True)
class PlannedParent:
    """A parent order to send: ``order`` on ``session`` (its SenderCompID) at
    ``record.start``, as ClOrdID ``record.parent_id``, ending at ``record.end``."""

    session: str
    record: ParentRecord
    order: ClientOrder


class BacktestClient:
    def __init__(self, planned: list[PlannedParent]) -> None:
        self._pending = sorted(planned, key=lambda p: p.record.start)
        self.parents: dict[str, ParentRecord] = {p.record.parent_id: p.record for p in planned}
        self.sessions: dict[str, SessionHandle] = {}

    def all_done(self) -> bool:
        if self._pending:
            return False
        for p in self.parents.values():  # noqa: SIM110  # no generator: asked every step
            if p.done is None:
                return False
        return True

    def problems(self) -> list[str]:
        """What went wrong with parents, for the user: rejected, or never answered (a
        session-level Reject, for one, reaches only the FIX log)."""
        out = [f"parent {p.record.parent_id} was never sent: session {p.session} did not "
               "log on (see the run's client/log)" for p in self._pending]
        waiting = {p.record.parent_id for p in self._pending}
        for p in self.parents.values():
            if p.parent_id in waiting:
                continue
            if p.status == "rejected":
                out.append(f"parent {p.parent_id} rejected: {p.text}")
            elif p.status == "sent":
                out.append(f"parent {p.parent_id} got no ExecutionReport (a session Reject? "
                           "see the run's client/log)")
        return out

    # -- Application --------------------------------------------------------------------------

    def app_types(self, config: SessionConfig) -> frozenset[str] | None:
        return frozenset({"8", "9", "j"})

    def on_logon(self, session: SessionHandle, now: datetime) -> None:
        self.sessions[session.config.sender_comp_id] = session

    def on_logout(self, session: SessionHandle, now: datetime) -> None:
        self.sessions.pop(session.config.sender_comp_id, None)

    def on_message(self, session: SessionHandle, message: Message, now: datetime) -> None:
        body = message.body
        if message.msg_type == "j":  # BusinessMessageReject: BusinessRejectRefID is ClOrdID
            refused = self.parents.get(body.get_str(379) or "")
            if refused is not None and refused.done is None:
                refused.status = "rejected"
                refused.text = body.get_str(58) or "business message reject"
                refused.done = now
            return
        if message.msg_type != "8":
            return
        parent = self.parents.get(body.get_str(11) or "") or self.parents.get(
            body.get_str(41) or "")
        if parent is None:
            return
        status = body.get_str(39) or ""
        parent.status = _WORDS.get(status, status)
        parent.filled = body.get_int(14) or 0
        avg = body.get_decimal(6)
        parent.avg_px = avg if parent.filled and avg is not None else None
        parent.text = body.get_str(58) or parent.text
        if status in FINAL_STATUSES and parent.done is None:
            parent.done = now

    # -- TimedApplication ---------------------------------------------------------------------

    def next_deadline(self) -> datetime | None:
        """The next start of a parent whose session is logged on (one whose session is not
        waits for the logon; if that never comes, the parent is reported unanswered)."""
        # no list: a backtest asks on every step, and nothing is pending for most of them
        earliest: datetime | None = None
        for p in self._pending:
            start = p.record.start
            if p.session in self.sessions and (earliest is None or start < earliest):
                earliest = start
        return earliest

    def on_timer(self, now: datetime) -> None:
        for p in [p for p in self._pending if p.record.start <= now]:
            session = self.sessions.get(p.session)
            if session is not None:
                self._pending.remove(p)
                r = p.record
                session.send(parent_message(r.parent_id, p.order, now, r.start, r.end))
