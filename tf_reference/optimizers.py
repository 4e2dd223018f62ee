"""TF1's optimizer kernels, one function per kind of `spec.optimizers.KINDS`: (optimizer,
variable, gradient, {slot key: slot variable}, lr, t) -> the update applied in place, as TF1's
`_resource_apply_dense` runs it. t, the update's count (float32 tensor), gives Adam its beta
powers (TF1 keeps them as running products; beta^t differs from those by float32 rounding).
`by_rule` runs a kind's own rule on TF's tensors, for an optimizer TF1 has no kernel of (a
pair's own, written in TF ops as the rule is)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf


def _constant(value: float) -> tf.Tensor:
    return tf.constant(value, tf.float32)


def sgd(optimizer: Any, var: tf.Variable, grad: tf.Tensor, slots: Mapping[str, tf.Variable],
        lr: tf.Tensor, t: tf.Tensor) -> None:
    tf.raw_ops.ResourceApplyGradientDescent(var=var.handle, alpha=lr, delta=grad)


def adam(optimizer: Any, var: tf.Variable, grad: tf.Tensor, slots: Mapping[str, tf.Variable],
         lr: tf.Tensor, t: tf.Tensor) -> None:
    beta1, beta2 = _constant(optimizer.beta1), _constant(optimizer.beta2)
    tf.raw_ops.ResourceApplyAdam(
        var=var.handle, m=slots["m"].handle, v=slots["v"].handle,
        beta1_power=tf.pow(beta1, t), beta2_power=tf.pow(beta2, t), lr=lr, beta1=beta1,
        beta2=beta2, epsilon=_constant(optimizer.epsilon), grad=grad)


def rmsprop(optimizer: Any, var: tf.Variable, grad: tf.Tensor, slots: Mapping[str, tf.Variable],
            lr: tf.Tensor, t: tf.Tensor) -> None:
    common = {"var": var.handle, "ms": slots["rms"].handle, "mom": slots["momentum"].handle,
              "lr": lr, "rho": _constant(optimizer.decay),
              "momentum": _constant(optimizer.momentum),
              "epsilon": _constant(optimizer.epsilon), "grad": grad}
    if optimizer.centered:
        tf.raw_ops.ResourceApplyCenteredRMSProp(mg=slots["mg"].handle, **common)
    else:
        tf.raw_ops.ResourceApplyRMSProp(**common)


def momentum(optimizer: Any, var: tf.Variable, grad: tf.Tensor,
             slots: Mapping[str, tf.Variable], lr: tf.Tensor, t: tf.Tensor) -> None:
    tf.raw_ops.ResourceApplyMomentum(
        var=var.handle, accum=slots["momentum"].handle, lr=lr, grad=grad,
        momentum=_constant(optimizer.momentum), use_nesterov=bool(optimizer.use_nesterov))


def by_rule(optimizer: Any, var: tf.Variable, grad: tf.Tensor,
            slots: Mapping[str, tf.Variable], lr: tf.Tensor, t: tf.Tensor) -> None:
    """The kind's `step` on TF's tensors (`tf.math` as its array module), every new value
    computed from the old ones before any is assigned."""
    new_var, new = optimizer.kind.step(tf.math, var.read_value(), grad,
                                       {key: slot.read_value() for key, slot in slots.items()},
                                       lr, t, optimizer.settings)
    for key, value in new.items():
        slots[key].assign(value)
    var.assign(new_var)
