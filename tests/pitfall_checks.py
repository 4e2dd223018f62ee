"""What every pair's mutation-suite tests assert: each mutant caught and localised, the
mutants module exactly the catalogue, docs/pitfalls.md holding the catalogue and its check."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from parity.mutation import check_mutant, import_mutants, suite_reference
from spec.pitfall import Pitfall

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pitfalls.md"


def reference_cache(data: Path) -> Callable[[str], Any]:
    """Each pair's suite reference (`parity.mutation.suite_reference` on `data`), computed
    the first time a test asks for it: a module fixture's value."""
    found: dict[str, Any] = {}

    def reference(model: str) -> Any:
        if model not in found:
            found[model] = suite_reference(model, data)
        return found[model]

    return reference


def assert_caught_and_localised(reference: Any, pitfall: Pitfall, pair: Any) -> None:
    result = check_mutant(reference, pitfall, import_mutants(pair))
    verdict = result.run.ensure_verdict()
    assert not verdict.passed, f"{pitfall.mutant} passes: {verdict.summary_text()}"
    named = f"{pitfall.mutant}: named {verdict.first_divergent} ({verdict.first_section})"
    assert fnmatchcase(verdict.first_section, pitfall.section), named
    assert result.localised, named


def assert_mutants_are_the_catalogue(pair: Any, catalogue: Sequence[Pitfall]) -> None:
    assert sorted(p.mutant for p in catalogue) == sorted(import_mutants(pair).__all__)


def assert_docs_hold(cli: Any, model: str, catalogue: Sequence[Pitfall]) -> None:
    status, out, _ = cli("pitfalls", "--model", model, "--markdown")
    assert status == 0
    text = DOCS.read_text(encoding="utf-8")
    assert out.strip() in text, f"docs/pitfalls.md: paste `pitfalls --model {model} --markdown`"
    section = text[text.index(f"### `twinport pitfalls --model {model} --check`"):]
    checked = re.findall(r"^\| (\w+) \| \w+ \| yes \|", section, flags=re.MULTILINE)
    assert checked[:len(catalogue)] == [p.name for p in catalogue], (
        f"docs/pitfalls.md: the {model} --check table")
