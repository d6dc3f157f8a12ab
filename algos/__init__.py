"""Execution algorithms (TWAP, VWAP), the online-learning overlay, and risk limits."""
