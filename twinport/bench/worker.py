"""One backend's model for `twinport bench`, answering timing requests (`-m twinport.bench.worker`).

Each backend runs in its own process so its peak RSS is its own and TensorFlow's thread pools
do not run while Chainer is timed: the parent (`twinport.bench.run`) sends one request at a time
to one worker at a time, alternating between the workers, so that the load of a shared machine
falls on every backend alike. Requests are JSON lines on stdin; each reply is one line on
stdout starting with REPLY (anything else a library prints there is skipped).

The TF worker saves the weights when it starts and its forward taps on its first forward, so
the Chainer workers compute from the same weights and time every layer on the same inputs. Any
pair (`--model`): its inputs and noise come from the parent (`INPUTS_FILE`, `input/NAME` and
`noise/NAME`), its optimizer makes the train step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from parity.capture import layout_converters
from spec.registry import get_pair
from twinport.backends import create_model

REPLY = "@@bench "
INPUTS_FILE = "inputs.npz"
TAPS_FILE = "taps.npz"
WEIGHTS_FILE = "weights.npz"


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls of `run` after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Worker:
    """The model of one backend and the measurements the parent asks for."""

    def __init__(self, backend: str, model: str, preset: str, workdir: str) -> None:
        self.backend, self.preset, self.workdir = backend, preset, workdir
        self.pair = get_pair(model)
        with np.load(os.path.join(workdir, INPUTS_FILE)) as stored:
            self.inputs, self.noise = ({name.partition("/")[2]: stored[name] for name in
                                        stored.files if name.startswith(prefix)}
                                       for prefix in ("input/", "noise/"))
        self.model = create_model(backend, preset, seed=0, model=model)
        self.weights = os.path.join(workdir, WEIGHTS_FILE)
        if backend == "tf":
            self.model.save(self.weights)
        else:
            self.model.load(self.weights)

    def forward(self) -> float:
        """ms of one inference forward (the TF worker saves its taps the first time)."""
        start = time.perf_counter()
        out = self.model.forward(self.inputs, self.noise)
        self.model.to_numpy(out.taps[self.pair.loss])
        elapsed = (time.perf_counter() - start) * 1e3
        taps = os.path.join(self.workdir, TAPS_FILE)
        if self.backend == "tf" and not os.path.exists(taps):
            np.savez(taps, **{name: self.model.to_numpy(tap) for name, tap in out.taps.items()})
        return elapsed

    def train(self) -> float:
        """ms of one train step from the initial weights (the same work every time)."""
        self.model.load(self.weights)
        start = time.perf_counter()
        self.model.train_step(self.inputs, self.noise, 0)
        return (time.perf_counter() - start) * 1e3

    def rss(self) -> float:
        """This process's RSS high-water mark, MB (Linux reports ru_maxrss in KiB)."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def layers(self, repeats: int) -> dict[str, float]:
        """Median ms of `run_layer` on every spec layer after a warm-up, on the TF taps."""
        self.model.load(self.weights)
        values = {**np.load(os.path.join(self.workdir, TAPS_FILE)), **self.inputs,
                  **self.noise}
        _, convert = layout_converters(self.model.layout, self.model.layers,
                                       self.pair.input_layouts(self.model.preset))
        times = {}
        for layer in self.model.layers:
            args = [convert(name, values[name]) for name in layer.inputs]
            times[layer.name] = 1e3 * median_seconds(
                lambda name=layer.name, args=args: self.model.to_numpy(
                    self.model.run_layer(name, args)), repeats)
        return times

    def profile(self) -> dict[str, float]:
        """Seconds per Chainer function type, forward and backward apart, in one train step."""
        from chainer_port.profiling import ExclusiveTimer

        self.model.load(self.weights)
        hook = ExclusiveTimer()
        with hook:
            self.model.train_step(self.inputs, self.noise, 0)
        return dict(hook.seconds)

    def info(self) -> dict[str, Any]:
        """Library versions, NumPy's BLAS kernels, whether the fast path's convolutions run on
        oneDNN and its GEMMs on MKL, and (TF) the tf.function trace counts."""
        import importlib

        from chainer_port.fast_cpu.blas import openblas_core
        from chainer_port.fast_cpu.dnnl import available
        from chainer_port.fast_cpu.gemm import uses_mkl

        framework = importlib.import_module("tensorflow" if self.backend == "tf" else "chainer")
        info = {"blas_core": openblas_core(), "mkl": uses_mkl(), "onednn": available(),
                "versions": {"numpy": np.__version__, framework.__name__: framework.__version__}}
        if self.backend == "tf":  # how often the reference's tf.functions were traced
            info["tf_traces"] = {name: function.experimental_get_tracing_count()
                                 for name, function in (("forward", self.model._taps),
                                                        ("train step", self.model._train))}
        return info


def serve(worker: Worker) -> None:
    """Answer requests {"op": name, "args": {...}} until stdin closes."""
    print(REPLY + json.dumps({"result": "ready"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"result": getattr(worker, request["op"])(**request.get("args", {}))}
        except Exception as error:  # reported to the parent, which stops the benchmark
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(REPLY + json.dumps(reply), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("tf", "chainer"), required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    serve(Worker(args.backend, args.model, args.preset, args.workdir))


if __name__ == "__main__":
    main()
