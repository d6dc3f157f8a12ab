"""The ``algos:`` section of a gateway YAML: which strategies the desk offers and how.

::

    algos:
      strategies:              # TargetStrategy (847) code -> strategy (the code must be
                               # a value of 847 in the session's dictionary)
        "1001": twap
        "1": vwap
        "1002": algos.example_strategy:PassivePov   # any package.module:Class
      default_window: 300      # seconds, when a parent has no ExpireTime (126)
      vwap_profile: profiles/aapl.csv   # VWAP's volume profile (default: the shipped one)
      router: venue            # children to the in-process venue, or to the upstream
                               # initiator session with this TargetCompID

Without the section a venue offers TWAP (1001) and VWAP (1) on its own books.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from algos.registry import StrategyFactory, StrategyLoadError, load_strategy
from algos.volume_profile import VolumeProfile
from gateway.yamlcheck import Node

__all__ = ["AlgoConfig", "parse_algos"]

DEFAULT_STRATEGIES = {"1001": "twap", "1": "vwap"}


@dataclass(frozen=True, slots=True)
class AlgoConfig:
    strategies: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STRATEGIES))
    default_window: float = 300.0
    vwap_profile: Path | None = None
    router: str = "venue"

    def factories(self) -> dict[str, StrategyFactory]:
        """The strategy factory of each 847 code (loads user classes and the profile)."""
        profile = VolumeProfile.load(self.vwap_profile) if self.vwap_profile else None
        return {code: load_strategy(spec, profile=profile)
                for code, spec in self.strategies.items()}


def parse_algos(node: Node | None, base: Path) -> AlgoConfig:
    """Validate an ``algos:`` section (None: the defaults) and load its strategies, so a
    bad dotted path fails at startup with the file and line."""
    if node is None:
        return AlgoConfig()
    m = node.mapping({"strategies", "default_window", "vwap_profile", "router"})
    strategies = dict(DEFAULT_STRATEGIES)
    if "strategies" in m:
        given = m["strategies"].free_mapping("TargetStrategy code: strategy")
        if not given:
            raise m["strategies"].error("expected a mapping of TargetStrategy code: strategy")
        strategies = {code: child.string() for code, child in given.items()}
    profile = None
    if "vwap_profile" in m:
        profile = m["vwap_profile"].existing_file(base)
    config = AlgoConfig(
        strategies=strategies,
        default_window=m["default_window"].number(1, 86400) if "default_window" in m
        else 300.0,
        vwap_profile=profile,
        router=m["router"].name() if "router" in m else "venue")
    try:
        config.factories()
    except (StrategyLoadError, ValueError, OSError) as exc:
        raise (m.get("strategies") or m.get("vwap_profile") or node).error(str(exc)) from None
    return config
