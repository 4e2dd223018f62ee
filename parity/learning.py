"""Did it train? Two models that do not learn agree perfectly, and that is not parity: the
training section fails a run whose reference did not learn, saying why.

Three checks on the reference's side of the synced steps, each an item of the training section
(`learning: ...`, stat "check"): some trainable variable changed over the steps; the loss's
gradient is not zero for every trainable variable; the loss is not the same at every step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from parity.diff import FAIL, PASS, TensorDiff, fmt
from spec.layer import Layer
from spec.weights import trainable_names


def check_item(name: str, passed: bool, note: str) -> TensorDiff:
    """One yes/no item; a failing one carries its reason as the suggestion."""
    return TensorDiff(name=name, status=PASS if passed else FAIL, ref_shape=(), port_shape=(),
                      stat="check", note=note, suggestion=None if passed else note)


def learning_checks(layers: list[Layer], start: Mapping[str, np.ndarray],
                    after: Mapping[str, np.ndarray] | None, gradients: Mapping[str, np.ndarray],
                    rows: list[dict]) -> list[TensorDiff]:
    """The reference's weights from `start` to `after` (None: the port raised, nothing to
    judge), its gradients at the start, and the step rows (their `tf_<loss>` columns)."""
    trainable = trainable_names(layers)
    checks = []
    if after is not None and rows:
        moved = [name for name in trainable if not np.array_equal(after[name], start[name])]
        lrs = sorted({row["lr"] for row in rows})
        checks.append(check_item(
            "learning: weights moved", bool(moved),
            f"{len(moved)} of {len(trainable)} trainable variables changed over "
            f"{len(rows)} steps" if moved else
            f"no trainable variable changed over {len(rows)} steps (learning rate "
            f"{', '.join(fmt(lr) for lr in lrs)}): the reference did not learn"))
    norm = math.sqrt(sum(float(np.square(gradients[name].astype(np.float64)).sum())
                         for name in trainable if name in gradients))
    checks.append(check_item(
        "learning: gradients", norm > 0,
        f"gradient norm {fmt(norm)}" if norm > 0 else
        "every trainable variable's gradient is zero: nothing reaches the loss"))
    labels = [key[3:] for key in rows[0] if key.startswith("tf_")] if rows else []
    if len(rows) >= 2 and labels:
        losses = [float(row[f"tf_{labels[0]}"]) for row in rows]
        checks.append(check_item(
            "learning: loss moved", max(losses) > min(losses),
            f"{labels[0]} from {fmt(losses[0])} to {fmt(losses[-1])}"
            if max(losses) > min(losses) else
            f"{labels[0]} is {fmt(losses[0])} at every step: the reference sits at a constant"))
    return checks
