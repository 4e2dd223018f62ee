"""Determinism (`twinport parity --repeat N`): each side run N times from the same weights,
batch and noise; every array of its capture (both forward modes, the statistics' update, the
gradients) compared bit for bit with the first run's, and the spread where it differs.

Two float32 runs of one backend can differ (threaded reductions, autotuned kernels, atomics on
a GPU); a parity tolerance below that spread would flake, and a port that is not bit-stable is
worth knowing about before a training run is compared.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity.capture import capture_model
from parity.inputs import ParityInputs
from spec.layer import Layer


@dataclass
class Spread:
    """One side's N runs of one capture part ("inference", "training", "moving", "grad",
    "input_grad"): how many arrays, how many bit-identical in every run, the largest
    |run k - run 0| over them (`max_abs`, relative to that array's largest |value| in
    `max_rel`) and the array it is in."""

    side: str
    part: str
    arrays: int
    identical: int
    max_abs: float
    max_rel: float
    worst: str

    @property
    def bit_identical(self) -> bool:
        return self.identical == self.arrays


def spreads(model: Any, layout: str, layers: list[Layer], weights: OrderedDict,
            inputs: ParityInputs, runs: int, side: str) -> list[Spread]:
    """`model` captured `runs` times (forward and gradients), each part's spread."""
    captures = [capture_model(model, layout, layers, weights, inputs, 0,
                              ("forward", "gradients"), progress=False).arrays
                for _ in range(runs)]
    first = captures[0]
    parts: OrderedDict[str, list[str]] = OrderedDict()
    for key in first:
        parts.setdefault(key.split("/", 1)[0], []).append(key)
    out = []
    for part, keys in parts.items():
        if part == "moving_after":
            continue  # the statistics' values; their update is the "moving" part
        identical, worst, worst_abs, worst_rel = 0, "", 0.0, 0.0
        for key in keys:
            base = first[key]
            gaps = [np.abs(other[key].astype(np.float64) - base) for other in captures[1:]]
            same = all(np.array_equal(other[key], base, equal_nan=True)
                       for other in captures[1:])
            identical += same
            gap = max((float(np.nanmax(g)) if g.size else 0.0) for g in gaps)
            if gap > worst_abs:
                scale = float(np.nanmax(np.abs(base))) if base.size else 0.0
                worst, worst_abs, worst_rel = key.split("/", 1)[1], gap, (
                    gap / scale if scale else float("inf"))
        out.append(Spread(side, part, len(keys), identical, worst_abs, worst_rel, worst))
    return out


def summary_line(rows: list[dict[str, Any]], runs: int) -> str:
    """One sentence per side: bit-identical over the runs, or where and how far apart."""
    parts = []
    for side in dict.fromkeys(row["side"] for row in rows):
        mine = [Spread(**row) for row in rows if row["side"] == side]
        moved = [s for s in mine if not s.bit_identical]
        if not moved:
            parts.append(f"{side}: bit-identical over {runs} runs")
            continue
        worst = max(moved, key=lambda s: s.max_rel)
        parts.append(f"{side}: {sum(s.arrays - s.identical for s in moved)} of "
                     f"{sum(s.arrays for s in mine)} arrays differ between runs, largest "
                     f"spread {worst.max_abs:.3g} ({worst.max_rel:.3g} of its scale) at "
                     f"{worst.part}/{worst.worst}")
    return "determinism: " + "; ".join(parts)
