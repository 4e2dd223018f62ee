"""The E3D-LSTM pair's mutation suite: every mutant caught and localised, the port passes; the
global memory's mistake the other way round on a preset of the paper's side."""

from __future__ import annotations

import pytest

from chainer_port.mutants.e3d_lstm import OldGlobalMemory
from parity.harness import check_port, prepare_reference
from parity.mutation import suite_reference
from parity.settings import ParitySettings
from spec.e3d_lstm import PAIR
from spec.e3d_lstm.pitfalls import CATALOGUE
from tests.pitfall_checks import (
    assert_caught_and_localised,
    assert_docs_hold,
    assert_mutants_are_the_catalogue,
)

pytestmark = pytest.mark.pitfalls


@pytest.fixture(scope="module")
def reference(moving_mnist_dir):
    return suite_reference("e3d_lstm", moving_mnist_dir)


@pytest.mark.parametrize("pitfall", CATALOGUE, ids=[p.name for p in CATALOGUE])
def test_the_mutant_is_caught_and_localised(reference, pitfall):
    assert_caught_and_localised(reference, pitfall, PAIR)


def test_every_mutant_is_one_catalogue_entry():
    assert_mutants_are_the_catalogue(PAIR, CATALOGUE)


def test_the_old_memory_where_the_paper_passes_the_new_is_caught(moving_mnist_dir):
    settings = ParitySettings(model="e3d_lstm", preset="tiny_as_paper",
                              data=str(moving_mnist_dir), batch_size=2, steps=0)
    reference = prepare_reference(settings, progress=False)
    port = OldGlobalMemory(reference.preset)
    verdict = check_port(reference, port, "NCHW", progress=False).ensure_verdict()
    assert not verdict.passed
    assert verdict.first_divergent == "generator/e3d-lstm/e3d1_0/global_memory"


def test_the_docs_hold_the_catalogue_and_its_check(cli):
    assert_docs_hold(cli, "e3d_lstm", CATALOGUE)
