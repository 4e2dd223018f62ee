"""Measure the float32 noise floor the default tolerances stand on.

    python -m parity.noise_floor --preset tiny --data DIR [--batches 3] [--steps 3]

For several batches it runs the TF reference (float32), the Chainer port (float32) and the
same port in float64 from the same weights, and prints, per section, the worst difference of
every pair in units of each tensor's largest |value| (the `scale_atol` unit of the defaults):
TF32 vs C64 is the reference's own rounding error, C32 vs C64 the port's, TF32 vs C32 what a
parity run sees. A tolerance below the TF32 vs C64 figure would fail a correct port.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from parity.capture import capture_model
from parity.inputs import ParityInputs
from spec import build_spec, get_preset
from twinport.paths import DEFAULT_DATASET

PAIRS = (("tf32", "c64"), ("c32", "c64"), ("tf32", "c32"))


def scaled_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.abs(b).max()) or 1.0
    return float(np.abs(a.astype(np.float64) - b).max()) / scale


def measure(preset_name: str, data: str, batches: int, steps: int, lr: float | None
            ) -> dict[tuple[str, str], dict[str, tuple[float, str]]]:
    from chainer_port.model import CrossConvModel as ChainerModel
    from tf_reference.model import CrossConvModel as TFModel

    preset = get_preset(preset_name)
    layers = build_spec(preset)
    models = {"tf32": TFModel(preset), "c32": ChainerModel(preset),
              "c64": ChainerModel(preset, dtype="float64")}
    weights = models["tf32"].get_weights()
    worst: dict[tuple[str, str], dict[str, tuple[float, str]]] = defaultdict(dict)
    for batch in range(batches):
        inputs = ParityInputs.from_dataset(data, preset, 4, batch, max(steps, 1))
        captures = {name: capture_model(model, model.layout, layers, weights, inputs, steps,
                                        progress=False, lr=lr)
                    for name, model in models.items()}
        for pair in PAIRS:
            a, b = captures[pair[0]], captures[pair[1]]
            for section in ("inference", "training", "moving", "grad", "input_grad", "after"):
                for name, value in a.section(section).items():
                    error = scaled_error(value, b.section(section)[name])
                    if error > worst[pair].get(section, (-1.0, ""))[0]:
                        worst[pair][section] = (error, name)
            losses = [abs(x["loss"] - y["loss"]) / abs(y["loss"])
                      for x, y in zip(a.steps, b.steps, strict=True)]
            step_error = max(losses, default=0.0)
            if step_error > worst[pair].get("steps", (-1.0, ""))[0]:
                worst[pair]["steps"] = (step_error, f"batch {batch}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--data", default=DEFAULT_DATASET)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="free-running SGD steps")
    parser.add_argument("--lr", type=float)
    args = parser.parse_args()
    worst = measure(args.preset, args.data, args.batches, args.steps, args.lr)
    print(f"worst scaled error over {args.batches} batches, preset {args.preset}")
    print(f"{'section':12s} " + " ".join(f"{a + ' vs ' + b:>34s}" for a, b in PAIRS))
    for section in ("inference", "training", "moving", "grad", "input_grad", "steps", "after"):
        cells = []
        for pair in PAIRS:
            error, name = worst[pair].get(section, (float("nan"), ""))
            cells.append(f"{error:9.1e} {name[-24:]:>24s}")
        print(f"{section:12s} " + " ".join(cells))


if __name__ == "__main__":
    main()
