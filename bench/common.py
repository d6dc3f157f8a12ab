"""Helpers every benchmark script shares (each script runs standalone from bench/)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """uname, CPU model, CPU count and Python version, for the header of every report."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    u = platform.uname()
    return (f"{u.system} {u.release} {u.machine}; {cpu}; {os.cpu_count()} CPUs; "
            f"Python {platform.python_version()}")
