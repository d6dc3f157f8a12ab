"""Find a strategy by name: the builtins (``twap``, ``vwap``) or a user's class by dotted path.

A session's YAML says ``strategy: twap`` or ``strategy: mypackage.module:MyStrategy``;
:func:`load_strategy` turns that into a :data:`StrategyFactory`, the callable the runner
uses to build a strategy for each parent order (``factory(parent, ctx)``). A user class is
imported once, when the configuration is loaded, and checked to look like a
:class:`algos.strategy.Strategy` (the four methods, a constructor taking ``(parent, ctx)``),
so a typo fails at startup with :class:`StrategyLoadError` naming the spec, not at the first
order. ``algos/example_strategy.py`` shows how to write one.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from functools import partial

from algos.overlay import FillOverlay
from algos.slicing import SlicedStrategy
from algos.strategy import AlgoContext, ParentOrder, Strategy
from algos.twap import Twap
from algos.volume_profile import VolumeProfile
from algos.vwap import Vwap

__all__ = ["BUILTINS", "StrategyFactory", "StrategyLoadError", "check_parameters",
           "load_strategy"]

#: What the runner calls to build the strategy of one parent order.
StrategyFactory = Callable[[ParentOrder, AlgoContext], Strategy]

_BUILTIN_CLASSES: dict[str, type[SlicedStrategy]] = {"twap": Twap, "vwap": Vwap}
BUILTINS = tuple(_BUILTIN_CLASSES)
_METHODS = ("on_market_snapshot", "on_execution", "on_timer", "next_wakeup")


class StrategyLoadError(ValueError):
    """A strategy spec names nothing loadable or something that is not a strategy."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"strategy {spec!r}: {reason}")
        self.spec = spec
        self.reason = reason


def load_strategy(spec: str, *, model: FillOverlay | None = None,
                  profile: VolumeProfile | None = None) -> StrategyFactory:
    """The factory for ``spec``: ``twap``, ``vwap`` or ``package.module:ClassName``.

    ``model`` is the overlay the builtin's parents use when they say ``UseModel=Y``; if
    None, the factory makes one, shared by every parent it builds, so the model learns
    across orders (pass the same overlay to several factories to share it wider). The model
    is only called for ``UseModel=Y`` parents. ``profile`` is VWAP's volume profile (the
    shipped default if None). Both are ignored for a user class, which builds what it needs
    itself. Raises :class:`StrategyLoadError`.
    """
    name = spec.strip()
    if name.lower() == "twap":
        return partial(Twap, model=model or FillOverlay())
    if name.lower() == "vwap":
        return partial(Vwap, model=model or FillOverlay(), profile=profile)
    module_name, sep, attr = name.partition(":")
    if not sep or not module_name or not attr:
        raise StrategyLoadError(
            spec, f"expected one of {', '.join(BUILTINS)} or 'package.module:ClassName'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or anything the module raises while importing
        raise StrategyLoadError(
            spec, f"cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    target: object = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise StrategyLoadError(spec, f"{module_name} has no attribute {attr}") from None
    return _checked(spec, target)


def check_parameters(spec: str, params: Mapping[str, str]) -> None:
    """Check ``params`` as the builtin ``spec`` will when its parent arrives, so a config can
    refuse them at its own line; raises :class:`algos.slicing.StrategyParameterError`. A user
    class checks its own parameters when it is built: nothing is checked for it here."""
    cls = _BUILTIN_CLASSES.get(spec.strip().lower())
    if cls is not None:
        cls.check_params(params)


def _checked(spec: str, target: object) -> StrategyFactory:
    if not callable(target):
        raise StrategyLoadError(spec, f"{type(target).__name__} object is not callable")
    if inspect.isclass(target):
        missing = [m for m in _METHODS if not callable(getattr(target, m, None))]
        if missing:
            raise StrategyLoadError(
                spec, f"{target.__name__} does not look like a strategy: it lacks "
                      f"{', '.join(missing)} (see algos.strategy.Strategy)")
    try:
        inspect.signature(target).bind(None, None)
    except TypeError:
        raise StrategyLoadError(
            spec, "its constructor must accept (parent, ctx)") from None
    except ValueError:
        pass  # no signature to inspect (a builtin callable): trust it
    factory: StrategyFactory = target
    return factory
