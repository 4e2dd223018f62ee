"""Finn et al.'s mutation suites (CDNA, DNA, STP): every mutant caught and localised."""

from __future__ import annotations

import pytest

from spec.finn.pitfalls import CATALOGUES
from spec.registry import get_pair
from tests.pitfall_checks import (
    assert_caught_and_localised,
    assert_docs_hold,
    assert_mutants_are_the_catalogue,
    reference_cache,
)

pytestmark = pytest.mark.pitfalls

CASES = [(model, pitfall) for model, catalogue in CATALOGUES.items() for pitfall in catalogue
         if not pitfall.shared]


@pytest.fixture(scope="module")
def references(pushing_dir):
    return reference_cache(pushing_dir)


@pytest.mark.parametrize(("model", "pitfall"), CASES,
                         ids=[f"{model}-{p.name}" for model, p in CASES])
def test_the_mutant_is_caught_and_localised(references, model, pitfall):
    assert_caught_and_localised(references(model), pitfall, get_pair(model))


@pytest.mark.parametrize("model", list(CATALOGUES))
def test_every_mutant_is_one_catalogue_entry(model):
    assert_mutants_are_the_catalogue(get_pair(model), CATALOGUES[model])


@pytest.mark.parametrize("model", list(CATALOGUES))
def test_the_docs_hold_the_catalogue_and_its_check(cli, model):
    assert_docs_hold(cli, model, CATALOGUES[model])


@pytest.mark.parametrize("model", list(CATALOGUES))
def test_the_shared_mistake_passes_parity_and_changes_the_graph_on_both_twins(pushing_dir,
                                                                              model):
    """ReluBeforeNorm is in the graph both twins read: parity of the two mutated twins passes
    (only `twinport parity original` can catch it, docs/pitfalls.md), and on each twin the
    mutated first conv's tap is the relu of the un-mutated one."""
    import numpy as np

    from parity.capture import forward_taps
    from parity.harness import check_port, prepare_reference
    from parity.mutation import suite_settings
    from spec.finn.pitfalls import RELU_BEFORE_NORM, ReluBeforeNorm

    pair = get_pair(model)
    assert RELU_BEFORE_NORM in pair.pitfalls and RELU_BEFORE_NORM.shared
    settings = suite_settings(model, pushing_dir)
    settings.steps = 0
    reference = prepare_reference(settings, False, ReluBeforeNorm.with_twin(pair.twin_class("tf")))
    port = ReluBeforeNorm.with_twin(pair.twin_class("chainer"))(reference.preset, seed=0)
    assert check_port(reference, port, "NCHW", False).ensure_verdict().passed
    tap = RELU_BEFORE_NORM.item
    for backend, layout in (("tf", "NHWC"), ("chainer", "NCHW")):
        clean = pair.twin_class(backend)(reference.preset, seed=0)
        found = {}
        for name, model_object in (("clean", clean), ("mutant", ReluBeforeNorm.with_twin(
                pair.twin_class(backend))(reference.preset, seed=0))):
            found[name], _ = forward_taps(model_object, layout, model_object.layers,
                                          reference.weights, reference.inputs, False)
        assert found["clean"][tap].min() < 0, backend
        np.testing.assert_allclose(found["mutant"][tap], np.maximum(found["clean"][tap], 0),
                                   rtol=1e-6, atol=1e-6, err_msg=backend)
