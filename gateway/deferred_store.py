"""A message store whose inbound sequence number is written through only on :meth:`commit`.

The session advances the expected inbound number (:meth:`MessageStore.set_next_target_seq`)
as it processes each message of a batch, but the application sees those messages only once
the session call has returned, when the transport hands it the events. Persisting the number
at once would let a crash in between lose messages that the application never saw: after a
restart the session would expect the number after them, and the peer would never resend them.

:class:`DeferredTargetStore` keeps the advanced number in memory (the session reads it back as
usual) and the transport calls :meth:`commit` after the application has handled the output of
a batch. A crash before the commit makes the session ask for those messages again; they come
back as PossDup and may be processed a second time: at-least-once, as in QuickFIX, and as the
store's durability contract says. Committing once a batch also writes one record a batch
instead of one a message. Everything else goes straight to the wrapped store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from gateway.store import MessageStore, StoredMessage


class DeferredTargetStore(MessageStore):
    """Wraps ``inner``; only the next inbound number waits for :meth:`commit`."""

    def __init__(self, inner: MessageStore) -> None:
        self.inner = inner
        self._pending: int | None = None

    @property
    def next_sender_seq(self) -> int:
        return self.inner.next_sender_seq

    @property
    def next_target_seq(self) -> int:
        pending = self._pending  # read once: a metrics scrape reads this from its own thread
        return self.inner.next_target_seq if pending is None else pending

    @property
    def creation_time(self) -> datetime:
        return self.inner.creation_time

    def save_sent(self, seq: int, raw: bytes) -> None:
        self.inner.save_sent(seq, raw)

    def set_next_sender_seq(self, seq: int) -> None:
        self.inner.set_next_sender_seq(seq)

    def set_next_target_seq(self, seq: int) -> None:
        self._check_seq(seq)
        self._pending = seq

    def commit(self) -> None:
        """Persist the inbound number: every message before it has been handled."""
        if self._pending is not None:
            if self._pending != self.inner.next_target_seq:
                self.inner.set_next_target_seq(self._pending)
            self._pending = None

    def sent(self, begin: int, end: int) -> Iterator[StoredMessage]:
        return self.inner.sent(begin, end)

    def reset(self, now: datetime, carry: Sequence[bytes] = ()) -> None:
        self._pending = None
        self.inner.reset(now, carry)

    def carried(self) -> list[bytes]:
        return self.inner.carried()

    def next_sync(self) -> float | None:
        return self.inner.next_sync()

    def sync_if_due(self) -> bool:
        return self.inner.sync_if_due()

    def close(self) -> None:
        """Close the wrapped store; an uncommitted number is dropped (it is re-requested)."""
        self._pending = None
        self.inner.close()
