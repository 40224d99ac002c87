"""Only here to hand the cffi build of the C core to setuptools; metadata is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["engine/_build.py:ffibuilder"])
