"""How a mutant is made: the built-in port with ONE thing done the naive way.

Three shapes, each a few lines: the port with one `TFCompat` option at its naive value
(`compat_mutant`: an option value, no patching), its optimizer kind changed
(`optimizer_mutant`: Chainer's own RMSprop is `CHAINERS_RMSPROP`), or a subclass of the
pair's Chainer twin overriding one `_<kind>` method (or a helper it calls, `set_weights`,
`train_step`) for a mistake that is no TF behaviour. Every mutant is its own factory,
`Mutant(preset, seed=0, device="cpu")`, so `twinport parity --port
chainer_port.mutants.PAIR:NAME` runs it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from chainer_port.optimizer import SpecOptimizer
from chainer_port.tf_compat import TFCompat
from chainer_port.twin import ChainerTwin
from spec.optimizers import Optimizer, Slot


def compat_mutant(model: type[ChainerTwin], name: str, doc: str, **options: Any
                  ) -> Callable[..., ChainerTwin]:
    """A factory of the `model` port with `options` of `TFCompat` set (the rest TF's)."""
    compat = dataclasses.replace(TFCompat(), **options)

    def factory(preset: Any, seed: int = 0, device: str = "cpu") -> ChainerTwin:
        return model(preset, seed=seed, device=device, tf_compat=compat)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory


def optimizer_mutant(model: type[ChainerTwin], name: str, doc: str,
                     settings: dict[str, Any] | None = None, **changes: Any
                     ) -> Callable[..., ChainerTwin]:
    """A factory of the `model` port whose optimizer kind has `changes` (its slots, its
    Chainer update: `spec.optimizers.OptimizerKind`) and whose `settings` replace the pair's
    (Chainer's defaults where TF1's are meant), the rest kept."""

    def factory(preset: Any, seed: int = 0, device: str = "cpu") -> ChainerTwin:
        port = model(preset, seed=seed, device=device)
        spec = port.pair.optimizer
        kind = dataclasses.replace(spec.kind, **changes)
        port.optimizer = SpecOptimizer(Optimizer(kind, spec.learning_rate,
                                                 **{**spec.settings, **(settings or {})}))
        port.optimizer.setup(port)
        return port

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return factory


def chainer_rmsprop(optimizer: Optimizer, var: Any, grad: Any, state: dict[str, Any],
                    lr: float, t: float) -> None:
    """Chainer's own `RMSprop` update (its mean square `ms` started at zeros by the mutant's
    slots), with TF1's momentum slot carrying the step: epsilon outside the square root."""
    s = optimizer.settings
    state["rms"] += (grad * grad - state["rms"]) * (1 - s["decay"])
    state["momentum"] *= s["momentum"]
    state["momentum"] += lr * grad / (state["rms"] ** 0.5 + s["epsilon"])
    var -= state["momentum"]


# Chainer's RMSprop as a kind's changes: the mean square from zeros, epsilon outside the sqrt.
CHAINERS_RMSPROP = {"slots": lambda s: (Slot("rms"), Slot("momentum")),
                    "chainer_update": chainer_rmsprop}
