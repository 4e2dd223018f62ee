"""Stop training at the first non-finite value, and name it.

Every step's losses are checked (they are host floats already). The weights are copied to
the host and checked every `check_every` steps and before every checkpoint, so a checkpoint
never holds NaN or inf. A non-finite gradient shows up in the weights of that step's update
(SGD spreads it), and almost always in the next step's loss. When a check fails, the steps
since the last finite weights are replayed on the same batches and noise (both are functions
of the step) to find the first bad step, and that step is taken apart from the weights before
it: the first non-finite tap of the forward pass in graph order, else the first non-finite
gradient, else the first parameter the update made non-finite.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np


def first_nonfinite(values: Mapping[str, Any],
                    to_numpy: Callable[[Any], np.ndarray] = np.asarray) -> str | None:
    """The first name (in the mapping's order) whose value holds a NaN or an inf."""
    return next((name for name, value in values.items()
                 if not np.isfinite(to_numpy(value)).all()), None)


def losses_finite(out: Mapping[str, Any], labels: Iterable[str]) -> bool:
    """Every loss of a train_step's result (`TwinPair.losses` labels) is finite."""
    return all(math.isfinite(out[key]) for key in labels)


def culprit(model: Any, before: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray],
            noise: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> str:
    """What went non-finite first in the training step from `before` to `after`."""
    model.set_weights(before)
    name = first_nonfinite(model.forward(inputs, noise, training=True).taps, model.to_numpy)
    if name:
        return f"the first non-finite tap is {name}"
    model.set_weights(before)
    name = first_nonfinite(model.gradients(inputs, noise, training=True)[1])
    if name:
        return f"every tap is finite; the first non-finite gradient is that of {name}"
    name = first_nonfinite(after)
    if name:
        return f"every tap and gradient is finite; the update made parameter {name} non-finite"
    return "every tap, gradient and parameter is finite when the step is run again"


class FiniteGuard:
    """Tracks the last weights checked finite; finds the first bad step when a check fails."""

    def __init__(self, model: Any, step: int, check_every: int) -> None:
        self.model = model
        self.check_every = check_every
        self.good_step = step
        self.good: OrderedDict[str, np.ndarray] = model.get_weights()

    def step_is_finite(self, step: int, out: Mapping[str, Any], checkpoint_due: bool) -> bool:
        """Check step `step`'s losses, and its weights when due; remember finite weights."""
        if not losses_finite(out, self.model.pair.losses):
            return False
        finished = step + 1
        if finished % self.check_every and not checkpoint_due:
            return True
        weights = self.model.get_weights()
        if first_nonfinite(weights):
            return False
        self.good_step, self.good = finished, weights
        return True

    def locate(self, stop: int, batches: Iterable[Mapping[str, np.ndarray]],
               noise_at: Callable[[int, Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
               ) -> str:
        """Replay from the last finite weights (`batches` from that step) up to step `stop`."""
        self.model.set_weights(self.good)
        before = self.good
        for step, inputs in zip(range(self.good_step, stop + 1), batches, strict=False):
            noise = noise_at(step, inputs)
            out = self.model.train_step(inputs, noise, step)
            after = self.model.get_weights()
            labels = self.model.pair.losses
            if not losses_finite(out, labels) or first_nonfinite(after):
                losses = ", ".join(f"{key} {out[key]:.6g}" for key in labels)
                what = ("the loss is" if not losses_finite(out, labels)
                        else "the updated weights are")
                return (f"step {step}: {what} not finite ({losses}); "
                        + culprit(self.model, before, inputs, noise, after))
            before = after
        return (f"step {stop}: the loss or the weights were not finite, but replaying steps "
                f"{self.good_step}-{stop} from the last finite weights did not reproduce it")
