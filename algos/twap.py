"""TWAP: equal slices of the parent over its window.

The schedule engine (passive at the near touch, crossing at half the slice, carry-forward,
catch-up before the end, lots, MaxChildQty, participation cap, model overlay) is
:class:`algos.slicing.SlicedStrategy`; TWAP only says that slice ``i`` of ``N`` is due to
have ``(i + 1) / N`` of the quantity done, so each slice is equal up to lot rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from algos.slicing import SlicedStrategy

__all__ = ["Twap"]


class Twap(SlicedStrategy):
    """Time-weighted average price: ``Twap(parent, ctx, model=None)``.

    Parameters: ``Slices``, ``MaxChildQty``, ``UseModel`` (see :mod:`algos.slicing`).
    """

    name = "TWAP"

    def schedule(self) -> Sequence[Fraction]:
        n = self.slices
        return [Fraction(i + 1, n) for i in range(n)]
