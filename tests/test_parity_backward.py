"""Isolated backward (parity.backward): the reference's layer backwards, chained, are its own
gradients; a port whose backward alone is wrong is named at that layer and nowhere else."""

from __future__ import annotations

import numpy as np
import pytest

from chainer_port.mutants.cross_conv import MaxPoolGradMirrored
from parity.backward import item_layer, item_name
from parity.harness import check_port, prepare_reference
from parity.mutation import suite_settings
from parity.sections import FORWARD_SECTIONS
from spec.section_keys import BACKWARD_ISOLATED, GRADIENTS
from spec.weights import variables


@pytest.fixture(scope="module")
def reference(moving_objects_dir):
    settings = suite_settings("cross_conv", moving_objects_dir)
    settings.steps = 0
    return prepare_reference(settings, progress=False)


def _close(chained: np.ndarray, whole: np.ndarray) -> None:
    scale = float(np.abs(whole).max()) or 1.0
    np.testing.assert_allclose(chained, whole, rtol=1e-3, atol=1e-5 * scale)


def test_the_chained_layer_backwards_are_the_reference_gradients(reference):
    """d loss / d variable by the layers' backwards chained from the loss equals the one
    `gradients()` call (same backend, same weights, same batch): the upstream gradients fed
    to the port are the reference's own."""
    items, grads = reference.backward.items, reference.capture.section("grad")
    owner = {variable: layer.name for layer in reference.layers for variable in
             (v.name for v in layer.variables)}
    trainable = [name for name, v in variables(reference.layers).items() if v.trainable]
    for name in trainable:
        _close(items[item_name(owner[name], name)], grads[name])
    frames = sum(grad for item, grad in items.items() if item.endswith(" <- frames"))
    _close(frames, reference.capture.section("input_grad")["frames"])


def test_a_wrong_backward_only_is_named_at_its_layer(reference):
    port = MaxPoolGradMirrored(reference.preset)
    run = check_port(reference, port, "NCHW", progress=False)
    verdict = run.ensure_verdict()
    assert all(verdict.sections[key].passed for key in FORWARD_SECTIONS)
    backward = verdict.sections[BACKWARD_ISOLATED]
    assert verdict.first_section == BACKWARD_ISOLATED
    assert item_layer(backward.first_failure) == "motion_encoder/MaxPool2D"
    assert "the backward of motion_encoder/MaxPool2D itself" in verdict.summary_text()
    failing = {item_layer(d.name) for d in run.sections[BACKWARD_ISOLATED] if d.status != "pass"}
    pools = {layer.name for layer in reference.layers if layer.kind == "max_pool"}
    assert failing and failing <= pools
    # The parameter gradients see it too, but name a variable, not the layer.
    assert not verdict.sections[GRADIENTS].passed
    assert "MaxPool" not in verdict.sections[GRADIENTS].first_failure
