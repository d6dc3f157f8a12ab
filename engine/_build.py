"""cffi build script for the C core (out-of-line API mode).

Every ``csrc/*.c`` file is compiled into one extension, ``engine._core``. The Python-visible
declarations are the parts of ``csrc/*.h`` between ``/* cffi:begin */`` and ``/* cffi:end */``
markers, so adding a C module never means editing this file. Warnings are errors.

``pip install`` runs this through ``setup.py``'s ``cffi_modules``. After editing C, rebuild in
place with ``pip install -e . --no-build-isolation --no-deps -q``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
_CDEF = re.compile(r"/\* cffi:begin \*/(.*?)/\* cffi:end \*/", re.S)

CFLAGS = [
    "-std=c11",
    "-O3",
    "-Wall",
    "-Wextra",
    "-Werror",
    # cffi's generated glue has unused parameters; ours are checked by the C tests.
    "-Wno-unused-parameter",
    "-fno-strict-aliasing",
]


def _headers() -> list[Path]:
    headers = sorted(CSRC.glob("*.h"))
    if not headers:  # (an sdist made without MANIFEST.in): say so, not a compiler error
        raise RuntimeError(f"no C headers in {CSRC}: the source tree is incomplete")
    return headers


def cdef_text() -> str:
    """The declarations cffi exposes: every marked section of every header, in name order."""
    parts: list[str] = []
    for header in _headers():
        parts.extend(m.group(1) for m in _CDEF.finditer(header.read_text()))
    return "\n".join(parts)


ffibuilder = FFI()
ffibuilder.cdef(cdef_text())
ffibuilder.set_source(
    "engine._core",
    "\n".join(f'#include "{h.name}"' for h in _headers()),
    # setuptools wants source paths relative to the project root.
    sources=[os.path.relpath(p, ROOT) for p in sorted(CSRC.glob("*.c"))],
    include_dirs=[os.path.relpath(CSRC, ROOT)],
    # a header change rebuilds too (setuptools compares the sources' times only)
    depends=[os.path.relpath(h, ROOT) for h in _headers()],
    extra_compile_args=CFLAGS,
)
