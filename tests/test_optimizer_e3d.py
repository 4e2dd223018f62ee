"""google/e3d_lstm's own training step as an optimizer kind (`spec.e3d_lstm.optimizer`): each
twin, on a small pair, against the code's formula written out here in float64, for both
readings of its races (t before or after its increment; the EMA of the weight before or after
the step); its slots by the names the code means, the moving average starting at the
variable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chainer_port.mutants.e3d_lstm import without_ema
from chainer_port.optimizer import SpecOptimizer
from parity.harness import check_port
from spec.e3d_lstm.optimizer import E3D_ADAM
from spec.optimizers import Optimizer
from spec.weights import STEP
from tests.outside_pair import PAIR, ChainerRegressor, TFRegressor
from tests.references import small_reference
from tests.test_optimizers import LR, assert_steps_follow, batches, twins


def code_step(p, g, v, mg, ema, t, t_ahead, ema_of):
    """model_factory.adam_updates (mom1 0.95, mom2 0.9995) and the EMA (0.9995), float64."""
    t = t + 1 if t_ahead else t
    v = 0.95 * v + 0.05 * g
    mg = 0.9995 * mg + 0.0005 * g * g
    p_t = p - LR * (v / (1 - 0.95 ** t)) / np.sqrt(mg / (1 - 0.9995 ** t) + 1e-8)
    ema = 0.9995 * ema + 0.0005 * (p if ema_of == "before" else p_t)
    return p_t, v, mg, ema


@pytest.mark.parametrize("backend", ["tf", "chainer"])
@pytest.mark.parametrize(("t_ahead", "ema_of"), [(True, "before"), (False, "after")])
def test_three_steps_of_each_twin_are_the_codes_step(backend, t_ahead, ema_of):
    spec = Optimizer(E3D_ADAM, lambda step: LR, t_ahead=t_ahead, ema_of=ema_of)

    def rule(var, grad, slots, t):
        var, *slots = code_step(var, grad, *slots, t, t_ahead, ema_of)
        return var, slots

    # Slots at rtol 1e-4: TF takes 1 - 0.9995^t in float32, 5e-5 off at t = 1.
    assert_steps_follow(twins(spec)[backend]("small", seed=1), rule, slot_rtol=1e-4)


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_the_moving_average_starts_at_the_variable(backend):
    model = twins(Optimizer(E3D_ADAM, lambda step: LR))[backend]("small", seed=2)
    state, weights = model.get_optimizer_state(), model.get_weights()
    assert list(state)[:3] == ["conv1/kernel/adam_v", "conv1/kernel/adam_mg",
                               "conv1/kernel/ExponentialMovingAverage"]
    for name, value in weights.items():
        np.testing.assert_array_equal(state[f"{name}/ExponentialMovingAverage"], value)
        assert not state[f"{name}/adam_v"].any()
    model.train_step(batches(1)[0], {}, 0)
    model.reset_optimizer_state()
    state, weights = model.get_optimizer_state(), model.get_weights()
    for name, value in weights.items():  # a fresh optimizer's, on the weights of now
        np.testing.assert_array_equal(state[f"{name}/ExponentialMovingAverage"], value)
    assert state[STEP] == 0


E3D_PAIR = dataclasses.replace(
    PAIR, name="tiny_regressor_e3d", optimizer=Optimizer(E3D_ADAM, lambda step: LR),
    twins={"tf": "tests.test_optimizer_e3d:TFE3D",
           "chainer": "tests.test_optimizer_e3d:ChainerE3D"})


class TFE3D(TFRegressor):
    pair = E3D_PAIR


class ChainerE3D(ChainerRegressor):
    pair = E3D_PAIR


@pytest.fixture(scope="module")
def reference(moving_objects_dir):
    return small_reference("tests.test_optimizer_e3d:E3D_PAIR", moving_objects_dir)


def test_the_harness_syncs_and_compares_the_codes_state(reference):
    port = ChainerE3D(reference.preset)
    run = check_port(reference, port, "NCHW", progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    after = [d.name for d in run.sections["after_training"]]
    assert "conv1/kernel/ExponentialMovingAverage" in after and "conv1/kernel update" in after


def test_the_moving_average_not_kept_fails_at_its_slot(reference):
    spec = E3D_PAIR.optimizer
    kind = dataclasses.replace(spec.kind, chainer_update=without_ema)
    port = ChainerE3D(reference.preset)
    port.optimizer = SpecOptimizer(Optimizer(kind, spec.learning_rate, **spec.settings))
    port.optimizer.setup(port)
    verdict = check_port(reference, port, "NCHW", progress=False).ensure_verdict()
    assert verdict.first_section == "after_training"
    assert verdict.first_divergent.endswith("/ExponentialMovingAverage")  # a bias's, first
    assert "optimizer's state" in verdict.summary_text()
