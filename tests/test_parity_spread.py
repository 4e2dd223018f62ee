"""Determinism (`--repeat N`, parity.repeat) and flakiness over seeds (`--seeds N`,
parity.seed_sweep)."""

from __future__ import annotations

import numpy as np

from chainer_port.cross_conv import CrossConvModel
from parity.inputs import ParityInputs
from parity.repeat import spreads
from spec.cross_conv import PAIR

NOISY = "Conv_2"  # the last conv: only it and the two losses after it can move


class NoisyLastConv(CrossConvModel):
    """Adds a fresh 1e-6 of noise to one layer's output at every call: not bit-stable."""

    def _conv(self, layer, x, training):
        y = super()._conv(layer, x, training)
        if layer.name != NOISY:
            return y
        return y + np.random.default_rng().normal(0, 1e-6, y.shape).astype(np.float32)


def test_repeat_tells_a_bit_stable_side_from_one_that_is_not(moving_objects_dir):
    preset = PAIR.get_preset("tiny")
    inputs = ParityInputs.from_dataset(PAIR, preset, str(moving_objects_dir), 2, 0, 0)
    stable = CrossConvModel(preset)
    weights = stable.get_weights()
    layers = stable.layers
    assert all(s.bit_identical for s in spreads(stable, "NCHW", layers, weights, inputs, 2,
                                                "port"))
    found = {s.part: s for s in spreads(NoisyLastConv(preset), "NCHW", layers, weights,
                                        inputs, 3, "noisy")}
    inference = found["inference"]
    assert not inference.bit_identical
    assert inference.arrays - inference.identical <= 3  # Conv_2 and the losses after it
    assert inference.worst in (NOISY, "loss/l2_loss", "loss/loss")
    assert 0 < inference.max_abs < 1e-3


def test_seeds_report_each_sections_spread(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("parity", "--preset", "tiny", "--batch-size", "2", "--steps", "1",
                           "--data", moving_objects_dir, "--seeds", "2", "--seed", "3",
                           "--out", tmp_path / "seeds", "--quiet")
    assert status == 0, out + err
    text = (tmp_path / "seeds" / "seeds.md").read_text()
    assert "| 3 | PASS |" in text and "| 4 | PASS |" in text
    rows = [line for line in text.splitlines() if line.startswith("| backward, isolated")]
    assert len(rows) == 1 and "| 2 of 2 |" in rows[0]
