"""Measure the float32 noise floor the default tolerances stand on.

    twinport parity noise-floor --preset tiny [--model M] [--data DIR] [--seeds 3] [--steps 3]

For the batches of seeds 0 .. N-1 it runs the TF reference (float32), the Chainer port
(float32) and the same port in float64 from the same weights, and prints, per section, the
worst difference of every pair in units of each tensor's largest |value| (the `scale_atol`
unit of the defaults). TF32 vs C64 is the reference's own rounding error, C32 vs C64 the
port's, TF32 vs C32 what a parity run sees: a tolerance below the TF32 vs C64 figure would
fail a correct port. Then, per seed, the TF32 vs C32 figure of each section as a fraction of
its default atol: the sweep's worst case is what the defaults must stand above.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from parity.capture import capture_model
from parity.inputs import ParityInputs
from parity.tolerances import Tolerances
from spec.registry import get_pair

PAIRS = (("tf32", "c64"), ("c32", "c64"), ("tf32", "c32"))


def scaled_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(a.astype(np.float64) - b).max()) / scale


Worst = dict[tuple[str, str], dict[str, tuple[float, str]]]
SECTIONS = ("inference", "training", "moving", "grad", "input_grad", "steps", "after")
# The default tolerance (parity.tolerances) each section's scaled error stands against.
TOLERANCE_FIELD = {"inference": "inference", "training": "training",
                   "moving": "moving_statistics", "grad": "gradients", "input_grad": "gradients",
                   "steps": "steps", "after": "after_training"}


def measure(model: str, preset_name: str, data: str | None, seeds: int, steps: int,
            lr: float | None) -> tuple[Worst, list[Worst]]:
    """The worst over all seeds, and each seed's own."""
    pair = get_pair(model)
    preset = pair.get_preset(preset_name)
    layers = pair.build(preset)
    reference, port = pair.twin_class("tf"), pair.twin_class("chainer")
    models = {"tf32": reference(preset), "c32": port(preset),
              "c64": port(preset, dtype="float64")}
    weights = models["tf32"].get_weights()
    worst: Worst = defaultdict(dict)
    per_seed: list[Worst] = []
    for batch in range(seeds):
        seed_worst: Worst = defaultdict(dict)
        per_seed.append(seed_worst)
        inputs = ParityInputs.from_dataset(pair, preset, data or pair.default_data, 4, batch,
                                           max(steps, 1))
        captures = {name: capture_model(model, model.layout, layers, weights, inputs, steps,
                                        progress=False, lr=lr)
                    for name, model in models.items()}
        for pair in PAIRS:
            a, b = captures[pair[0]], captures[pair[1]]
            for section in ("inference", "training", "moving", "grad", "input_grad", "after"):
                for name, value in a.section(section).items():
                    keep(worst, seed_worst, pair, section,
                         scaled_error(value, b.section(section)[name]), name)
            losses = [abs(x[label] - y[label]) / abs(y[label])
                      for x, y in zip(a.steps, b.steps, strict=True) for label in pair.losses]
            keep(worst, seed_worst, pair, "steps", max(losses, default=0.0), f"seed {batch}")
    return worst, per_seed


def keep(worst: Worst, seed_worst: Worst, pair: tuple[str, str], section: str, error: float,
         name: str) -> None:
    for table in (worst, seed_worst):
        if error > table[pair].get(section, (-1.0, ""))[0]:
            table[pair][section] = (error, name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--data", help="default: the model's dataset")
    parser.add_argument("--seeds", type=int, default=3, help="batches of seeds 0 .. N-1")
    parser.add_argument("--steps", type=int, default=3, help="free-running SGD steps")
    parser.add_argument("--lr", type=float)


def run(args: argparse.Namespace) -> int:
    worst, per_seed = measure(args.model, args.preset, args.data, args.seeds, args.steps,
                              args.lr)
    print(f"worst scaled error over {args.seeds} seeds, preset {args.preset}")
    print(f"{'section':12s} " + " ".join(f"{a + ' vs ' + b:>34s}" for a, b in PAIRS))
    for section in SECTIONS:
        cells = []
        for pair in PAIRS:
            error, name = worst[pair].get(section, (float("nan"), ""))
            cells.append(f"{error:9.1e} {name[-24:]:>24s}")
        print(f"{section:12s} " + " ".join(cells))
    defaults = Tolerances.defaults()
    print("\nTF32 vs C32 per seed, as a fraction of the default atol (free-running steps "
          "and after: against the synced defaults, so above 1 is expected there)")
    print("| seed | " + " | ".join(SECTIONS) + " |")
    print("|---" * (len(SECTIONS) + 1) + "|")
    for seed, table in enumerate(per_seed):
        cells = [f"{table[PAIRS[2]][s][0] / getattr(defaults, TOLERANCE_FIELD[s])[0]:.3g}"
                 if s in table[PAIRS[2]] else "" for s in SECTIONS]
        print(f"| {seed} | " + " | ".join(cells) + " |")
    return 0
