"""A pair written outside twinport (tests/outside_pair.py) gets the whole harness: PASS, and a
FAIL that names the one layer its port gets wrong."""

from __future__ import annotations

import chainer.functions as F
import numpy as np
import pytest

from parity.backward import item_layer
from parity.harness import check_port, prepare_reference
from parity.port import load_port, port_spec
from parity.settings import ParitySettings
from spec.twin import TwinModel
from tests.outside_pair import EPS, PAIR, ChainerRegressor
from tests.references import small_reference

MODEL = "tests.outside_pair:PAIR"


class ChannelLayerNorm(ChainerRegressor):
    """One line wrong: the LayerNorm's statistics over the channels only (axis 1)."""

    def _layer_norm(self, layer, x, training):
        mean = F.broadcast_to(F.mean(x, axis=1, keepdims=True), x.shape)
        variance = F.broadcast_to(F.mean(F.square(x - mean), axis=1, keepdims=True), x.shape)
        y = (x - mean) / F.sqrt(variance + EPS)
        return F.bias(F.scale(y, self.var(layer, "gamma"), axis=1), self.var(layer, "beta"),
                      axis=1)


@pytest.fixture(scope="module")
def reference(moving_objects_dir):
    return small_reference(MODEL, moving_objects_dir)


def test_the_outside_pair_passes_every_section(reference):
    port, layout = load_port(port_spec(None, PAIR), reference.preset, 0, "cpu")
    run = check_port(reference, port, layout, progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    assert {"forward/end-to-end/training", "forward/isolated/inference", "backward/isolated",
            "gradients",
            "input_gradient", "training_losses", "after_training",
            "initialisation"} <= set(verdict.sections)
    assert verdict.sections["input_gradient"].n_items == 1  # image; the target is not
    learning = [d.name for d in run.sections["training_losses"] if d.name.startswith("learning")]
    assert learning == ["learning: weights moved", "learning: gradients", "learning: loss moved"]


class NoLayerBackward(ChainerRegressor):
    """A port that does not implement the layer backward of the isolated backward section."""

    layer_gradients_impl = TwinModel.layer_gradients_impl


def test_a_port_without_layer_backwards_is_checked_in_every_other_section(reference):
    run = check_port(reference, NoLayerBackward(reference.preset), "NCHW", progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    assert "backward/isolated" not in verdict.sections and "gradients" in verdict.sections


def test_one_wrong_line_fails_at_its_layer(reference):
    run = check_port(reference, ChannelLayerNorm(reference.preset), "NCHW", progress=False)
    verdict = run.ensure_verdict()
    assert not verdict.passed
    assert (verdict.first_section, verdict.first_divergent) == (
        "forward/end-to-end/inference", "norm1")
    isolated = verdict.sections["forward/isolated/inference"]
    assert isolated.first_failure == "norm1" and isolated.n_failed == 1
    backward = [d.name for d in run.sections["backward/isolated"] if d.status != "pass"]
    assert backward and {item_layer(name) for name in backward} == {"norm1"}
    # The faulty layer's error is its own (amplification ~1); downstream it is carried.
    amplification = {d.name: d.amplification
                     for d in run.sections["forward/end-to-end/inference"]}
    assert 0.5 < amplification["norm1"] < 2 and amplification["conv2"] > 10


def test_the_cli_runs_the_outside_pair(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("parity", "--model", MODEL, "--preset", "small", "--data",
                           moving_objects_dir, "--batch-size", "2", "--steps", "1",
                           "--out", tmp_path / "report", "--quiet")
    assert status == 0, out + err
    assert "PASS" in out and (tmp_path / "report" / "report.html").exists()


def test_the_outside_pair_trains_alike_on_both_backends(cli, moving_objects_dir, tmp_path):
    from twinport.runs import RunDir

    status, out, err = cli("weights", "init", "--model", MODEL, "--preset", "small", "-o",
                           tmp_path / "w.npz")
    assert status == 0, out + err
    losses = {}
    for backend in ("tf", "chainer"):
        status, out, err = cli("train", "--model", MODEL, "--backend", backend, "--preset",
                               "small", "--data", moving_objects_dir, "--steps", "4",
                               "--batch-size", "2", "--init", tmp_path / "w.npz", "--out",
                               tmp_path / backend, "--quiet")
        assert status == 0, out + err
        rows = RunDir(tmp_path / backend).read_losses()
        assert list(rows[0]) == ["step", "loss", "lr", "seconds"] and len(rows) == 4
        losses[backend] = [float(row["loss"]) for row in rows]
    np.testing.assert_allclose(losses["chainer"], losses["tf"], rtol=1e-3)
    assert losses["tf"][-1] < losses["tf"][0]


def test_a_run_that_does_not_learn_fails_the_training_section(moving_objects_dir):
    """Learning rate 0: every step agrees, and the verdict still fails, saying why."""
    settings = ParitySettings(model=MODEL, preset="small", data=str(moving_objects_dir),
                              batch_size=2, steps=2, lr=0.0)
    reference = prepare_reference(settings, progress=False)
    port, layout = load_port(port_spec(None, PAIR), reference.preset, 0, "cpu")
    run = check_port(reference, port, layout, progress=False)
    verdict = run.ensure_verdict()
    assert not verdict.passed
    assert (verdict.first_section, verdict.first_divergent) == ("training_losses",
                                                                "learning: weights moved")
    assert "the reference did not learn" in verdict.summary_text()
    steps = [d for d in run.sections["training_losses"] if d.name.startswith("step")]
    assert steps and all(d.passed for d in steps)
