"""The online-learning overlay (``UseModel=Y``): when to stop waiting for a passive fill.

A sliced strategy (TWAP, VWAP) posts each slice at the near touch and crosses the spread at
half the slice if the child has not filled. The overlay predicts, when the passive child is
posted, the probability ``p`` that it fills before that point, from four features of the
moment (:func:`fill_features`): spread in ticks, top-of-book imbalance signed for our side,
fraction of the window left and fraction of the parent left. When ``p`` is low the strategy
crosses earlier; :meth:`FillOverlay.aggressive_fraction` maps ``p`` to the point in the slice,
bounded to ``[min_fraction, 0.5]``, so the model can only make a slice more aggressive, never
later, never more than the bound, and never sends or sizes an order itself (DESIGN rule 10).

The model follows river's contract (``predict_proba_one``, ``learn_one``) and is used
prequentially: the strategy predicts when it posts, and learns the outcome later (filled
before the crossing point or not), so every prediction is made before its label is known.
Until ``warmup`` outcomes have been learned the overlay keeps the default point (0.5) while
still predicting and scoring, so an untrained model changes nothing.

The outcome is observed only up to the crossing point actually used, which the model itself
moved earlier: a low prediction shortens the window and makes "not filled" likelier. The
bound on the fraction limits that feedback; a desk that wants unbiased labels can set
``min_fraction=0.5`` to observe without acting.

One overlay is meant to be shared by the strategies of a symbol (or of a desk), so it learns
across parent orders; the caller owns it and decides when to reset it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from algos.strategy import MarketSnapshot, Side

__all__ = [
    "DEFAULT_FRACTION",
    "FEATURES",
    "FillOverlay",
    "ProbabilisticClassifier",
    "default_classifier",
    "fill_features",
]

#: The crossing point of a slice without the model (or before it has warmed up).
DEFAULT_FRACTION = 0.5
#: The feature names, in the order :func:`fill_features` builds them.
FEATURES = ("spread_ticks", "imbalance", "time_left", "remaining")


class ProbabilisticClassifier(Protocol):
    """river's binary classifier contract, as far as the overlay uses it."""

    def learn_one(self, x: dict[str, float], y: bool) -> None: ...

    def predict_proba_one(self, x: dict[str, float]) -> Mapping[Any, float]: ...


def default_classifier() -> ProbabilisticClassifier:
    """Standardised features into a logistic regression (river), small fixed learning rate."""
    # river (and the scipy it loads) costs most of a second to import: only a parent that
    # asks for the model (UseModel=Y) pays for it, not every start of the gateway
    from river import linear_model, optim, preprocessing

    scaler = preprocessing.StandardScaler()
    model: ProbabilisticClassifier = scaler | linear_model.LogisticRegression(
        optimizer=optim.SGD(0.05))
    return model


def fill_features(
    snapshot: MarketSnapshot,
    side: Side,
    tick_size: Decimal,
    time_left: float,
    remaining: float,
) -> dict[str, float]:
    """The overlay's features for a passive child posted now (``snapshot`` has both sides).

    ``imbalance`` is (our side's quantity - the other side's) / (sum), in [-1, 1]: a heavy
    queue on our side means more ahead of us and a price likelier to move away. ``time_left``
    and ``remaining`` are fractions of the window and of the parent quantity, in [0, 1].
    """
    if snapshot.bid is None or snapshot.ask is None:
        raise ValueError("fill_features needs a snapshot with a bid and an ask")
    spread = float((snapshot.ask - snapshot.bid) / tick_size)
    ours, theirs = ((snapshot.bid_qty, snapshot.ask_qty) if side == Side.BUY
                    else (snapshot.ask_qty, snapshot.bid_qty))
    total = ours + theirs
    imbalance = (ours - theirs) / total if total > 0 else 0.0
    return {
        "spread_ticks": spread,
        "imbalance": imbalance,
        "time_left": min(1.0, max(0.0, time_left)),
        "remaining": min(1.0, max(0.0, remaining)),
    }


class FillOverlay:
    """Predicts passive fills and turns the prediction into a bounded crossing point.

    ``model`` is any river-style probabilistic classifier (default
    :func:`default_classifier`); the overlay asks it for ``P(True)`` = filled.
    ``min_fraction`` is the earliest crossing point (fraction of a slice) the overlay may
    choose; ``threshold`` the probability at or above which it keeps the default point;
    below it the point moves linearly towards ``min_fraction`` as ``p`` falls to 0.
    """

    def __init__(
        self,
        model: ProbabilisticClassifier | None = None,
        *,
        min_fraction: float = 0.2,
        threshold: float = 0.5,
        warmup: int = 50,
    ) -> None:
        if not 0.0 < min_fraction <= DEFAULT_FRACTION:
            raise ValueError(f"min_fraction must be in (0, {DEFAULT_FRACTION}], got {min_fraction}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        self.model = model if model is not None else default_classifier()
        self.min_fraction = min_fraction
        self.threshold = threshold
        self.warmup = warmup
        self.predictions = 0  #: predictions made
        self.learned = 0  #: outcomes learned
        self._log_loss_sum = 0.0
        self._scored = 0

    def predict(self, x: dict[str, float]) -> float:
        """P(the passive child fills before its crossing point), clamped to [0, 1]."""
        self.predictions += 1
        proba = self.model.predict_proba_one(x)
        p = float(proba.get(True, 0.5)) if proba else 0.5
        return min(1.0, max(0.0, p))

    def learn(self, x: dict[str, float], filled: bool, predicted: float | None = None) -> None:
        """Learn one outcome; ``predicted`` (what :meth:`predict` said for ``x`` earlier)
        also scores the model prequentially (:attr:`log_loss`)."""
        if predicted is not None:
            p = min(1.0 - 1e-12, max(1e-12, predicted))
            self._log_loss_sum += -math.log(p if filled else 1.0 - p)
            self._scored += 1
        self.model.learn_one(x, filled)
        self.learned += 1

    @property
    def log_loss(self) -> float | None:
        """Mean prequential log loss of the scored predictions (None before any)."""
        return self._log_loss_sum / self._scored if self._scored else None

    @property
    def warmed_up(self) -> bool:
        return self.learned >= self.warmup

    def aggressive_fraction(self, p: float) -> float:
        """Where in the slice to cross, given fill probability ``p``: in [min_fraction, 0.5]."""
        if not self.warmed_up or p >= self.threshold:
            return DEFAULT_FRACTION
        share = max(0.0, p) / self.threshold
        return self.min_fraction + (DEFAULT_FRACTION - self.min_fraction) * share
