"""The E3D-LSTM's pitfall beyond its suite (tests/test_seed_pitfalls.py): the global memory's
mistake the other way round, on a preset of the paper's side."""

from __future__ import annotations

import pytest

from chainer_port.mutants.e3d_lstm import OldGlobalMemory
from parity.harness import check_port, prepare_reference
from parity.settings import ParitySettings

pytestmark = pytest.mark.pitfalls


def test_the_old_memory_where_the_paper_passes_the_new_is_caught(moving_mnist_dir):
    settings = ParitySettings(model="e3d_lstm", preset="tiny_as_paper",
                              data=str(moving_mnist_dir), batch_size=2, steps=0)
    reference = prepare_reference(settings, progress=False)
    port = OldGlobalMemory(reference.preset)
    verdict = check_port(reference, port, "NCHW", progress=False).ensure_verdict()
    assert not verdict.passed
    assert verdict.first_divergent == "generator/e3d-lstm/e3d1_0/global_memory"
