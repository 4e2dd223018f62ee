"""Issue 25's two outside pairs, written against docs/port-interface.md only, each under 100
lines for its spec and both twins: a conv3d + attention + LayerNorm pair trained with TF1's
RMSProp, and a ConvLSTM with dilated gates trained with Nesterov Momentum. Each PASSes
`twinport parity --model MODULE:PAIR`; each one-line mistake in their catalogues FAILs at the
layer it is in with the hint that names it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity.mutation import run_suite
from spec.layout import Activation

PAIRS = {"tests.outside_clip_pair": "tests.outside_clip_mutants",
         "tests.outside_recurrent_pair": "tests.outside_recurrent_mutants"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", PAIRS)
def test_each_pair_is_under_100_lines_with_no_layout_code(module):
    text = Path(ROOT, *module.split(".")).with_suffix(".py").read_text()
    assert len(text.splitlines()) < 100
    for layout_code in ("moveaxis", "np.transpose", "F.transpose", "same_pad", "F.pad(",
                        "to_chainer", "to_tf"):
        assert layout_code not in text, layout_code


@pytest.mark.parametrize("module", PAIRS)
def test_each_pair_passes_twinport_parity(cli, moving_mnist_dir, tmp_path, module):
    status, out, err = cli("parity", "--model", f"{module}:PAIR", "--preset", "small",
                           "--data", moving_mnist_dir, "--batch-size", "3", "--steps", "3",
                           "--out", tmp_path / "report")
    assert status == 0 and "PASS" in out, out + err


@pytest.mark.parametrize("module", PAIRS.values())
def test_each_one_line_mistake_fails_at_its_layer_with_its_hint(moving_mnist_dir, module):
    import importlib

    pitfalls = list(importlib.import_module(module).PITFALLS)
    clean, results = run_suite(f"{module}:PAIR", str(moving_mnist_dir), pitfalls)
    assert clean.ensure_verdict().passed
    for result in results:
        assert result.caught and result.localised, (result.pitfall.name, result.named)
        assert result.hint in result.pitfall.hints, (result.pitfall.name, result.hint)


def test_the_clip_pairs_rank_5_taps_cross_as_ncdhw(moving_mnist_dir):
    """CHANNELS_FIRST: the Chainer twin takes the clip and gives the conv3d's tap as
    (N, C, D, H, W), the harness sees both in TF's NDHWC."""
    from tests.outside_clip_pair import PAIR

    model = PAIR.twin_class("chainer")("small")
    clip = np.random.default_rng(0).random((2, 4, 16, 16, 1), dtype=np.float32)
    result = model.forward({"clip": clip, "target": np.zeros((2, 1), np.float32)})
    assert result.taps["conv"].shape == (2, 4, 4, 16, 16)
    assert model.layout_of("conv") is Activation.CHANNELS_FIRST
    assert Activation.CHANNELS_FIRST.to_tf(np.empty((2, 4, 4, 16, 16))).shape == (2, 4, 16, 16,
                                                                                    4)
