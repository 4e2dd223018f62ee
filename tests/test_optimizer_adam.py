"""Adam in both twin bases, as TF1's AdamOptimizer: each twin against TF1's rule in float64 (the
TF twin against TF1's own optimizer: tests/test_optimizers.py); the state across the port
interface (names, layout, checks, reset); the harness syncing it, comparing it and checking the
port's update rule, so a correct port PASSes and an update-rule or a moment mistake FAILs where
it is."""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict

import chainer.functions as F
import numpy as np
import pytest

from chainer_port.optimizer import SpecOptimizer
from chainer_port.tf_compat import nhwc_flatten
from common.errors import UserError
from parity.capture import Capture
from parity.comparer import UPDATE_HINT
from parity.harness import check_port
from parity.port import load_port, port_spec
from parity.results import ParityRun
from spec.optimizers import Optimizer
from spec.weights import STEP
from tests.outside_pair import ADAM_PAIR, PAIR, ChainerAdamRegressor
from tests.references import small_reference

MODEL = "tests.outside_pair:ADAM_PAIR"
BACKENDS = ("tf", "chainer")
OPTIMIZER = ADAM_PAIR.optimizer
LR = OPTIMIZER.learning_rate(0)


def batches(count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": rng.random((3, 16, 16, 3), dtype=np.float32),
             "target": rng.random((3, 3), dtype=np.float32)} for _ in range(count)]


def tf1_adam(weights: dict, state: dict, grads: dict) -> tuple[dict, dict]:
    """One update of TF1's AdamOptimizer in float64, from its documented rule: (weights,
    state) after it. A variable whose gradient is None keeps its value and its slots."""
    b1, b2, eps = OPTIMIZER.beta1, OPTIMIZER.beta2, OPTIMIZER.epsilon
    t = state[STEP] + 1
    lr_t = LR * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    weights, state = dict(weights), {**state, STEP: t}
    for name, g in grads.items():
        if g is None:
            continue
        m = b1 * state[f"{name}/Adam"] + (1 - b1) * g
        v = b2 * state[f"{name}/Adam_1"] + (1 - b2) * g * g
        weights[name] = weights[name] - lr_t * m / (np.sqrt(v) + eps)
        state[f"{name}/Adam"], state[f"{name}/Adam_1"] = m, v
    return weights, state


def float64(arrays: dict) -> dict:
    return {name: np.asarray(value, np.float64) for name, value in arrays.items()}


def assert_state_close(found: dict, expected: dict) -> None:
    """rtol 5e-5: TF1's kernel takes 1 - beta2 in float32, 1.3e-5 below 0.001."""
    assert list(found) == list(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=5e-5,
                                   atol=1e-6 * np.abs(value).max(), err_msg=name)


def assert_weights_close(found: dict, expected: dict, start: dict) -> None:
    """Within float32 rounding of the weights, and so within 1e-4 of each update."""
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=0,
                                   atol=1e-4 * np.abs(value - start[name]).max()
                                   + 2 ** -23 * np.abs(value).max(), err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_adam_steps_of_each_twin_are_tf1s_rule(backend):
    """epsilon 1e-3 is of the size of sqrt(v) here, so where it goes and how the bias is
    corrected show in every update."""
    model = ADAM_PAIR.twin_class(backend)("small", seed=1)
    state = float64(model.get_optimizer_state())
    assert state[STEP] == 0 and all(not value.any() for value in state.values())
    for step, batch in enumerate(batches(3)):
        start = model.get_weights()
        _, grads, _ = model.gradients(batch)
        weights, state = tf1_adam(float64(start), state, float64(grads))
        assert model.train_step(batch, {}, step)["lr"] == LR
        assert_weights_close(model.get_weights(), weights, start)
        assert_state_close(model.get_optimizer_state(), state)
    assert model.get_optimizer_state()[STEP] == 3


class SometimesWithoutBias(ChainerAdamRegressor):
    """The dense layer's bias left out of the graph while `with_bias` is False."""

    with_bias = True

    def _dense(self, layer, x, training):
        return F.linear(nhwc_flatten(x), self.var(layer, "kernel"),
                        self.var(layer, "bias") if self.with_bias else None)


def test_a_variable_without_gradient_keeps_its_value_and_slots_as_in_tf1():
    """Chainer's Adam would give it a zero gradient (its momentum moving it) and hold back its
    own count; the twin skips it, and its next update's bias correction counts every update."""
    model = SometimesWithoutBias("small", seed=3)
    state = float64(model.get_optimizer_state())
    for step, batch in enumerate(batches(3, seed=3)):
        model.with_bias = step != 1
        start = model.get_weights()
        _, grads, _ = model.gradients(batch)
        grads = {**float64(grads), "dense/bias": float64(grads)["dense/bias"]
                 if model.with_bias else None}
        weights, state = tf1_adam(float64(start), state, grads)
        model.train_step(batch, {}, step)
        assert_weights_close(model.get_weights(), weights, start)
        assert_state_close(model.get_optimizer_state(), state)
        if step == 1:
            np.testing.assert_array_equal(model.get_weights()["dense/bias"], start["dense/bias"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_state_crosses_the_interface_in_tf_names_and_layout(backend):
    model = ADAM_PAIR.twin_class(backend)("small")
    names = list(model.get_optimizer_state())
    assert names[:4] == ["conv1/kernel/Adam", "conv1/kernel/Adam_1", "conv1/bias/Adam",
                         "conv1/bias/Adam_1"] and names[-1] == STEP and len(names) == 17
    rng = np.random.default_rng(4)
    state = OrderedDict((name, rng.random(value.shape, dtype=np.float32))
                        for name, value in model.get_optimizer_state().items())
    state[STEP] = np.float32(7)
    model.set_optimizer_state(state)
    for name, value in model.get_optimizer_state().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)
    # set_weights leaves the state; a reset is a fresh optimizer's.
    model.set_weights(ADAM_PAIR.twin_class(backend)("small", seed=5).get_weights())
    assert model.get_optimizer_state()[STEP] == 7
    model.reset_optimizer_state()
    assert all(not value.any() for value in model.get_optimizer_state().values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_optimizer_state_refuses_a_wrong_name_or_shape_in_one_line(backend):
    model = ADAM_PAIR.twin_class(backend)("small")
    state = model.get_optimizer_state()
    state["conv1/kernel/m"] = state.pop("conv1/kernel/Adam")
    state["dense/bias/Adam_1"] = np.zeros(4, np.float32)
    state[STEP] = np.float32(2.5)
    with pytest.raises(UserError) as error:
        model.set_optimizer_state(state)
    message = str(error.value)
    assert "\n" not in message and message == (
        "set_optimizer_state: optimizer state does not fit this model (4 problems): missing "
        "conv1/kernel/Adam [3, 3, 3, 4]; step must be a whole number >= 0, got 2.5; "
        "unexpected conv1/kernel/m [3, 3, 3, 4]; dense/bias/Adam_1 has shape [4], "
        "expected [3] (TF layout)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_sgd_keeps_no_state(backend):
    model = PAIR.twin_class(backend)("small")
    assert model.get_optimizer_state() == {}
    model.set_optimizer_state({})
    model.reset_optimizer_state()
    with pytest.raises(UserError, match=r"\(1 problem\): unexpected step \[\]$"):
        model.set_optimizer_state({STEP: np.float32(1)})


def test_an_unknown_optimizer_or_setting_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"^optimizer 'adagrad': known kinds are sgd, adam, "
                                        r"rmsprop, momentum \(or an OptimizerKind"):
        Optimizer("adagrad", lambda step: 0.1)
    with pytest.raises(UserError, match=r"^optimizer adam: unknown setting\(s\) decay \(known: "
                                        r"beta1, beta2, epsilon\)$"):
        Optimizer("adam", lambda step: 0.1, decay=0.9)


# -- the harness -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(moving_objects_dir):
    return small_reference(MODEL, moving_objects_dir)


def test_the_adam_pair_passes_with_its_state_synced_and_compared(reference):
    port, layout = load_port(port_spec(None, ADAM_PAIR), reference.preset, 0, "cpu")
    run = check_port(reference, port, layout, progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    after = [d.name for d in run.sections["after_training"]]
    state = list(port.get_optimizer_state())
    updates = [f"{name} update" for name in port.get_weights()]
    assert after == state + updates + list(port.get_weights())
    assert port.get_optimizer_state()[STEP] == 3  # set to the reference's 2, then its own
    assert all(d.passed for d in run.sections["training_losses"])


def epsilon_inside(optimizer, var, grad, state, lr, t):
    """sqrt(v + epsilon): epsilon inside the square root."""
    m, v, s = state["m"], state["v"], optimizer.settings
    m += (1 - s["beta1"]) * (grad - m)
    v += (1 - s["beta2"]) * (grad * grad - v)
    lr_t = lr * math.sqrt(1 - s["beta2"] ** t) / (1 - s["beta1"] ** t)
    var -= lr_t * m / np.sqrt(v + s["epsilon"])


def bias_corrected_moments(optimizer, var, grad, state, lr, t):
    """The paper's Algorithm 1 (PyTorch's form): the bias corrected in m and v, epsilon added
    to sqrt(v_hat)."""
    m, v, s = state["m"], state["v"], optimizer.settings
    m += (1 - s["beta1"]) * (grad - m)
    v += (1 - s["beta2"]) * (grad * grad - v)
    m_hat, v_hat = m / (1 - s["beta1"] ** t), v / (1 - s["beta2"] ** t)
    var -= lr * m_hat / (np.sqrt(v_hat) + s["epsilon"])


def adam_port(preset, update=None, beta2=OPTIMIZER.beta2) -> ChainerAdamRegressor:
    """The Adam pair's Chainer twin with another Chainer update or beta2: a kind of its own
    (`spec.optimizers.OptimizerKind`), as a port's own optimizer code would be."""
    kind = dataclasses.replace(OPTIMIZER.kind, chainer_update=update)
    settings = {**OPTIMIZER.settings, "beta2": beta2}
    port = ChainerAdamRegressor(preset)
    port.optimizer = SpecOptimizer(Optimizer(kind, OPTIMIZER.learning_rate, **settings))
    port.optimizer.setup(port)
    return port


@pytest.mark.parametrize("update", [epsilon_inside, bias_corrected_moments])
def test_an_update_rule_mistake_fails_at_the_update_and_is_named(reference, update):
    run = check_port(reference, adam_port(reference.preset, update), "NCHW", progress=False)
    verdict = run.ensure_verdict()
    assert not verdict.passed and verdict.first_section == "after_training"
    assert verdict.first_divergent == "conv1/kernel update"
    assert "update rule" in verdict.summary_text()
    after = run.sections["after_training"]
    updates = [d for d in after if d.name.endswith(" update")]
    assert any(d.failed for d in updates)
    assert all(d.hint == UPDATE_HINT for d in updates if d.failed)
    assert all(d.passed for d in after if "/Adam" in d.name or d.name == STEP)


def test_a_wrong_beta2_fails_at_the_second_moment(reference):
    """The state is synced and compared: a beta2 of 0.99 shows first in the v slot of the first
    variable (the state leads the section), while every m slot agrees."""
    run = check_port(reference, adam_port(reference.preset, beta2=0.99), "NCHW",
                     progress=False)
    verdict = run.ensure_verdict()
    assert (verdict.first_section, verdict.first_divergent) == ("after_training",
                                                                "conv1/kernel/Adam_1")
    after = run.sections["after_training"]
    assert all(d.passed for d in after if d.name.endswith("/Adam"))


def test_captures_store_and_compare_the_state(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("weights", "init", "--model", MODEL, "--preset", "small", "-o",
                           tmp_path / "w.npz")
    assert status == 0, out + err
    common = ("--model", MODEL, "--preset", "small", "--data", moving_objects_dir,
              "--weights", tmp_path / "w.npz", "--batch-size", "2", "--steps", "2")
    for backend in BACKENDS:
        status, out, err = cli("parity", "capture", "--backend", backend, *common, "-o",
                               tmp_path / f"{backend}.npz")
        assert status == 0, out + err
    state = Capture.load(tmp_path / "chainer.npz").section("after_state")
    assert list(state)[-1] == STEP and state[STEP] == 2 and len(state) == 17
    status, out, err = cli("parity", "compare", tmp_path / "tf.npz", tmp_path / "chainer.npz",
                           "--out", tmp_path / "report")
    assert status == 0 and "PASS" in out, out + err
    after = [d.name for d in ParityRun.load(tmp_path / "report").sections["after_training"]]
    assert after[:len(state)] == list(state)


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_a_resumed_adam_run_equals_an_uninterrupted_one(cli, moving_objects_dir, tmp_path,
                                                        backend):
    """The checkpoint keeps Adam's m, v and step (optimizer.npz): a run stopped after 2
    steps and resumed to 4 gives the same losses and weights as one of 4 steps."""
    from twinport.runs import RunDir

    def train(out, steps, *extra):
        status, stdout, err = cli(
            "train", "--model", "tests.outside_pair:ADAM_PAIR", "--backend", backend,
            "--preset", "small", "--data", moving_objects_dir, "--steps", steps,
            "--batch-size", "2", "--checkpoint-every", "2", "--out", out, "--quiet", *extra)
        assert status == 0, stdout + err

    train(tmp_path / "whole", "4")
    train(tmp_path / "parts", "2")
    assert RunDir(tmp_path / "parts").latest_checkpoint().optimizer_state()["step"] == 2
    train(tmp_path / "parts", "4", "--resume")
    runs = [RunDir(tmp_path / name) for name in ("whole", "parts")]
    losses = [[row["loss"] for row in run.read_losses()] for run in runs]
    assert losses[0] == losses[1]
    weights = [np.load(run.latest_checkpoint().weights_path) for run in runs]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])


def test_a_weight_apart_only_where_adams_first_moment_is_noise_is_a_tie():
    """Adam's step has the same size whatever the gradient's scale: where m is rounding noise
    on both sides (m of opposite signs here) the two steps may point opposite ways."""
    from parity.compare import compare_arrays
    from parity.comparer import explain_moment_noise
    from parity.diff import FAIL, TIE
    from parity.synced import Trained

    adam = Optimizer("adam", lambda step: 1e-3)
    m = np.array([1.0, 2.0, 1e-9, 3.0])
    weights = np.array([0.5, 0.4, 1e-3, 0.2])

    def judged(port_m: np.ndarray, port_w: np.ndarray) -> str:
        ref = Trained(OrderedDict(w=weights), OrderedDict({"w/Adam": m}))
        port = Trained(OrderedDict(w=port_w), OrderedDict({"w/Adam": port_m}))
        diff = compare_arrays("w", weights, port_w, 1e-4, 1e-4)
        return explain_moment_noise(diff, ref, port, adam).status

    noisy_m = m * np.array([1, 1, -1, 1])
    assert judged(noisy_m, weights * np.array([1, 1, -1, 1])) == TIE
    assert judged(noisy_m, weights * np.array([1, -1, 1, 1])) == FAIL  # where m agrees
