"""VWAP: slices sized by the intraday volume profile, under the participation cap.

The cumulative target at the end of slice ``i`` is the parent's quantity times the share of
the window's expected volume that falls before that time:
``profile.between(start, t) / profile.between(start, end)``
(:class:`algos.volume_profile.VolumeProfile`, the shipped AAPL day by default). The rest of
the behaviour (passive then crossing, carry-forward, catch-up, lots, MaxChildQty, the model
overlay) is :class:`algos.slicing.SlicedStrategy`'s, and so is the participation cap: with
``ParentOrder.participation`` (FIX ParticipationRate 849) our fills stay within that share of
the volume traded since the start (ours included), and nothing is sent before some volume
has traded.

When the profile expects no volume at all inside the window (an order outside the hours it
learned, or an empty profile), the schedule falls back to equal slices (TWAP): with no
information about when volume comes, even pacing is the least surprising choice. The
fallback is visible as :attr:`Vwap.flat` and in every child's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from algos.overlay import FillOverlay
from algos.slicing import SlicedStrategy
from algos.strategy import AlgoContext, ParentOrder
from algos.volume_profile import VolumeProfile, default_profile

__all__ = ["Vwap"]


class Vwap(SlicedStrategy):
    """Volume-weighted average price: ``Vwap(parent, ctx, model=None, profile=None)``.

    Parameters: ``Slices``, ``MaxChildQty``, ``UseModel`` (see :mod:`algos.slicing`).
    """

    name = "VWAP"

    def __init__(self, parent: ParentOrder, ctx: AlgoContext, *,
                 model: FillOverlay | None = None, profile: VolumeProfile | None = None) -> None:
        self.profile = profile if profile is not None else default_profile()
        self.flat = False
        super().__init__(parent, ctx, model=model)
        if self.flat:
            self.name = "VWAP (flat: no profile volume in the window)"

    def schedule(self) -> Sequence[Fraction | float]:
        p = self.parent
        total = self.profile.between(self.start, p.end)
        n = self.slices
        if total <= 0:
            self.flat = True
            return [Fraction(i + 1, n) for i in range(n)]
        shares: list[Fraction | float] = [
            self.profile.between(self.start, self.slice_start(i + 1)) / total
            for i in range(n - 1)]
        shares.append(Fraction(1))
        return shares
