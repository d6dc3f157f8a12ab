"""Synthetic LOBSTER days: a true book driven by random order flow, written as LOBSTER writes.

The generator keeps the whole book, but like LOBSTER it writes a message only for events
inside the top ``levels`` levels at that moment, and after each message the top ``levels``
levels as an orderbook row. Events deeper in the book happen but are not written, so levels
come into view from below exactly as in real level-N files. Hidden executions (5), crosses
(6) and halts (7) are mixed in. Used to test the replay on days we have no files for.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999
TICK = 100  # one cent in LOBSTER's price units


@dataclass
class SynthDay:
    levels: int
    seed: int
    decimals: int = 9
    messages: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)

    def write(self, folder: Path, stem: str, newline: str = "\n") -> tuple[Path, Path]:
        msg = folder / f"{stem}_message_{self.levels}.csv"
        ob = folder / f"{stem}_orderbook_{self.levels}.csv"
        msg.write_text(newline.join(self.messages) + newline)
        ob.write_text(newline.join(self.rows) + newline)
        return msg, ob


def generate(n_events: int, levels: int, seed: int, decimals: int = 9) -> SynthDay:
    """A day of ``n_events`` book events (only those in view are written)."""
    rng = random.Random(seed)
    day = SynthDay(levels, seed, decimals)
    books: dict[int, dict[int, deque[list[int]]]] = {1: {}, -1: {}}  # direction -> price -> FIFO
    where: dict[int, tuple[int, int]] = {}
    next_id = 1000
    t = 34_200 * 10**9
    mid = 10_000_000

    def sorted_prices(d: int) -> list[int]:
        return sorted(books[d], reverse=(d == 1))

    def in_view(d: int, price: int) -> bool:
        return price in sorted_prices(d)[:levels]

    def total(d: int, price: int) -> int:
        return sum(o[1] for o in books[d][price])

    def emit(kind: int, oid: int, size: int, price: int, d: int) -> None:
        secs, ns = divmod(t, 10**9)
        frac = f"{ns:09d}"[:decimals]
        stamp = f"{secs}.{frac}" if decimals else str(secs)
        day.messages.append(f"{stamp},{kind},{oid},{size},{price},{d}")
        cells: list[int] = []
        asks, bids = sorted_prices(-1), sorted_prices(1)
        for lv in range(levels):
            cells += [asks[lv], total(-1, asks[lv])] if lv < len(asks) else [EMPTY_ASK, 0]
            cells += [bids[lv], total(1, bids[lv])] if lv < len(bids) else [EMPTY_BID, 0]
        day.rows.append(",".join(map(str, cells)))

    def remove(oid: int) -> None:
        d, price = where.pop(oid)
        queue = books[d][price]
        for i, o in enumerate(queue):
            if o[0] == oid:
                del queue[i]
                break
        if not queue:
            del books[d][price]

    # A starting book, deeper than the file shows, none of it written.
    for d in (1, -1):
        for k in range(levels * 3):
            price = mid - d * TICK * (k + 1)
            for _ in range(rng.randint(1, 3)):
                next_id += 1
                books[d].setdefault(price, deque()).append([next_id, rng.randint(1, 500)])
                where[next_id] = (d, price)

    while len(day.messages) < n_events:
        t += rng.randint(1, 5_000_000)
        d = rng.choice((1, -1))
        roll = rng.random()
        best = sorted_prices(d)
        if roll < 0.45 or len(best) < 2:
            opposite = sorted_prices(-d)
            edge = opposite[0] if opposite else mid
            # passive only: priced at least one tick away from the opposite best, never crossing
            price = edge - d * TICK * rng.randint(1, levels * 3)
            next_id += 1
            size = rng.randint(1, 400)
            books[d].setdefault(price, deque()).append([next_id, size])
            where[next_id] = (d, price)
            if in_view(d, price):
                emit(1, next_id, size, price, d)
        elif roll < 0.85:
            oid = rng.choice([o for o, (dd, _) in where.items() if dd == d])
            price = where[oid][1]
            order = next(o for o in books[d][price] if o[0] == oid)
            visible = in_view(d, price)
            if rng.random() < 0.5 and order[1] > 1:
                cut = rng.randint(1, order[1] - 1)
                order[1] -= cut
                if visible:
                    emit(2, oid, cut, price, d)
            else:
                size = order[1]
                remove(oid)
                if visible:
                    emit(3, oid, size, price, d)
        elif roll < 0.95:
            price = best[0]
            order = books[d][price][0]
            size = rng.randint(1, order[1])
            order[1] -= size
            oid = order[0]
            if order[1] == 0:
                remove(oid)
            emit(4, oid, size, price, d)
        elif roll < 0.98:
            emit(5, 0, rng.randint(1, 300), best[0], d)
        elif roll < 0.99:
            emit(6, -1, rng.randint(1, 300), best[0], d)
        else:
            emit(7, 0, 0, -1, -1)
    return day
