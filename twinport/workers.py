"""A data-parallel training run's processes: which one this is, how `twinport train --workers
N` starts the N of them on one machine, and a time limit on every collective (docs/distributed.md).

One machine: `twinport train --workers N ...` runs `mpiexec -n N` of the same command (the
`mpiexec` of the `mpich` wheel in this environment). A cluster: the same command under the
site's own `mpiexec -n N -hosts ...`; each process then finds its rank in the environment MPI
sets (`common.launch_env.launched_as`) and launches nothing.

A worker that dies must not leave the others waiting forever in an allreduce, nor kill them
without a word: `mpiexec` runs with `-disable-auto-cleanup`, MPICH's SIGUSR1 (a process of the
job died) stops each other worker with one line, and every collective waits at most `timeout`
seconds (`common.watchdog.Watchdog`: a stuck or silent peer, any MPI), then the worker says so
in one line and exits. MPICH's `mpiexec` does not always forward a surviving worker's last line
before it ends (measured: 5 of 9 kills showed it), so the launching process always says, in one
line, that the workers stopped and which checkpoint is the last. No partial checkpoint is left:
worker 0 writes each one whole (`twinport.runs.RunDir`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from common.errors import UserError
from common.launch_env import PORTS_VARIABLE, launched_as, tf_config_place
from common.tf_startup import LEVEL

DEFAULT_TIMEOUT = 600.0
"""Seconds a worker waits in one collective for the others (a whole step's skew fits)."""


def mpiexec() -> str:
    """This environment's `mpiexec` (the `mpich` wheel's, beside the interpreter), else the
    system's; a UserError naming the fix when there is none."""
    local = Path(sys.executable).with_name("mpiexec")
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if not found:
        raise UserError("--workers: no mpiexec here (`make demo` installs the mpich wheel)")
    return found


def launch(workers: int, argv: list[str]) -> int:
    """Run `twinport ARGV` as `workers` processes on this machine, started by `mpiexec` (the
    TF workers also get `workers` free loopback ports for their TF_CONFIG); their exit status.

    MPICH's own banner about a process that ended badly is dropped: each worker says what
    happened in one line, and so does this process.
    """
    command = [mpiexec(), "-disable-auto-cleanup", "-n", str(workers), sys.executable,
               "-m", "twinport.cli", *argv]
    env = {**thread_shares(workers), **os.environ,
           PORTS_VARIABLE: ",".join(map(str, free_ports(workers)))}
    # TF logs a dead peer's socket at ERROR level in every worker: the workers say it in one
    # line instead, unless more of TF's logs were asked for ("0", "1": --debug sets "0").
    if env.get(LEVEL, "2") in ("", "2"):
        env[LEVEL] = "3"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, env=env)
    # Ctrl-C reaches the workers too (one process group): they finish the step, checkpoint and
    # stop together, and this process waits for them.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cut = False
        for line in process.stdout:
            kept = _without_banner(line)
            # A worker's own blank line is kept; what a cut report leaves blank is not.
            if kept.strip() or (kept == line and not cut):
                sys.stdout.write(kept)
                sys.stdout.flush()
            cut = kept != line
        return process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
"""oneDNN's OpenMP, MKL and the fast path's pool (OMP_NUM_THREADS); TF's two thread pools."""


def thread_shares(workers: int) -> dict[str, str]:
    """Each worker's share of this machine's cores, for every thread pool it runs: without it
    N workers run N x cores threads (ConvLSTM `seed`, 2 workers on 2 cores, a step: Chainer
    3.40 s, TF 2.85 s; with one thread each 3.21 s and 2.39 s; one process 3.85 s and 2.61 s).
    A variable the environment sets is left as set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    share = str(max(1, (cores or 1) // workers))
    return {name: share for name in THREAD_VARIABLES}


def free_ports(count: int) -> list[int]:
    """`count` loopback ports free now (the system's choice, all held until all are found)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for held in sockets:
            held.bind(("localhost", 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


BANNER_START = "YOUR APPLICATION TERMINATED"


def _without_banner(line: str) -> str:
    """`line` without MPICH's report of a process that ended badly: "" for a line of it, the
    text before it (and a newline) where the report began in the middle of a worker's line
    (mpiexec forwards a worker's output and writes its own as they come)."""
    text = line.strip()
    if (text.startswith("=") or text.startswith(BANNER_START)
            or text in ("This typically refers to a problem with your application.",
                        "Please see the FAQ page for debugging suggestions")):
        return ""
    start = line.find(BANNER_START)
    return line if start < 0 else line[:start] + "\n"


class World(Protocol):
    """The workers of a run as the training loop sees them."""

    rank: int
    workers: int
    device: str
    """The device this worker's twin runs on, as the twin's `device` argument takes it."""

    def attach(self, model: Any) -> None:
        """Give every worker worker 0's weights, and make `model`'s updates average the
        gradients over the workers."""

    def mean(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Each value (a float or an array) averaged over the workers."""

    def any(self, flag: bool, what: str) -> bool:
        """Whether `flag` is set on any worker."""

    def same(self, arrays: Mapping[str, np.ndarray], what: str) -> bool:
        """Whether `arrays` are bit for bit the same on every worker."""

    def guarded(self) -> contextlib.AbstractContextManager:
        """Within: a collective that fails because a worker is gone stops this one with one
        line (`common.watchdog.Watchdog.stopping_on`)."""

    def finish(self) -> None:
        """Wait for every worker to finish the run, then stop listening for another's end
        (each exits as it likes from here: MPICH tells the others when one exits first)."""


class OneWorker:
    """A run of one process: nothing to share."""

    rank, workers = 0, 1

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def attach(self, model: Any) -> None:
        pass

    def mean(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        return dict(values)

    def any(self, flag: bool, what: str) -> bool:
        return flag

    def same(self, arrays: Mapping[str, np.ndarray], what: str) -> bool:
        return True

    def guarded(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def finish(self) -> None:
        pass


def place(backend: str) -> tuple[int, int] | None:
    """(rank, workers) this process was started as: by mpiexec, or for TF by its TF_CONFIG;
    None when it was started alone (then `train --workers N` starts the N itself)."""
    return launched_as() or (tf_config_place() if backend == "tf" else None)


def join(backend: str, workers: int, timeout: float = DEFAULT_TIMEOUT, device: str = "cpu"
         ) -> World:
    """This process's place among `workers` (one: `OneWorker`), its twin on `device` ("cpu",
    or a GPU id: worker r takes GPU id + r, `World.device`); a UserError when it was not
    started as one of that many (by `launch`, a cluster's mpiexec, or, for TF, TF_CONFIG)."""
    launched = place(backend)
    size = launched[1] if launched else 1
    if size != workers:
        raise UserError(f"--workers {workers}, but this process is one of {size} (start it "
                        f"with `mpiexec -n {workers}`, or give --workers {size})")
    if workers == 1:
        return OneWorker(device)
    own = device if device == "cpu" else str(int(device) + launched[0])
    if backend == "tf":
        from tf_reference.distributed import TFWorld

        return TFWorld(launched[0], workers, timeout, own)
    from chainer_port.distributed import ChainerWorld

    return ChainerWorld(timeout, own)
