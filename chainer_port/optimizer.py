"""The pair's optimizer on Chainer: one `GradientMethod` for every kind of `spec.optimizers`,
whose update rule keeps the kind's slots (by their keys: Adam's `m`, `v`; RMSProp's `rms`,
`momentum`) at their first values and runs the kind's Chainer update, by default its rule
(`OptimizerKind.step`) on the parameter's own arrays (NumPy or CuPy, the model's dtype).

Chainer's own optimizers are not TF1's: its RMSprop starts the mean square at zeros and adds
epsilon outside the square root, its MomentumSGD accumulates lr x gradient; here each kind is
TF1's by construction. The state serializes as `{TF name}/{key}` and `t` (Chainer's protocol).
"""

from __future__ import annotations

from typing import Any

import chainer

from spec.optimizers import Optimizer, resolve


def step_in_place(optimizer: Optimizer, var: Any, grad: Any, state: dict[str, Any], lr: float,
                  t: float) -> None:
    """The kind's rule on Chainer's arrays, written back into them."""
    xp = chainer.backend.get_array_module(var)
    new_var, new = optimizer.kind.step(xp, var, grad, state, lr, t, optimizer.settings)
    var[...] = new_var
    for key, value in new.items():
        state[key][...] = value


class SpecRule(chainer.UpdateRule):
    """One parameter's update by the pair's optimizer kind."""

    is_elementwise = True

    def __init__(self, parent_hyperparam: chainer.optimizer.Hyperparameter, spec: Optimizer
                 ) -> None:
        super().__init__(parent_hyperparam=parent_hyperparam)
        self.spec = spec
        self.apply_update = resolve(spec.kind.chainer_update or step_in_place)

    def init_state(self, param: chainer.Parameter) -> None:
        xp = param.device.xp
        with chainer.using_device(param.device):
            for slot in self.spec.kind.slots(self.spec.settings):
                self.state[slot.key] = (param.array.copy() if slot.start is None
                                        else xp.full_like(param.array, slot.start))

    def update_core(self, param: chainer.Parameter) -> None:
        if param.grad is not None:
            self.apply_update(self.spec, param.array, param.grad, self.state, self.hyperparam.lr,
                        float(self.t))


class SpecOptimizer(chainer.GradientMethod):
    """The pair's `Optimizer` (`spec.optimizers`); the step's learning rate in `lr`."""

    def __init__(self, spec: Optimizer) -> None:
        super().__init__()
        self.spec = spec
        self.hyperparam.lr = 0.0

    def create_update_rule(self) -> SpecRule:
        return SpecRule(self.hyperparam, self.spec)

    lr = chainer.optimizer.HyperparameterProxy("lr")
