"""google/e3d_lstm's training step as an optimizer kind of the pair's own: its `adam_updates`
(model_factory.py; not TF1's Adam) and the `ExponentialMovingAverage` of every trainable
variable, one update of both per step (docs/models/e3d_lstm.md).

    v  = mom1 v  + (1 - mom1) g          v_hat  = v  / (1 - mom1^t')
    mg = mom2 mg + (1 - mom2) g^2        mg_hat = mg / (1 - mom2^t')
    var -= lr v_hat / sqrt(mg_hat + epsilon)     (epsilon inside the sqrt)
    shadow = decay shadow + (1 - decay) var      (the var before the step, or after it)

t' is the step's count t (1 at the first), or t + 1 with `t_ahead` (the code reads its `t`
after its own `assign_add` in the same group, almost always). The slots are named as the code
means them, `{var}/adam_v`, `{var}/adam_mg` (it names them `Variable_N`: `tf.Variable`'s second
argument is `trainable`), and `{var}/ExponentialMovingAverage`, which starts at the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spec.optimizers import OptimizerKind, Slot


def _t(t: float, s: Mapping[str, Any]) -> float:
    return t + 1 if s["t_ahead"] else t


def _step(xp: Any, var: Any, grad: Any, slots: Mapping[str, Any], lr: float, t: float,
          s: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    t = _t(t, s)
    v = s["mom1"] * slots["v"] + (1 - s["mom1"]) * grad
    mg = s["mom2"] * slots["mg"] + (1 - s["mom2"]) * grad * grad
    v_hat = v / (1 - s["mom1"] ** t)
    mg_hat = mg / (1 - s["mom2"] ** t)
    new_var = var - lr * v_hat / xp.sqrt(mg_hat + s["epsilon"])
    averaged = var if s["ema_of"] == "before" else new_var
    ema = s["ema_decay"] * slots["ema"] + (1 - s["ema_decay"]) * averaged
    return new_var, {"v": v, "mg": mg, "ema": ema}


def _change(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], t: float,
            lr: float, s: Mapping[str, Any]) -> np.ndarray:
    t = _t(t, s)
    v_hat = after["v"] / (1 - s["mom1"] ** t)
    mg_hat = after["mg"] / (1 - s["mom2"] ** t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -lr * v_hat / np.sqrt(mg_hat + s["epsilon"])


E3D_ADAM = OptimizerKind(
    "e3d_adam", "Adam",
    {"mom1": 0.95, "mom2": 0.9995, "epsilon": 1e-8, "ema_decay": 0.9995, "t_ahead": True,
     "ema_of": "before"},
    lambda s: (Slot("v", name="adam_v"), Slot("mg", name="adam_mg"),
               Slot("ema", None, "ExponentialMovingAverage")),
    _step, _change, None,
    advice="google/e3d_lstm's adam_updates: epsilon inside the sqrt of the bias-corrected "
           "second moment, mom1 0.95, mom2 0.9995, and an EMA of every variable")

__all__ = ["E3D_ADAM"]
