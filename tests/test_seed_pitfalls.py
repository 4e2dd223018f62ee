"""The mutation suites of the Moving MNIST seed pairs (ConvLSTM, E3D-LSTM, VPN): every mutant
caught and localised, the ports pass, each catalogue its mutants and in docs/pitfalls.md.
Each pair's own extra checks are in its tests/test_<pair>_pitfalls.py."""

from __future__ import annotations

import pytest

from spec.registry import get_pair
from tests.pitfall_checks import (
    assert_caught_and_localised,
    assert_docs_hold,
    assert_mutants_are_the_catalogue,
    reference_cache,
)

pytestmark = pytest.mark.pitfalls

MODELS = ("convlstm", "e3d_lstm", "vpn")
CASES = [(model, pitfall) for model in MODELS for pitfall in get_pair(model).pitfalls]


@pytest.fixture(scope="module")
def references(moving_mnist_dir):
    return reference_cache(moving_mnist_dir)


@pytest.mark.parametrize(("model", "pitfall"), CASES,
                         ids=[f"{model}-{p.name}" for model, p in CASES])
def test_the_mutant_is_caught_and_localised(references, model, pitfall):
    assert_caught_and_localised(references(model), pitfall, get_pair(model))


@pytest.mark.parametrize("model", MODELS)
def test_every_mutant_is_one_catalogue_entry(model):
    assert_mutants_are_the_catalogue(get_pair(model), get_pair(model).pitfalls)


@pytest.mark.parametrize("model", MODELS)
def test_the_docs_hold_the_catalogue_and_its_check(cli, model):
    assert_docs_hold(cli, model, get_pair(model).pitfalls)
