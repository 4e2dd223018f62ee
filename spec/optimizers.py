"""TF1's optimizers as declarations: each kind is its slots, its TF update, its Chainer update
and its rule in float64, in one `OptimizerKind`; a pair names a kind (or declares its own) in
its `Optimizer`.

The rule (`OptimizerKind.step`) is written once over an array module `xp` (NumPy in float64
for the tests and the harness's update check, NumPy or CuPy in the model's dtype for the
Chainer twin, which runs it unless the kind names an update of its own); the TF twin runs the
kind's TF1 kernel (`tf_update`, "module:function" so that this module imports no framework).

State crosses the port interface by TF1's slot names: the slots a TF1 optimizer makes for a
variable are `{var}/{Name}`, `{var}/{Name}_1`, ... in the order it creates them (TF1 makes
each slot a variable named after the optimizer, uniquified by the graph); Adam's m and v are
`{var}/Adam` and `{var}/Adam_1`, RMSProp's rms, (mg,) momentum `{var}/RMSProp`,
`{var}/RMSProp_1`(, `_2`), Momentum's accumulator `{var}/Momentum`. Plus `step`, the number
of updates made (Adam's bias correction reads it).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import UserError

Arrays = dict[str, Any]


@dataclass(frozen=True)
class Slot:
    """One piece of state per trainable variable: its key in the rule, its first value (TF1's
    RMSProp starts its mean square at ones, most at zeros; None: the variable's own value, as
    an `ExponentialMovingAverage`'s shadow) and, where the rule of TF1's names does not give
    it, its name (`{var}/{name}`)."""

    key: str
    start: float | None = 0.0
    name: str = ""


@dataclass(frozen=True)
class OptimizerKind:
    """One optimizer as TF1 runs it.

    name: what a pair's `Optimizer` names; tf_name: TF1's optimizer name (its slots' names).
    defaults: its settings and their TF1 defaults (a pair's `Optimizer` may set any of them).
    slots: (settings) -> the state kept per variable, in TF1's order of creation.
    step: (xp, var, grad, slots, lr, t, settings) -> (var, slots) after one update, t the
        update's count (1 at the first); arrays in, new arrays out.
    change: (slots before, slots after, t, lr, settings) -> what the update that took the
        slots from `before` to `after` added to the variable, float64 (the harness's check of
        a port's last update, which sees the state but not the gradient).
    tf_update: "module:function" or the function, (optimizer, variable, grad, {key: slot
        variable}, lr, t) running TF1's kernel on the variables in place; None runs `step` on
        TF's tensors (`tf_reference.optimizers.by_rule`), for a kind TF1 has no kernel of.
    chainer_update: the same for Chainer arrays, (optimizer, param array, grad, {key: state
        array}, lr, t) in place; None runs `step`.
    advice: what a port gets wrong most often, for the hints.
    scale_free: the step's size does not follow the gradient's (Adam's m / sqrt(v)), so where
        the gradient is rounding noise the step may go either way (`parity.comparer`).
    """

    name: str
    tf_name: str
    defaults: Mapping[str, Any]
    slots: Callable[[Mapping[str, Any]], tuple[Slot, ...]]
    step: Callable[..., tuple[Any, Arrays]]
    change: Callable[..., np.ndarray] | None
    tf_update: str | Callable[..., None] | None
    chainer_update: str | Callable[..., None] | None = None
    advice: str = ""
    scale_free: bool = False

    def slot_names(self, settings: Mapping[str, Any]) -> tuple[str, ...]:
        """TF1's slot names: the optimizer's name, then `_1`, `_2`, ... in creation order (a
        slot's own `name` where it has one)."""
        return tuple(slot.name or (self.tf_name if i == 0 else f"{self.tf_name}_{i}")
                     for i, slot in enumerate(self.slots(settings)))


def resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """A "module:function" imported (the frameworks' updates), or the callable itself."""
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# -- the rules, over any array module ------------------------------------------------------------


def _sgd_step(xp, var, grad, slots, lr, t, s):
    return var - lr * grad, {}


def _adam_step(xp, var, grad, slots, lr, t, s):
    """TF1's ApplyAdam: the moments moved by (1 - beta) of the way, the bias corrected in
    lr_t, epsilon added to sqrt(v)."""
    m = slots["m"] + (grad - slots["m"]) * (1 - s["beta1"])
    v = slots["v"] + (grad * grad - slots["v"]) * (1 - s["beta2"])
    return var - _adam_lr(lr, t, s) * m / (xp.sqrt(v) + s["epsilon"]), {"m": m, "v": v}


def _adam_lr(lr: float, t: float, s: Mapping[str, Any]) -> float:
    return lr * math.sqrt(1 - s["beta2"] ** t) / (1 - s["beta1"] ** t)


def _adam_change(before, after, t, lr, s):
    with np.errstate(divide="ignore", invalid="ignore"):  # a count of 0: no update made
        return -_adam_lr(lr, t, s) * after["m"] / (np.sqrt(after["v"]) + s["epsilon"])


def _rmsprop_slots(s: Mapping[str, Any]) -> tuple[Slot, ...]:
    return (Slot("rms", 1.0), *((Slot("mg"),) if s["centered"] else ()), Slot("momentum"))


def _rmsprop_step(xp, var, grad, slots, lr, t, s):
    """TF1's ApplyRMSProp / ApplyCenteredRMSProp: epsilon inside the square root, the
    momentum slot holding the whole step."""
    rho = s["decay"]
    ms = slots["rms"] + (grad * grad - slots["rms"]) * (1 - rho)
    out = {"rms": ms}
    denominator = ms + s["epsilon"]
    if s["centered"]:
        out["mg"] = slots["mg"] + (grad - slots["mg"]) * (1 - rho)
        denominator = denominator - out["mg"] * out["mg"]
    out["momentum"] = slots["momentum"] * s["momentum"] + lr * grad / xp.sqrt(denominator)
    return var - out["momentum"], out


def _rmsprop_change(before, after, t, lr, s):
    return -after["momentum"]


def _momentum_step(xp, var, grad, slots, lr, t, s):
    """TF1's ApplyMomentum: accum = momentum accum + g; var -= lr accum, or with Nesterov
    var -= lr (g + momentum accum)."""
    mu = s["momentum"]
    accum = slots["momentum"] * mu + grad
    step = grad * lr + accum * mu * lr if s["use_nesterov"] else accum * lr
    return var - step, {"momentum": accum}


def _momentum_change(before, after, t, lr, s):
    accum, mu = after["momentum"], s["momentum"]
    if not s["use_nesterov"]:
        return -lr * accum
    grad = accum - mu * before["momentum"]
    return -lr * (grad + mu * accum)


KINDS: dict[str, OptimizerKind] = {kind.name: kind for kind in (
    OptimizerKind("sgd", "GradientDescent", {}, lambda s: (), _sgd_step, None,
                  "tf_reference.optimizers:sgd"),
    OptimizerKind(
        "adam", "Adam", {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        lambda s: (Slot("m"), Slot("v")), _adam_step, _adam_change,
        "tf_reference.optimizers:adam",
        advice="TF1's Adam adds epsilon to sqrt(v), not inside the sqrt, and corrects the bias "
               "in lr_t, not in m and v", scale_free=True),
    OptimizerKind(
        "rmsprop", "RMSProp",
        {"decay": 0.9, "momentum": 0.0, "epsilon": 1e-10, "centered": False},
        _rmsprop_slots, _rmsprop_step, _rmsprop_change, "tf_reference.optimizers:rmsprop",
        advice="TF1's RMSProp starts its mean square at ones and adds epsilon inside the sqrt "
               "(Chainer's RMSprop: zeros, and epsilon outside)"),
    OptimizerKind(
        "momentum", "Momentum", {"momentum": 0.9, "use_nesterov": False},
        lambda s: (Slot("momentum"),), _momentum_step, _momentum_change,
        "tf_reference.optimizers:momentum",
        advice="TF1's Momentum accumulates the raw gradient and scales by lr after "
               "(Chainer's MomentumSGD accumulates lr x gradient)"),
)}


@dataclass(frozen=True)
class Optimizer:
    """The pair's optimizer: its kind (a name in `KINDS` or an `OptimizerKind` of the pair's
    own), the learning rate at a global step (the schedule `train_step` follows unless given
    an `lr`), a description, and settings over the kind's TF1 defaults
    (`Optimizer("rmsprop", lr, epsilon=1.0, momentum=0.9)`); an unknown kind or setting is a
    one-line error.
    """

    kind_name: str
    learning_rate: Callable[[float], float]
    describe: str = ""
    kind: OptimizerKind = field(init=False, repr=False)
    settings: Mapping[str, Any] = field(init=False)

    def __init__(self, kind: str | OptimizerKind, learning_rate: Callable[[float], float],
                 describe: str = "", **settings: Any) -> None:
        if isinstance(kind, str):
            if kind not in KINDS:
                raise UserError(f"optimizer {kind!r}: known kinds are {', '.join(KINDS)} (or "
                                "an OptimizerKind of the pair's own)")
            kind = KINDS[kind]
        unknown = sorted(set(settings) - set(kind.defaults))
        if unknown:
            raise UserError(f"optimizer {kind.name}: unknown setting(s) {', '.join(unknown)} "
                            f"(known: {', '.join(kind.defaults) or 'none'})")
        for name, value in (("kind_name", kind.name), ("learning_rate", learning_rate),
                            ("describe", describe), ("kind", kind),
                            ("settings", {**kind.defaults, **settings})):
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # optimizer.beta1, optimizer.epsilon, ...
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        raise AttributeError(name)

    @property
    def slots(self) -> tuple[str, ...]:
        """The state kept per trainable variable, by TF1's slot names; none for SGD."""
        return self.kind.slot_names(self.settings)

    @property
    def keys(self) -> tuple[str, ...]:
        """The same slots by their keys in the rule (Adam's m, v)."""
        return tuple(slot.key for slot in self.kind.slots(self.settings))

    def first_value(self, slot: str, variable: np.ndarray) -> np.ndarray:
        """A fresh optimizer's slot of TF1 name `slot` for a variable of value `variable`
        (float32, the variable's shape and layout)."""
        start = self.kind.slots(self.settings)[self.slots.index(slot)].start
        return (np.array(variable, np.float32) if start is None
                else np.full(np.shape(variable), start, np.float32))

    def step(self, xp: Any, var: Any, grad: Any, slots: Sequence[Any], lr: float, t: float
             ) -> tuple[Any, list[Any]]:
        """One update of one variable by the rule: (var, slots in `slots` order)."""
        new_var, new = self.kind.step(xp, var, grad, dict(zip(self.keys, slots, strict=True)),
                                      lr, t, self.settings)
        return new_var, [new[key] for key in self.keys]

    def change(self, before: Sequence[np.ndarray], after: Sequence[np.ndarray], step: float,
               lr: float) -> np.ndarray:
        """What the update that took a variable's slots from `before` to `after`, the
        `step`-th, added to it, in float64 (`OptimizerKind.change`)."""
        def named(values):
            return {key: np.asarray(value, np.float64)
                    for key, value in zip(self.keys, values, strict=True)}
        return self.kind.change(named(before), named(after), float(step), lr, self.settings)
