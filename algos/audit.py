"""The audit hook of the algo layer: one call per decision, with plain JSON-ready fields.

The runner and the risk gate call ``audit(event, **fields)`` for every child sent, clipped,
refused or cancelled, every parent-level change and every risk rejection. Field values are
str, int, float, bool or None (prices as decimal strings, times as ISO 8601), so the edge
that owns the audit log (DESIGN: logs live at the edges) can write them as JSON unchanged.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["AuditSink", "AuditValue", "null_audit"]

AuditValue = str | int | float | bool | None


class AuditSink(Protocol):
    """Receives one audit record: ``event`` names what happened, ``fields`` say the rest."""

    def __call__(self, event: str, /, **fields: AuditValue) -> None: ...


def null_audit(event: str, /, **fields: AuditValue) -> None:
    """An :class:`AuditSink` that drops everything (the default when none is given)."""
