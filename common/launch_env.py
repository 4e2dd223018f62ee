"""What a process learns from the environment its launcher gave it: its rank among an MPI job's
processes (`mpiexec`), and the TF cluster of a `tf.distribute` worker (`TF_CONFIG`)."""

from __future__ import annotations

import json
import os

RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
"""MPICH and Intel MPI (PMI), Open MPI: where each says a process's rank and the job's size."""
PORTS_VARIABLE = "TWINPORT_TF_PORTS"
"""Comma-separated loopback ports of a one-machine TF run's workers, in rank order: each writes
its own TF_CONFIG from them (`tf_reference.distributed`)."""


def launched_as() -> tuple[int, int] | None:
    """(rank, size) of the MPI job this process was started in, or None outside one."""
    for rank, size in zip(RANK_VARIABLES, SIZE_VARIABLES, strict=True):
        if os.environ.get(size, "").isdigit() and os.environ.get(rank, "").isdigit():
            return int(os.environ[rank]), int(os.environ[size])
    return None


def tf_config_place() -> tuple[int, int] | None:
    """(task index, workers) of TF_CONFIG's cluster, or None without a readable one."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        return int(config["task"]["index"]), len(config["cluster"]["worker"])
    except (ValueError, KeyError, TypeError):
        return None


def mpi_library() -> str:
    """The MPI library mpi4py runs on (its first line), without starting MPI; "not installed"
    without mpi4py."""
    try:
        import mpi4py

        mpi4py.rc.initialize = False
        from mpi4py import MPI
    except ImportError:
        return "not installed"
    return " ".join(MPI.Get_library_version().strip().splitlines()[0].split())


def workers_row() -> str:
    """This process's place among the workers, in words."""
    launched = launched_as()
    return f"worker {launched[0]} of {launched[1]} (mpiexec)" if launched else "1 (no mpiexec)"


def tf_cluster_row() -> str:
    """The TF cluster of TF_CONFIG, in words ("none" without one)."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return "none"
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        return f"worker {config['task']['index']} of {len(workers)}: {', '.join(workers)}"
    except (ValueError, KeyError, TypeError):
        return f"TF_CONFIG unreadable: {text[:80]}"
