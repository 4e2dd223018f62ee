"""TensorFlow's start-up: its C++ logs quiet unless asked for, its process-wide GPU settings.

At import TF prints its CPU-feature banner, the oneDNN notice and absl's preamble on stderr,
and a user's one-line error would come after them. `TF_CPP_MIN_LOG_LEVEL` ("2" = errors only
unless the user set it, "0" under `twinport --debug`) governs TF's own logging once it runs,
but TF 2.21 writes the start-up lines through absl before it reads that variable, so
`import_tensorflow` also points the process's stderr at /dev/null while TF's native libraries
load and CUDA is first asked for GPUs (on a machine without one, that logs an error), unless the
level asks for info lines ("0"). Python's exceptions are raised after stderr is restored, so an
import that fails still says why.

Right after the import, before anything can initialise a GPU: memory growth on every GPU, so
the port's CuPy can allocate beside TF on a shared GPU (TF takes nearly all of it otherwise),
and TF's TensorFloat-32 switch as `common.numerics` says (off unless allowed).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType

from common import numerics

LEVEL = "TF_CPP_MIN_LOG_LEVEL"


def quiet_tf_logs() -> None:
    """Errors only, unless the user (or --debug) chose a level."""
    os.environ.setdefault(LEVEL, "2")


def show_tf_logs() -> None:
    """Every TF log line (`--debug`), unless the user chose a level."""
    os.environ.setdefault(LEVEL, "0")


@contextlib.contextmanager
def _stderr_to_devnull() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> ModuleType:
    """`import tensorflow`, with its start-up lines shown only at level "0"; memory growth set
    at the first import, the TF32 switch at every call (TF may have been imported elsewhere)."""
    quiet_tf_logs()
    if "tensorflow" not in sys.modules:
        quiet = _stderr_to_devnull() if os.environ[LEVEL] != "0" else contextlib.nullcontext()
        with quiet:
            import tensorflow

            # The first GPU query initialises CUDA, which logs an error on a machine without
            # one.
            for gpu in tensorflow.config.list_physical_devices("GPU"):
                tensorflow.config.experimental.set_memory_growth(gpu, True)
    import tensorflow

    tensorflow.config.experimental.enable_tensor_float_32_execution(numerics.tf32_allowed())
    return tensorflow
