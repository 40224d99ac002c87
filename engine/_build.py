"""Build the C core into the private module ``engine._core`` with cffi (API mode).

``setup.py`` hands ``ffibuilder`` to setuptools (``cffi_modules``), so
``pip install -e .`` compiles the core; ``make core`` (``setup.py build_ext
--inplace``) rebuilds it after a change under ``csrc/``.

The cdef is read from the public header ``csrc/anvil.h`` (the region between the
``cdef-begin`` and ``cdef-end`` markers); every ``#define NAME value`` becomes
``#define NAME ...`` so the compiler, not this file, supplies the values.
"""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HEADER = CSRC / "anvil.h"
HEADERS = (HEADER, CSRC / "cross.h")  # public headers whose cdef regions make the cdef

_DEFINE = re.compile(r"^#define\s+(\w+)\s+.*$", re.MULTILINE)
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def cdef_from_header(text: str) -> str:
    """Return the cdef-ready part of the header text."""
    try:
        body = text.split("/* cdef-begin */", 1)[1].split("/* cdef-end */", 1)[0]
    except IndexError as exc:  # pragma: no cover - a broken header is a build error
        raise RuntimeError("a public header under csrc/ lacks the cdef-begin / cdef-end markers") from exc
    body = _COMMENT.sub("", body)
    return _DEFINE.sub(r"#define \1 ...", body)


def _sources() -> list[str]:
    # setuptools wants paths relative to setup.py, which sits in ROOT.
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.c"))


def _headers() -> list[str]:
    # Listed as the extension's dependencies: setuptools rebuilds only when a source
    # is newer than the library, so without them an edited header left the old core.
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.glob("*.h"))


ffibuilder = FFI()
ffibuilder.cdef("\n".join(cdef_from_header(h.read_text()) for h in HEADERS))
ffibuilder.set_source(
    "engine._core",
    "".join(f'#include "{h.name}"\n' for h in HEADERS),
    sources=_sources(),
    depends=_headers(),
    include_dirs=[str(CSRC.relative_to(ROOT))],
    extra_compile_args=["-std=c11", "-O3", "-Wall", "-Wextra"],
    libraries=["m"],
)
