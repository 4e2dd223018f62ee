"""Chainer 7.8.1 on NumPy 2: the three names NumPy 2 removed that Chainer still reads.

Imported by `chainer_port/__init__.py`, so any `import chainer_port...` comes first; a module
outside the package that imports `chainer` itself imports `chainer_port` before it (a test
checks every file). On NumPy 1.x nothing is touched; nothing else of
NumPy or Chainer is patched, and no Chainer source is copied.

- `numpy.sctypes`: `chainer/functions/array/as_strided.py` builds its index dtypes from
  `sctypes['int']` at import and checks `gy.dtype in sctypes['float']` in its backward.
- `numpy.float`: `chainer/functions/array/resize_images.py` passes `dtype=numpy.float` (the
  builtin `float`, i.e. float64, as the NumPy 1 alias was) for its sampling coordinates.
- `numpy.distutils.system_info`: `chainer/_environment_check.py` imports it at `import chainer`
  and calls `get_info('blas_opt')` on macOS only, to warn about Accelerate; NumPy 2 (and any
  NumPy on Python 3.12+) has no `numpy.distutils`, so the stand-in reports no BLAS info.

Not a name: the same `_environment_check.py` imports `pkg_resources`, which setuptools 81 (the
last to ship it) makes warn at every `import chainer`; that one warning is silenced here, since
the user can do nothing about it.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy

# NumPy 1.x's `numpy.sctypes`, from the scalar types NumPy 2 still has.
SCTYPES = {
    "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
    "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
    "float": [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
    "complex": [numpy.complex64, numpy.complex128, numpy.clongdouble],
    "others": [bool, object, bytes, str, numpy.void],
}


def _get_info(name: str, notfound_action: int = 0) -> dict:
    """`numpy.distutils.system_info.get_info`: no build information, as on a NumPy without it."""
    return {}


def _distutils_modules() -> dict[str, types.ModuleType]:
    distutils = types.ModuleType("numpy.distutils", "twinport stand-in (chainer_port.compat)")
    system_info = types.ModuleType("numpy.distutils.system_info",
                                   "twinport stand-in (chainer_port.compat)")
    system_info.get_info = _get_info
    distutils.system_info = system_info
    return {"numpy.distutils": distutils, "numpy.distutils.system_info": system_info}


def provided() -> list[str]:
    """The names this module added to NumPy in this process (empty on NumPy 1.x)."""
    return list(_PROVIDED)


def _install() -> list[str]:
    if numpy.lib.NumpyVersion(numpy.__version__) < "2.0.0":
        return []
    numpy.sctypes = SCTYPES
    numpy.float = float
    modules = _distutils_modules()
    sys.modules.update(modules)
    numpy.distutils = modules["numpy.distutils"]
    return ["numpy.sctypes", "numpy.float", "numpy.distutils.system_info"]


_PROVIDED = _install()
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
