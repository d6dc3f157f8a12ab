"""The risk gates of an application's sessions, built from the YAML's ``risk:`` section.

One :class:`algos.risk.RiskGate` per client CompID, made on first use from its limits: the
sessions of one CompID (a FIX 4.2 and a FIX 4.4 one, say) share its gate, so its open
orders, day's loss and throttle count across them (each had the limits to itself: twice
the client's); breaches go to the audit log stamped with the time of the call
being handled (:meth:`RiskGates.at`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from algos.risk import RiskConfig, RiskGate, parse_risk
from gateway.application import SessionHandle
from gateway.audit import AuditLog
from gateway.config import GatewayConfig
from gateway.schedule import Schedule
from gateway.venue_restart import StoredFill, trading_day

__all__ = ["RiskGates"]


def client_comp_ids(config: GatewayConfig) -> frozenset[str]:
    """The CompIDs ``risk: sessions:`` may name: each configured session's peer."""
    return frozenset(s.target_comp_id for s in config.sessions)


class RiskGates:
    def __init__(self, config: GatewayConfig, sessions: dict[str, SessionHandle],
                 mids: Callable[[str], Decimal | None] | None = None) -> None:
        node = config.extra.get("risk")
        self.config = (parse_risk(node, client_comp_ids(config)) if node is not None
                       else RiskConfig())
        self.sessions = sessions  # the application's own map: sessions may be added later
        self.mids = mids  # the current mid of a symbol, where the application knows it
        self.audit: AuditLog | None = None
        self._gates: dict[str, RiskGate] = {}  # by session name (each its CompID's gate)
        self._by_comp_id: dict[str, RiskGate] = {}
        counts = Counter(s.target_comp_id for s in config.sessions)
        #: CompIDs with several sessions: their gate's audit records name the CompID
        self._shared = frozenset(c for c, n in counts.items() if n > 1)
        #: per session, the fills its store held at start-up (SessionOrders.bind), until
        #: its first logon gives the time that says which are the day's (restore_day)
        self.restored: dict[str, list[StoredFill]] = {}
        self._now: datetime | None = None

    def at(self, now: datetime) -> None:
        """The time of the call being handled (what audit records of breaches carry)."""
        self._now = now

    def __call__(self, session: str) -> RiskGate | None:
        """The gate of ``session`` (its client CompID's); None for a name that is not one of
        our sessions."""
        gate = self._gates.get(session)
        if gate is None:
            handle = self.sessions.get(session)
            if handle is None:
                return None
            comp_id = handle.config.target_comp_id
            gate = self._by_comp_id.get(comp_id)
            if gate is None:
                gate = self._by_comp_id[comp_id] = RiskGate(
                    self.config.for_session(comp_id),
                    session=comp_id if comp_id in self._shared else session,
                    audit=self._audit, mids=self.mids)
            self._gates[session] = gate
        return gate

    def restore_day(self, session: str, schedule: Schedule | None, now: datetime) -> None:
        """At ``session``'s first logon since start-up: the fills its store held then
        (:attr:`restored`) of the current trading day go into its gate, so a restart does
        not start max_daily_loss over (fills before a sequence reset that day are there as
        the sums the reset carried over: venue_restart.DayFills)."""
        fills = self.restored.pop(session, None)
        gate = self(session) if fills else None
        if gate is None or fills is None:
            return
        today = trading_day(schedule, now)
        for fill in fills:
            if fill.time is not None and trading_day(schedule, fill.time) == today:
                gate.on_fill(fill.symbol, fill.side, fill.qty, fill.price)
                if fill.mark is not None:  # (a sum at its average: marked at its last fill)
                    gate.on_mid(fill.symbol, fill.mark)

    def kill(self, sessions: Iterable[str], reason: str) -> None:
        """Throw the kill switch of the gates of ``sessions``: each CompID's once (audited
        once)."""
        gates = {id(gate): gate for name in sessions if (gate := self(name)) is not None}
        for gate in gates.values():
            gate.kill(reason)

    def existing(self, session: str) -> RiskGate | None:
        """The gate of ``session`` if one was made, for it or another session of its
        CompID (no new one for bookkeeping)."""
        gate = self._gates.get(session)
        if gate is None:
            handle = self.sessions.get(session)
            if handle is not None:
                gate = self._by_comp_id.get(handle.config.target_comp_id)
        return gate

    def _audit(self, event: str, /, **fields: Any) -> None:
        if self.audit is not None and self._now is not None:
            session = str(fields.pop("session", ""))
            reason = str(fields.pop("reason", event))
            self.audit.risk(self._now, session, reason, event=event, **fields)
