"""The VPN pair's mutation suite: every mutant caught and localised, the port passes; the
port's own optimizer (its settings, where its state starts) checked at initialisation."""

from __future__ import annotations

import pytest

from parity.mutation import suite_reference
from spec.vpn import PAIR
from spec.vpn.pitfalls import CATALOGUE
from tests.pitfall_checks import (
    assert_caught_and_localised,
    assert_docs_hold,
    assert_mutants_are_the_catalogue,
)

pytestmark = pytest.mark.pitfalls


@pytest.fixture(scope="module")
def reference(moving_mnist_dir):
    return suite_reference("vpn", moving_mnist_dir)


@pytest.mark.parametrize("pitfall", CATALOGUE, ids=[p.name for p in CATALOGUE])
def test_the_mutant_is_caught_and_localised(reference, pitfall):
    assert_caught_and_localised(reference, pitfall, PAIR)


def test_every_mutant_is_one_catalogue_entry():
    assert_mutants_are_the_catalogue(PAIR, CATALOGUE)


def test_the_ports_own_optimizer_is_checked_at_initialisation(reference):
    """Chainer's RMSprop defaults show as settings, its zero start as the fresh state."""
    from fnmatch import fnmatchcase

    from chainer_port.mutants import vpn as mutants
    from parity.harness import check_port

    for factory, item in ((mutants.RMSpropChainerDefaults, "optimizer/decay"),
                          (mutants.ChainersRMSprop, "*/RMSProp")):
        run = check_port(reference, factory(reference.preset), "NCHW", progress=False)
        failed = [d for d in run.sections["initialisation"] if d.failed]
        assert failed and all(d.hint == "optimizer_state" for d in failed)
        assert fnmatchcase(failed[0].name, item), failed[0].name
    clean = check_port(reference, PAIR.twin_class("chainer")(reference.preset), "NCHW",
                       progress=False)
    names = [d.name for d in clean.sections["initialisation"]]
    assert "optimizer/decay" in names and any(n.endswith("/RMSProp") for n in names)
    assert not any(d.failed for d in clean.sections["initialisation"])


def test_the_docs_hold_the_catalogue_and_its_check(cli):
    assert_docs_hold(cli, "vpn", CATALOGUE)
