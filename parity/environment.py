"""What the machine offers each side: one table for `twinport env`, every capture and report.

Rows are (key, value) strings. Versions come from the installed metadata; framework facts
(devices, cuDNN, TF's TF32 switch) are read from a framework only once it is loaded, or when
`load` asks for it (`twinport env`), so a capture of one side never starts the other.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

import numpy as np

from common.launch_env import mpi_library, tf_cluster_row, workers_row
from common.numerics import numerics

# The distributions each framework installs as, first found wins.
DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "chainer": ("chainer",),
                 "cupy": ("cupy-cuda13x", "cupy-cuda12x", "cupy")}
# Rows two captures must share to compare like with like (`numerics_differences`).
NUMERICS_KEYS = ("tf32", "deterministic", "NVIDIA_TF32_OVERRIDE", "CUPY_TF32",
                 "tf TF32 execution", "chainer cuDNN", "chainer cudnn_deterministic")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_CORETYPE")


def versions() -> dict[str, str]:
    """Python, NumPy and each framework's installed version; nothing is imported."""
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name, candidates in DISTRIBUTIONS.items():
        found[name] = "not installed"
        for candidate in candidates:
            try:
                found[name] = f"{metadata.version(candidate)}" + (
                    f" ({candidate})" if name == "cupy" else "")
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """NumPy's BLAS as its build configuration names it."""
    config = getattr(np, "__config__", None)
    info = getattr(config, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    if info:
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    return "unknown"


def fast_path_switches() -> str:
    switches = sorted(f"{k}={v}" for k, v in os.environ.items()
                      if k.startswith("TWINPORT_") and k not in ("TWINPORT_ALLOW_TF32",
                                                                  "TWINPORT_DETERMINISTIC"))
    return ", ".join(switches) or "defaults"


def tf_rows(load: bool) -> dict[str, str]:
    if "tensorflow" not in sys.modules and not load:
        return {}
    from tf_reference.device import describe

    return describe()


def chainer_rows(load: bool) -> dict[str, str]:
    if "chainer" not in sys.modules and not load:
        return {}
    from chainer_port.device import describe

    return describe()


def environment(load: bool = False) -> dict[str, str]:
    """The table, in display order."""
    rows = {**versions(), "cpu": cpu_model(), "cores": str(os.cpu_count()),
            "platform": platform.platform(), "numpy BLAS": blas()}
    rows.update((name, os.environ.get(name, "unset")) for name in THREAD_VARIABLES)
    rows["fast-path switches"] = fast_path_switches()
    rows.update({"MPI library": mpi_library(), "workers": workers_row(),
                 "TF cluster": tf_cluster_row()})
    rows.update(numerics())
    rows.update(tf_rows(load))
    rows.update(chainer_rows(load))
    return rows


def numerics_differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """"key: A vs B" for every numerics row both tables hold and disagree on."""
    return [f"{key}: {a[key]} vs {b[key]}" for key in NUMERICS_KEYS
            if key in a and key in b and a[key] != b[key]]


def table_text(rows: dict[str, str]) -> str:
    width = max(map(len, rows), default=0)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in rows.items())
