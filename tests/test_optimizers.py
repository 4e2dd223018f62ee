"""TF1's RMSProp and Momentum as optimizer kinds (`spec.optimizers`): each twin against the
documented rule in float64, the TF twin against `tf.compat.v1.train.*` itself, the slots by
TF1's names and first values across the interface, and a kind a pair declares itself."""

from __future__ import annotations

import dataclasses

import chainer
import numpy as np
import pytest
from chainer import optimizers

from chainer_port.optimizer import SpecOptimizer
from spec.optimizers import KINDS, Optimizer, OptimizerKind, Slot
from spec.weights import STEP
from tests.outside_pair import PAIR, ChainerRegressor, TFRegressor

LR = 0.01
# (kind, settings): epsilon of the size of the mean square, so where it goes shows.
CASES = {
    "rmsprop": ("rmsprop", {"epsilon": 0.5}),
    "rmsprop-momentum": ("rmsprop", {"epsilon": 0.5, "momentum": 0.9, "decay": 0.8}),
    "rmsprop-centered": ("rmsprop", {"epsilon": 0.5, "momentum": 0.5, "centered": True}),
    "momentum": ("momentum", {"momentum": 0.9}),
    "nesterov": ("momentum", {"momentum": 0.9, "use_nesterov": True}),
}


def twins(optimizer: Optimizer) -> dict[str, type]:
    pair = dataclasses.replace(PAIR, optimizer=optimizer)
    return {"tf": type("TF", (TFRegressor,), {"pair": pair}),
            "chainer": type("Chainer", (ChainerRegressor,), {"pair": pair})}


def optimizer(case: str) -> Optimizer:
    kind, settings = CASES[case]
    return Optimizer(kind, lambda step: LR, **settings)


def batches(count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": rng.random((3, 16, 16, 3), dtype=np.float32),
             "target": rng.random((3, 3), dtype=np.float32)} for _ in range(count)]


def closed_form(case: str, var, grad, slots: list) -> tuple[np.ndarray, list]:
    """One update from TF1's documented rules (training/rmsprop.py, momentum.py), float64."""
    kind, s = CASES[case]
    if kind == "momentum":
        accum = s["momentum"] * slots[0] + grad
        step = LR * (grad + s["momentum"] * accum) if s.get("use_nesterov") else LR * accum
        return var - step, [accum]
    rho, mu = s.get("decay", 0.9), s.get("momentum", 0.0)
    ms = rho * slots[0] + (1 - rho) * grad ** 2
    if s.get("centered"):
        mg = rho * slots[1] + (1 - rho) * grad
        mom = mu * slots[2] + LR * grad / np.sqrt(ms - mg ** 2 + s["epsilon"])
        return var - mom, [ms, mg, mom]
    mom = mu * slots[1] + LR * grad / np.sqrt(ms + s["epsilon"])
    return var - mom, [ms, mom]


def assert_steps_follow(model, rule, slot_rtol: float, steps: int = 3) -> None:
    """`steps` training steps of `model`, each variable and slot against `rule(start, grad,
    slots, t)` -> (variable, slots in `Optimizer.slots` order), float64 from the state before."""
    spec = model.pair.optimizer
    state = {name: np.float64(value) for name, value in model.get_optimizer_state().items()}
    for step, batch in enumerate(batches(steps)):
        start = model.get_weights()
        _, grads, _ = model.gradients(batch)
        model.train_step(batch, {}, step)
        weights, found = model.get_weights(), model.get_optimizer_state()
        for name, grad in grads.items():
            slots = [state[f"{name}/{slot}"] for slot in spec.slots]
            var, slots = rule(np.float64(start[name]), np.float64(grad), slots, step + 1)
            scale = np.abs(var - start[name]).max()
            np.testing.assert_allclose(weights[name], var, rtol=0, err_msg=name,
                                       atol=1e-4 * scale + 2 ** -23 * np.abs(var).max())
            for slot, value in zip(spec.slots, slots, strict=True):
                np.testing.assert_allclose(found[f"{name}/{slot}"], value, rtol=slot_rtol,
                                           atol=1e-7 * np.abs(value).max(), err_msg=slot)
                state[f"{name}/{slot}"] = value
    assert model.get_optimizer_state()[STEP] == steps


@pytest.mark.parametrize("backend", ["tf", "chainer"])
@pytest.mark.parametrize("case", CASES)
def test_three_steps_of_each_twin_are_tf1s_rule(case, backend):
    model = twins(optimizer(case))[backend]("small", seed=1)
    assert_steps_follow(model, lambda var, grad, slots, t: closed_form(case, var, grad, slots),
                        slot_rtol=1e-5)


TF1 = {"rmsprop": ("RMSPropOptimizer", ("rms", "mg", "momentum")),
       "momentum": ("MomentumOptimizer", ("momentum",)), "adam": ("AdamOptimizer", ("m", "v"))}
# Adam's epsilon of the size of sqrt(v), so where it goes shows.
ORACLE = {**CASES, "adam": ("adam", {"epsilon": 1e-3})}


@pytest.mark.parametrize("case", ORACLE)
def test_the_tf_twin_is_tf1s_own_optimizer(case):
    """TF itself as the oracle: tf.compat.v1.train's optimizer on copies of the variables,
    given the same gradients, two steps; its slots by its own slot names."""
    import tensorflow as tf

    kind, settings = ORACLE[case]
    spec = Optimizer(kind, lambda step: LR, **settings)
    model = twins(spec)["tf"]("small", seed=2)
    copies = {name: tf.Variable(value) for name, value in model.get_weights().items()}
    cls, keys = TF1[spec.kind.name]
    tf1 = getattr(tf.compat.v1.train, cls)(LR, **spec.settings)
    for step, batch in enumerate(batches(2, seed=2)):
        _, grads, _ = model.gradients(batch)
        model.train_step(batch, {}, step)
        tf1.apply_gradients([(tf.constant(grads[name]), copies[name]) for name in copies])
        weights, state = model.get_weights(), model.get_optimizer_state()
        for name, copy in copies.items():
            np.testing.assert_allclose(weights[name], copy.numpy(), rtol=1e-6, atol=1e-9)
            ours = [key for key in keys if key in spec.keys]
            for slot, key in zip(spec.slots, ours, strict=True):
                np.testing.assert_allclose(state[f"{name}/{slot}"],
                                           tf1.get_slot(copy, key).numpy(), rtol=1e-6,
                                           atol=1e-12, err_msg=f"{name}/{slot}")


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_rmsprops_state_is_tf1s_slots_its_mean_square_starting_at_ones(backend):
    spec = optimizer("rmsprop-centered")
    model = twins(spec)[backend]("small")
    state = model.get_optimizer_state()
    assert list(state)[:3] == ["conv1/kernel/RMSProp", "conv1/kernel/RMSProp_1",
                               "conv1/kernel/RMSProp_2"] and list(state)[-1] == STEP
    for name, value in state.items():
        assert np.all(value == (1 if name.endswith("/RMSProp") else 0)), name
    model.train_step(batches(1)[0], {}, 0)
    model.reset_optimizer_state()
    for name, value in model.get_optimizer_state().items():
        assert np.all(value == (1 if name.endswith("/RMSProp") else 0)), name


def test_chainers_own_rmsprop_is_not_tf1s():
    """The pitfall: Chainer's RMSprop starts the mean square at zeros and adds epsilon outside
    the sqrt; its first step is lr sign(g) / sqrt(1 - decay), TF1's about lr g."""
    grad = np.array([0.1, -0.01], np.float32)
    var = np.zeros(2, np.float32)
    tf1, _ = optimizer("rmsprop").step(np, var, grad, [np.ones(2), np.zeros(2)], LR, 1)
    rule = optimizers.RMSprop(lr=LR, alpha=0.9, eps=0.5).create_update_rule()
    param = chainer.Parameter(var.copy())
    param.grad = grad.copy()
    rule.update(param)
    np.testing.assert_allclose(tf1, -LR * grad / np.sqrt(0.9 + 0.1 * grad ** 2 + 0.5))
    np.testing.assert_allclose(param.array, -LR * grad / (np.sqrt(0.1 * grad ** 2) + 0.5),
                               rtol=1e-6)
    assert not np.allclose(param.array, tf1, rtol=0.1)


def test_a_pair_declares_its_own_kind():
    """An optimizer kind is one declaration: slots, TF update, Chainer update (here the rule
    itself), float64 rule. Sign SGD with a decaying trace, made up for the test."""

    def rule(xp, var, grad, slots, lr, t, s):
        trace = slots["trace"] * s["decay"] + grad
        return var - lr * xp.sign(trace), {"trace": trace}

    def tf_update(opt, var, grad, slots, lr, t):
        import tensorflow as tf

        slots["trace"].assign(slots["trace"] * opt.decay + grad)
        var.assign_sub(lr * tf.sign(slots["trace"]))

    kind = OptimizerKind("sign", "Sign", {"decay": 0.5}, lambda s: (Slot("trace"),), rule,
                         lambda before, after, t, lr, s: -lr * np.sign(after["trace"]),
                         tf_update)
    assert kind.name not in KINDS
    spec = Optimizer(kind, lambda step: LR, decay=0.25)
    models = {backend: cls("small", seed=3) for backend, cls in twins(spec).items()}
    models["chainer"].set_weights(models["tf"].get_weights())
    for step, batch in enumerate(batches(2, seed=3)):
        for model in models.values():
            model.train_step(batch, {}, step)
    tf_state, chainer_state = (models[b].get_optimizer_state() for b in ("tf", "chainer"))
    assert list(tf_state)[0] == "conv1/kernel/Sign"
    for name, value in tf_state.items():
        np.testing.assert_allclose(chainer_state[name], value, rtol=1e-4, atol=1e-6)
    assert isinstance(models["chainer"].optimizer, SpecOptimizer)
