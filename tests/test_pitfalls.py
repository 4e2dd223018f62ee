"""The porting-pitfall mutation suite: every mutant caught and localised, the port passes.

One reference run per module (per xdist worker), every port checked against it with
`parity.harness.check_port`, as `twinport parity --port chainer_port.mutants.cross_conv:MUTANT`
would.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from parity.harness import check_port
from parity.mutation import check_mutant, import_mutants, suite_reference
from parity.port import load_port, port_spec
from spec.cross_conv import PAIR
from spec.cross_conv.pitfalls import CATALOGUE

BY_NAME = {pitfall.name: pitfall for pitfall in CATALOGUE}

pytestmark = pytest.mark.pitfalls

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pitfalls.md"


@pytest.fixture(scope="module")
def reference(moving_objects_dir):
    return suite_reference("cross_conv", moving_objects_dir)


def test_the_unmutated_port_passes(reference):
    settings = reference.settings
    port, layout = load_port(port_spec(None, PAIR), reference.preset, settings.seed, "cpu")
    run = check_port(reference, port, layout, progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    assert {"moving_statistics", "initialisation", "training_losses"} <= set(verdict.sections)
    assert [row["port_lr"] for row in run.steps] == [row["lr"] for row in run.steps]


@pytest.mark.parametrize("pitfall", CATALOGUE, ids=[p.name for p in CATALOGUE])
def test_the_mutant_is_caught_and_localised(reference, pitfall):
    result = check_mutant(reference, pitfall, import_mutants(PAIR))
    verdict = result.run.ensure_verdict()
    assert not verdict.passed, f"{pitfall.mutant} passes: {verdict.summary_text()}"
    named = f"{pitfall.mutant}: named {verdict.first_divergent} ({verdict.first_section}), " \
            f"expected {result.expected} ({pitfall.section})"
    assert fnmatchcase(verdict.first_section, pitfall.section), named
    assert result.localised, named


def test_every_mutant_is_one_catalogue_entry():
    mutants = import_mutants(PAIR)
    assert sorted(p.mutant for p in CATALOGUE) == sorted(mutants.__all__)
    assert len(CATALOGUE) >= 18 and len({p.name for p in CATALOGUE}) == len(CATALOGUE)


def test_the_docs_hold_the_catalogue(cli):
    status, out, _ = cli("pitfalls", "--markdown")
    assert status == 0
    text = DOCS.read_text(encoding="utf-8")
    assert out.strip() in text, "docs/pitfalls.md: paste `twinport pitfalls --markdown` again"
    section = text[text.index("## `twinport pitfalls --check`"):]
    section = section[:section.index("\n## ", 1)]
    checked = re.findall(r"^\| (\w+) \| \w+ \| yes \|", section, flags=re.MULTILINE)
    assert checked == [p.name for p in CATALOGUE], "docs/pitfalls.md: the --check table"


def test_pitfalls_check_from_the_cli(cli, moving_objects_dir):
    status, out, err = cli("pitfalls", "--check", "--only", "bn_decay", "--data",
                           moving_objects_dir)
    assert status == 0, out + err
    assert "1 of 1 mutants caught and localised" in out and "un-mutated port: PASS" in out
    assert "motion_encoder/Conv/BatchNorm/moving_mean" in out


def test_the_report_renders_for_a_port_that_raises(reference, tmp_path):
    """Shape, raised and missing items, a step the port raised on, no sample image."""
    from parity.report import write_report
    from parity.results import ParityRun

    result = check_mutant(reference, BY_NAME["valid_pool_cover_all"], import_mutants(PAIR))
    write_report(result.run, tmp_path / "report", graph_order=reference.comparer.taps)
    saved = ParityRun.load(tmp_path / "report").ensure_verdict()
    assert saved.first_divergent == result.named
    assert (tmp_path / "report" / "report.html").stat().st_size > 0


def test_hint_scores_count_right_wrong_and_missed_hints():
    from types import SimpleNamespace

    from parity.mutation import hint_scores

    def result(expected, given):
        return SimpleNamespace(pitfall=SimpleNamespace(hints=expected), hint=given)

    scores = {s.hint: s for s in hint_scores([
        result(("periodic_error",), "periodic_error"), result(("periodic_error",), ""),
        result(("border_only",), "periodic_error"), result((), "channels_only"),
        result((), ""), result(("border_only", "periodic_error"), "periodic_error")])}
    assert set(scores) == {"periodic_error", "border_only", "channels_only"}
    periodic = scores["periodic_error"]
    assert (periodic.expected, periodic.fired, periodic.right) == (3, 3, 2)
    assert periodic.precision == periodic.recall == 2 / 3
    assert scores["border_only"].expected == 2 and scores["border_only"].recall == 0
    assert scores["border_only"].precision is None
    assert scores["channels_only"].precision == 0 and scores["channels_only"].recall is None
