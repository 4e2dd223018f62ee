"""The VPN's optimizer pitfalls beyond its suite (tests/test_seed_pitfalls.py): the port's
own optimizer (its settings, where its state starts) checked at initialisation."""

from __future__ import annotations

import pytest

from parity.mutation import suite_reference
from spec.vpn import PAIR

pytestmark = pytest.mark.pitfalls


@pytest.fixture(scope="module")
def reference(moving_mnist_dir):
    return suite_reference("vpn", moving_mnist_dir)


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
