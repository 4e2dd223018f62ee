"""The ConvLSTM pair's mutation suite: every mutant caught and localised, the port passes."""

from __future__ import annotations

import pytest

from parity.mutation import suite_reference
from spec.convlstm import PAIR
from spec.convlstm.pitfalls import CATALOGUE
from tests.pitfall_checks import (
    assert_caught_and_localised,
    assert_docs_hold,
    assert_mutants_are_the_catalogue,
)

pytestmark = pytest.mark.pitfalls


@pytest.fixture(scope="module")
def reference(moving_mnist_dir):
    return suite_reference("convlstm", moving_mnist_dir)


@pytest.mark.parametrize("pitfall", CATALOGUE, ids=[p.name for p in CATALOGUE])
def test_the_mutant_is_caught_and_localised(reference, pitfall):
    assert_caught_and_localised(reference, pitfall, PAIR)


def test_every_mutant_is_one_catalogue_entry():
    assert_mutants_are_the_catalogue(PAIR, CATALOGUE)


def test_the_docs_hold_the_catalogue_and_its_check(cli):
    assert_docs_hold(cli, "convlstm", CATALOGUE)
