"""Execution algorithms (TWAP, VWAP), the online-learning overlay, and risk limits.

Sans-IO throughout: time comes in as an argument, orders go out through a router protocol.

* :mod:`algos.strategy`: the public interface a strategy implements (snapshots, executions,
  timers -> actions) and the value types it sees.
* :mod:`algos.runner`: :class:`~algos.runner.AlgoRunner`, one per parent order: checks,
  clips, routes and audits every child; parent cancel, replace and expiry; parent events.
* :mod:`algos.slicing`, :mod:`algos.twap`, :mod:`algos.vwap`: the builtin strategies.
* :mod:`algos.volume_profile`: intraday volume profiles for VWAP (LOBSTER, FIX logs).
* :mod:`algos.overlay`: the river model that makes slices cross earlier (``UseModel=Y``).
* :mod:`algos.risk`: per-session risk limits from YAML and the gate that applies them.
* :mod:`algos.registry`: strategies by name or ``package.module:Class``;
  :mod:`algos.example_strategy` shows how to write one.
"""
