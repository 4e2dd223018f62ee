"""`twinport bench`: the TF reference and the Chainer port timed side by side on this machine.

Worker processes (`twinport.bench.worker`): TF, the Chainer port with its CPU fast path, the
same without Intel's libraries (TWINPORT_CONV=im2col TWINPORT_BLAS=numpy: the im2col
convolutions on NumPy's OpenBLAS, with the kernels it picks itself), and the stock Chainer
functions (TWINPORT_FAST_CPU=0); the last two with one timed repetition (on
`paper` the stock train step takes about a minute). Only one works at a time and the timed
runs alternate between them (TF, fast, ..., TF, fast, ...), so that a shared machine's load
falls on all of them alike: the report leads with the Chainer / TF ratios. Each reports
forward and train-step times, its peak RSS and per-layer forward times on the same inputs.
Any registered pair (`--model`): its inputs and noise, its optimizer, its layers (grouped by
kind in the report when there are many).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chainer_port.fast_cpu.config import (
    ENV_BLAS,
    ENV_CONV,
    ENV_CORETYPE,
    ENV_FAST_CPU,
    openblas_coretype,
)
from chainer_port.fast_cpu.dnnl import available as dnnl_available
from chainer_port.fast_cpu.gemm import uses_mkl
from spec.pair import TwinPair, noise_at
from spec.registry import DEFAULT_MODEL, get_pair
from twinport.bench.process import WorkerProcess
from twinport.bench.worker import INPUTS_FILE


@dataclass(frozen=True)
class Role:
    """One worker: backend, TWINPORT_FAST_CPU, whether the fast path runs without Intel's
    libraries, its im2col convolutions on NumPy's OpenBLAS as it loads (TWINPORT_CONV=im2col,
    TWINPORT_BLAS=numpy, no OPENBLAS_CORETYPE from `worker_env`), and whether one timed
    repetition is enough."""

    backend: str
    fast: str = "1"
    no_intel: bool = False
    once: bool = False

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The worker's environment, given the benchmark's (`worker_env`)."""
        if self.no_intel:
            return {**os.environ, ENV_CONV: "im2col", ENV_BLAS: "numpy", ENV_FAST_CPU: self.fast}
        return {**env, ENV_FAST_CPU: self.fast}


ROLES = {
    "tf": Role("tf"),
    "chainer": Role("chainer"),
    "chainer_no_intel": Role("chainer", no_intel=True, once=True),
    "chainer_stock": Role("chainer", fast="0", once=True),
}
"""Every worker, in the order they run. `chainer_no_intel` runs only when it differs from the
fast path (oneDNN or MKL installed, or the benchmark changed the BLAS kernels: see
`worker_env`), to show what that is worth."""


@dataclass
class BenchSettings:
    preset: str = "paper"
    batch_size: int = 4
    steps: int = 5
    layer_repeats: int = 3
    data: str | None = None
    seed: int = 0
    stock: bool = True
    parity: bool = False
    blas_core: str = "auto"
    model: str = DEFAULT_MODEL
    load: int = 0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run_bench(settings: BenchSettings) -> dict[str, Any]:
    """Every measurement of one benchmark run, as plain data for `twinport.bench.report`."""
    from chainer_port.fast_cpu.blas import openblas_core

    pair = get_pair(settings.model)
    preset = pair.get_preset(settings.preset)
    env = worker_env(settings.blas_core)
    results: dict[str, Any] = {
        "settings": asdict(settings), "machine": machine_info(),
        "blas": {"default_core": openblas_core(), "coretype_env": env.get(ENV_CORETYPE)},
        "load_before": os.getloadavg(),
        "layer_kinds": {layer.name: layer.kind for layer in pair.build(preset)}}
    with tempfile.TemporaryDirectory(prefix="twinport-bench-") as workdir:
        data = settings.data or bench_data(pair, Path(workdir) / "data", settings.seed)
        if pair.check_data is not None:
            pair.check_data(data, "train", preset, settings.batch_size)
        results["loader_seq_per_s"] = loader_throughput(data, settings.batch_size, settings.seed)
        write_inputs(Path(workdir) / INPUTS_FILE, pair, preset, data, settings)
        skip = {"chainer_stock"} if not settings.stock else set()
        if (not uses_mkl() and not dnnl_available()
                and env.get(ENV_CORETYPE) == openblas_coretype()):
            skip.add("chainer_no_intel")
        workers: dict[str, WorkerProcess] = {}
        try:
            for name, role in ROLES.items():  # TF first: it writes the weights the others load
                if name in skip:
                    continue
                log(f"{name}: starting")
                workers[name] = WorkerProcess(name, role.backend, settings.model, settings.preset,
                                              workdir, role.environment(env))
            with busy_processes(settings.load):
                results["workers"] = measure(workers, settings)
        finally:
            for worker in workers.values():
                worker.close()
        if settings.parity:
            results["parity"] = time_parity(settings, data, Path(workdir) / "parity", env)
    results["load_after"] = os.getloadavg()
    return results


def measure(workers: dict[str, WorkerProcess], settings: BenchSettings) -> dict[str, dict]:
    """Forward and train-step times (alternating between the workers), peak RSS, per-layer
    times, the fast path's train-step profile, versions and BLAS kernels."""
    out: dict[str, dict[str, Any]] = {role: {} for role in workers}
    for op, key in (("forward", "forward_ms"), ("train", "train_step_ms")):
        for worker in workers.values():  # warm-up
            worker.call(op)
        for role in workers:
            out[role][key] = []
        for repeat in range(settings.steps):
            log(f"{op} {repeat + 1}/{settings.steps}")
            for role, worker in workers.items():
                if not ROLES[role].once or repeat == 0:
                    out[role][key].append(worker.call(op))
    for role, worker in workers.items():
        out[role]["peak_rss_mb"] = worker.call("rss")
        log(f"{role}: per-layer times")
        out[role]["layers_ms"] = worker.call(
            "layers", repeats=1 if ROLES[role].once else settings.layer_repeats)
        out[role].update(worker.call("info"))
    if "chainer" in workers:
        out["chainer"]["profile_s"] = workers["chainer"].call("profile")
    return out


SPIN = "import os, sys\nwhile os.getppid() == int(sys.argv[1]):\n    pass\n"
"""A busy process's program: spin while its parent (the pid it is given) lives."""


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[list[subprocess.Popen]]:
    """`count` processes each spinning one core (a Python loop) while the block runs: a
    machine shared with other work, as researchers' machines are (`--load N`). Each stops by
    itself when this process is gone (a benchmark killed by a signal runs no `finally`)."""
    spinning = [subprocess.Popen([sys.executable, "-c", SPIN, str(os.getpid())])
                for _ in range(count)]
    if count:
        log(f"{count} busy processes beside the benchmark")
    try:
        yield spinning
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def worker_env(blas_core: str) -> dict[str, str]:
    """The workers' environment: OPENBLAS_CORETYPE per `blas_core` (see `fast_cpu.blas`).

    "auto" keeps a value already set, else sets the kernel set this CPU supports (NumPy's
    OpenBLAS 0.3.20 may not recognise it and fall back to SSE3); "inherit" changes nothing;
    anything else is the OPENBLAS_CORETYPE to use.
    """
    from chainer_port.fast_cpu.blas import cpu_coretype

    env = dict(os.environ)
    if blas_core == "auto":
        coretype = env.get(ENV_CORETYPE) or cpu_coretype()
        if coretype:
            env[ENV_CORETYPE] = coretype
    elif blas_core != "inherit":
        env[ENV_CORETYPE] = blas_core
    return env


def machine_info() -> dict[str, Any]:
    import platform

    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    cpu = next((line.partition(":")[2].strip() for line in lines
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M")}


def bench_data(pair: TwinPair, root: Path, seed: int) -> str:
    """Without --data: cross_conv a small generated moving-objects set (512 sequences), any
    other pair its default dataset (`TwinPair.require_data`)."""
    if pair.name == DEFAULT_MODEL:
        from data.moving_objects import write_moving_objects

        write_moving_objects(root, seed=seed, count=512)
        return str(root)
    pair.require_data(pair.default_data)
    return pair.default_data


def loader_throughput(data: str, batch_size: int, seed: int, runs: int = 5) -> float:
    """Median sequences/s of `Dataset.batches` over one epoch of the train split, per run.

    Each run is a fresh stream with its own seed (a new shuffle); the first is a warm-up.
    """
    from data.dataset import Dataset

    dataset = Dataset(data, "train")
    batches = dataset.steps_per_epoch(batch_size)

    def epoch(stream_seed: int) -> float:
        start = time.perf_counter()
        for _ in dataset.batches(batch_size, stream_seed, epochs=1):
            pass
        return batches * batch_size / (time.perf_counter() - start)

    return statistics.median([epoch(seed + run) for run in range(runs + 1)][1:])


def write_inputs(path: Path, pair: TwinPair, preset: Any, data: str, settings: BenchSettings
                 ) -> None:
    """The pair's batch 0 of the train split and its noise of step 0: the one input every
    worker times (`input/NAME`, `noise/NAME`)."""
    batch = next(pair.stream(data, "train", settings.batch_size, settings.seed, preset))
    shapes = {name: value.shape for name, value in batch.items()}
    noise = noise_at(pair.noise(preset), preset, shapes, settings.seed, 0)
    np.savez(path, **{f"input/{name}": value for name, value in batch.items()},
             **{f"noise/{name}": value for name, value in noise.items()})


def time_parity(settings: BenchSettings, data: str, out: Path, env: dict[str, str]
                ) -> dict[str, Any]:
    """Wall time and exit status of `twinport parity` on this preset and batch size."""
    command = [sys.executable, "-m", "twinport.cli", "parity", "--model", settings.model,
               "--preset", settings.preset,
               "--batch-size", str(settings.batch_size), "--data", data, "--out", str(out),
               "--quiet"]
    log("parity: running twinport parity ...")
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log(f"parity: exit {done.returncode} in {seconds:.0f} s")
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""]
    verdict = next((line for line in lines if line.startswith(("PASS", "FAIL"))), lines[-1])
    return {"seconds": seconds, "exit": done.returncode, "verdict": verdict}
