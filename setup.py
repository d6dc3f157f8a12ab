"""Build hook: cffi_modules has no pyproject.toml spelling, so it lives here."""

from setuptools import setup

# The extension uses the stable ABI (engine/_core.abi3.so): tag the wheel so, and one wheel
# serves every CPython from 3.11 on.
setup(cffi_modules=["engine/_build.py:ffibuilder"],
      options={"bdist_wheel": {"py_limited_api": "cp311"}})
