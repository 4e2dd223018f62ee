"""Finn et al.'s mutation suites (CDNA, DNA, STP): every mutant caught and localised."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from parity.mutation import check_mutant, import_mutants, suite_reference
from spec.finn.pitfalls import CATALOGUES
from spec.registry import get_pair

pytestmark = pytest.mark.pitfalls

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pitfalls.md"
CASES = [(model, pitfall) for model, catalogue in CATALOGUES.items() for pitfall in catalogue]


@pytest.fixture(scope="module")
def references(pushing_dir):
    found = {}

    def reference(model: str):
        if model not in found:
            found[model] = suite_reference(model, pushing_dir)
        return found[model]

    return reference


@pytest.mark.parametrize(("model", "pitfall"), CASES,
                         ids=[f"{model}-{p.name}" for model, p in CASES])
def test_the_mutant_is_caught_and_localised(references, model, pitfall):
    result = check_mutant(references(model), pitfall, import_mutants(get_pair(model)))
    verdict = result.run.ensure_verdict()
    assert not verdict.passed, f"{pitfall.mutant} passes: {verdict.summary_text()}"
    named = f"{pitfall.mutant}: named {verdict.first_divergent} ({verdict.first_section})"
    assert fnmatchcase(verdict.first_section, pitfall.section), named
    assert result.localised, named


@pytest.mark.parametrize("model", list(CATALOGUES))
def test_every_mutant_is_one_catalogue_entry(model):
    assert sorted(p.mutant for p in CATALOGUES[model]) == sorted(
        import_mutants(get_pair(model)).__all__)


@pytest.mark.parametrize("model", list(CATALOGUES))
def test_the_docs_hold_the_catalogue_and_its_check(cli, model):
    status, out, _ = cli("pitfalls", "--model", model, "--markdown")
    assert status == 0
    text = DOCS.read_text(encoding="utf-8")
    assert out.strip() in text, f"docs/pitfalls.md: paste `pitfalls --model {model} --markdown`"
    section = text[text.index(f"### `twinport pitfalls --model {model} --check`"):]
    checked = re.findall(r"^\| (\w+) \| \w+ \| yes \|", section, flags=re.MULTILINE)
    assert checked[:len(CATALOGUES[model])] == [p.name for p in CATALOGUES[model]], (
        f"docs/pitfalls.md: the {model} --check table")
