"""One backend's timings for `twinport bench`, run as `python -m twinport.bench_worker`.

Each backend runs in its own process so its peak RSS is its own and TensorFlow's thread pools
do not steal the cores from Chainer's BLAS. The TF worker runs first: it saves the weights
and its forward taps, so the Chainer workers compute from the same weights and time every
layer on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from spec import build_spec, get_preset
from spec.layers import EPSILON, FRAMES
from spec.layout import activation_to_chainer
from twinport.backends import create_model

TAPS_FILE = "taps.npz"
WEIGHTS_FILE = "weights.npz"


def timed(run: Callable[[], Any], repeats: int, warmup: int = 1,
          setup: Callable[[], Any] = lambda: None) -> list[float]:
    """Milliseconds of `repeats` calls of `run` after `warmup` untimed ones; `setup` runs,
    untimed, before each call."""
    times = []
    for k in range(warmup + repeats):
        setup()
        start = time.perf_counter()
        run()
        if k >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return times


def peak_rss_mb() -> float:
    """This process's RSS high-water mark (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(backend: str, preset: str, workdir: str, repeats: int, layer_repeats: int,
               profile: bool) -> dict[str, Any]:
    """Forward and train-step times, peak RSS, per-layer forward times (and a Chainer profile)."""
    inputs = np.load(os.path.join(workdir, "inputs.npz"))
    frames, epsilon = inputs["frames"], inputs["epsilon"]
    model = create_model(backend, preset, seed=0)
    weights = os.path.join(workdir, WEIGHTS_FILE)
    if backend == "tf":
        model.save(weights)
    else:
        model.load(weights)
    result: dict[str, Any] = {"backend": backend}
    taps: dict[str, Any] = {}

    def forward() -> None:
        out = model.forward(frames, epsilon)
        model.to_numpy(out.output)
        taps.update(out.taps)

    result["forward_ms"] = timed(forward, repeats)
    if backend == "tf":
        arrays = {name: model.to_numpy(tap) for name, tap in taps.items()}
        np.savez(os.path.join(workdir, TAPS_FILE), **arrays)
    taps.clear()
    # Every step starts from the same weights: the same work each time, no divergence.
    result["train_step_ms"] = timed(lambda: model.train_step(frames, epsilon, 0), repeats,
                                    setup=lambda: model.load(weights))
    result["peak_rss_mb"] = peak_rss_mb()
    if profile:
        result["profile_s"] = train_step_profile(model, frames, epsilon)
    model.load(weights)
    result["layers_ms"] = layer_times(model, backend, preset, frames, epsilon, workdir,
                                      layer_repeats)
    result["blas_core"] = blas_core()
    result["versions"] = versions(backend)
    return result


def layer_times(model: Any, backend: str, preset: str, frames: np.ndarray, epsilon: np.ndarray,
                workdir: str, repeats: int) -> dict[str, float]:
    """Median ms of `run_layer` on every spec layer, fed the TF forward's taps."""
    values = dict(np.load(os.path.join(workdir, TAPS_FILE)))
    values.update({FRAMES: frames, EPSILON: epsilon})
    convert = activation_to_chainer if backend == "chainer" else (lambda value: value)
    times = {}
    for layer in build_spec(get_preset(preset)):
        layer_inputs = [convert(values[name]) for name in layer.inputs]

        def run(name: str = layer.name, args: list = layer_inputs) -> None:
            model.to_numpy(model.run_layer(name, args))

        times[layer.name] = statistics.median(timed(run, repeats))
    return times


def train_step_profile(model: Any, frames: np.ndarray, epsilon: np.ndarray) -> dict[str, float]:
    """Seconds per Chainer function type, forward and backward apart, in one train step."""
    from twinport.bench_profile import ExclusiveTimer

    hook = ExclusiveTimer()
    with hook:
        model.train_step(frames, epsilon, 0)
    return dict(hook.seconds)


def versions(backend: str) -> dict[str, str]:
    import importlib

    framework = importlib.import_module("tensorflow" if backend == "tf" else "chainer")
    return {"numpy": np.__version__, framework.__name__: framework.__version__}


def blas_core() -> str | None:
    from chainer_port.fast_cpu_blas import openblas_core

    return openblas_core()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("tf", "chainer"), required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--layer-repeats", type=int, required=True)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", required=True, help="result .json")
    args = parser.parse_args(argv)
    result = run_worker(args.backend, args.preset, args.workdir, args.repeats,
                        args.layer_repeats, args.profile)
    with open(args.out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
