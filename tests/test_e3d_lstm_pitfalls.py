"""The E3D-LSTM pair's mutation suite: every mutant caught and localised, the port passes; the
global memory's mistake the other way round on a preset of the paper's side."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from chainer_port.mutants.e3d_lstm import OldGlobalMemory
from parity.harness import check_port, prepare_reference
from parity.mutation import check_mutant, import_mutants, suite_reference
from parity.settings import ParitySettings
from spec.e3d_lstm import PAIR
from spec.e3d_lstm.pitfalls import CATALOGUE

pytestmark = pytest.mark.pitfalls

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pitfalls.md"


@pytest.fixture(scope="module")
def reference(moving_mnist_dir):
    return suite_reference("e3d_lstm", moving_mnist_dir)


@pytest.mark.parametrize("pitfall", CATALOGUE, ids=[p.name for p in CATALOGUE])
def test_the_mutant_is_caught_and_localised(reference, pitfall):
    result = check_mutant(reference, pitfall, import_mutants(PAIR))
    verdict = result.run.ensure_verdict()
    assert not verdict.passed, f"{pitfall.mutant} passes: {verdict.summary_text()}"
    named = f"{pitfall.mutant}: named {verdict.first_divergent} ({verdict.first_section})"
    assert fnmatchcase(verdict.first_section, pitfall.section), named
    assert result.localised, named


def test_every_mutant_is_one_catalogue_entry():
    assert sorted(p.mutant for p in CATALOGUE) == sorted(import_mutants(PAIR).__all__)


def test_the_old_memory_where_the_paper_passes_the_new_is_caught(moving_mnist_dir):
    settings = ParitySettings(model="e3d_lstm", preset="tiny_as_paper",
                              data=str(moving_mnist_dir), batch_size=2, steps=0)
    reference = prepare_reference(settings, progress=False)
    port = OldGlobalMemory(reference.preset)
    verdict = check_port(reference, port, "NCHW", progress=False).ensure_verdict()
    assert not verdict.passed
    assert verdict.first_divergent == "generator/e3d-lstm/e3d1_0/global_memory"


def test_the_docs_hold_the_catalogue_and_its_check(cli):
    status, out, _ = cli("pitfalls", "--model", "e3d_lstm", "--markdown")
    assert status == 0
    text = DOCS.read_text(encoding="utf-8")
    assert out.strip() in text, "docs/pitfalls.md: paste `pitfalls --model e3d_lstm --markdown`"
    section = text[text.index("### `twinport pitfalls --model e3d_lstm --check`"):]
    checked = re.findall(r"^\| (\w+) \| \w+ \| yes \|", section, flags=re.MULTILINE)
    assert checked[:len(CATALOGUE)] == [p.name for p in CATALOGUE], (
        "docs/pitfalls.md: the e3d_lstm --check table")
