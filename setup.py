"""Build hook: cffi_modules has no pyproject.toml spelling, so it lives here."""

from setuptools import setup

setup(cffi_modules=["engine/_build.py:ffibuilder"])
