"""The mutation suite: every pitfall's mutant of a pair through the harness against ONE
reference run.

The reference side (`parity.harness.prepare_reference`, its synced training steps stored) is
computed once; each mutant (a class in the pair's `TwinPair.mutants` module) is built by its
factory and checked with `check_port`, exactly as `twinport parity --port MODULE:MUTANT`
would check it. The mutants ship with twinport, so the suite runs from an installed copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from common.errors import UserError
from parity.diff import RAISED, SHAPE, TensorDiff, fmt
from parity.harness import ReferenceRun, check_port, prepare_reference
from parity.port import load_port, port_spec
from parity.results import ParityRun
from parity.settings import ParitySettings
from spec.pair import TwinPair, import_from_cwd
from spec.pitfall import Pitfall
from spec.registry import get_pair

FIGURE_CHARS = 100


def suite_settings(model: str, data: str | None = None) -> ParitySettings:
    """The pair's suite setting (`TwinPair.suite`) on `data` (default: the pair's dataset)."""
    pair = get_pair(model)
    return ParitySettings(model=model, data=str(data or pair.default_data), **pair.suite)


def import_mutants(pair: TwinPair) -> ModuleType:
    """The module of the pair's mutants."""
    if not pair.mutants:
        raise UserError(f"model {pair.name} has no mutants (TwinPair.mutants)")
    return import_from_cwd(pair.mutants)


@dataclass
class MutantResult:
    """One mutant's run: what the verdict named first, against what the catalogue expects.
    A shared mistake's `run` is the check against the original code, `parity` the parity run
    of the two mutated twins (which must pass: parity cannot see it)."""

    pitfall: Pitfall
    expected: str
    run: ParityRun
    localised: bool
    parity: ParityRun | None = None

    @property
    def caught(self) -> bool:
        return not self.run.ensure_verdict().passed

    @property
    def section(self) -> str | None:
        return self.run.ensure_verdict().first_section

    @property
    def named(self) -> str | None:
        return self.run.ensure_verdict().first_divergent

    @property
    def figure(self) -> str:
        return first_figure(self.run)

    @property
    def hint(self) -> str:
        """The diagnosis of the first failing item ("" when it has none)."""
        return (first_item(self.run).hint or "") if self.caught else ""


@dataclass
class HintScore:
    """How one diagnosis did over a suite: `expected` mutants whose cause it names
    (`Pitfall.hints`), `fired` mutants whose first failing item it diagnosed, `right` both.
    Where a pitfall lists two diagnoses, each one's recall counts the times it was given."""

    hint: str
    expected: int
    fired: int
    right: int

    @property
    def precision(self) -> float | None:
        return self.right / self.fired if self.fired else None

    @property
    def recall(self) -> float | None:
        return self.right / self.expected if self.expected else None


def hint_scores(results: list[MutantResult]) -> list[HintScore]:
    """Each diagnosis expected or given over the suite, in order of first appearance."""
    names = list(dict.fromkeys(name for r in results for name in (*r.pitfall.hints, r.hint)
                               if name))
    return [HintScore(name, sum(name in r.pitfall.hints for r in results),
                      sum(r.hint == name for r in results),
                      sum(r.hint == name and name in r.pitfall.hints for r in results))
            for name in names]


def first_item(run: ParityRun) -> TensorDiff:
    """The verdict's first failing item (the run must fail)."""
    verdict = run.ensure_verdict()
    return next(d for d in run.sections[verdict.first_section]
                if d.name == verdict.first_divergent)


def first_figure(run: ParityRun) -> str:
    """The figure that failed the first failing item, short."""
    return "" if run.ensure_verdict().passed else _shorten(_figure(first_item(run)))


def _figure(diff: TensorDiff) -> str:
    if diff.status == RAISED:
        return f"raised {diff.note}"
    if diff.status == SHAPE:
        shapes = ("x".join(map(str, shape)) or "none" for shape in (diff.ref_shape,
                                                                   diff.port_shape))
        return "shape {} vs {}".format(*shapes)
    if diff.stat == "init":
        return (diff.suggestion or "").split(": ", 1)[-1]
    worst = [part[len("worst: "):] for part in diff.note.split("; ")
             if part.startswith("worst: ")]
    if worst:  # a training step: which quantity, both values
        return (f"{worst[0]}: ref {fmt(diff.ref_at_worst)} port {fmt(diff.port_at_worst)} "
                f"(rel {fmt(diff.max_rel)}, rtol {fmt(diff.rtol)})")
    return (f"max abs {fmt(diff.max_abs)} (atol {fmt(diff.atol)}), max rel "
            f"{fmt(diff.max_rel)} (rtol {fmt(diff.rtol)})")


def _shorten(text: str) -> str:
    return text if len(text) <= FIGURE_CHARS else text[:FIGURE_CHARS - 3] + "..."


def check_mutant(reference: ReferenceRun, pitfall: Pitfall, mutants: ModuleType,
                 progress: bool = False) -> MutantResult:
    """Build the pitfall's mutant like `--port` would and run every section on it."""
    settings = reference.settings
    factory = getattr(mutants, pitfall.mutant)
    port = factory(reference.preset, seed=settings.seed, device=settings.chainer_device)
    with np.errstate(all="ignore"):  # a mutant's NaN/inf are findings, not warnings
        run = check_port(reference, port, getattr(port, "layout", "NCHW"), progress)
    verdict = run.ensure_verdict()
    return MutantResult(
        pitfall, pitfall.expected_item(reference.preset, settings.start_step), run,
        pitfall.matches(verdict.first_section, verdict.first_divergent, reference.preset,
                        settings.start_step))


def check_shared(reference: ReferenceRun, pitfall: Pitfall, mutants: ModuleType, code: str,
                 progress: bool = False) -> MutantResult:
    """A shared mistake: both twins mutated through parity (expected to pass), and the mutated
    reference against the original code in `code` (expected to fail where the pitfall says)."""
    from parity.original import OriginalSettings, check_original

    settings, pair = reference.settings, reference.pair
    mistake = getattr(mutants, pitfall.mutant)
    tf_mutant = mistake.with_twin(pair.twin_class("tf"))
    mutated = prepare_reference(settings, progress, tf_mutant)
    port = mistake.with_twin(pair.twin_class("chainer"))(
        reference.preset, seed=settings.seed, device=settings.chainer_device)
    parity = check_port(mutated, port, getattr(port, "layout", "NCHW"), progress)
    run, _ = check_original(OriginalSettings(settings.model, settings.preset, code,
                                             settings.data, settings.batch_size, settings.seed),
                            progress, tf_mutant)
    verdict = run.ensure_verdict()
    return MutantResult(
        pitfall, pitfall.expected_item(reference.preset, settings.start_step), run,
        pitfall.matches(verdict.first_section, verdict.first_divergent, reference.preset,
                        settings.start_step) and parity.ensure_verdict().passed, parity)


def select(pair: TwinPair, names: Iterable[str] | None) -> list[Pitfall]:
    """The pair's named pitfalls (all when None), or a UserError naming the unknown ones."""
    if names is None:
        return list(pair.pitfalls)
    by_name = {pitfall.name: pitfall for pitfall in pair.pitfalls}
    names = list(names)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UserError(f"unknown pitfall {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[name] for name in names]


def suite_reference(model: str, data: str | None = None, progress: bool = False
                    ) -> ReferenceRun:
    """The reference's side of the pair's suite setting, its training steps stored for many
    ports."""
    reference = prepare_reference(suite_settings(model, data), progress)
    reference.store_steps()
    return reference


def run_suite(model: str, data: str | None, pitfalls: list[Pitfall], progress: bool = False,
              report: Callable[[MutantResult], None] | None = None, code: str | None = None
              ) -> tuple[ParityRun, list[MutantResult]]:
    """The un-mutated port and every pitfall's mutant against one reference run; a shared
    mistake against the original code in `code` (`check_shared`; pass only those pitfalls
    without it)."""
    reference = suite_reference(model, data, progress)
    settings = reference.settings
    mutants = import_mutants(reference.pair)
    port, layout = load_port(port_spec(None, reference.pair), reference.preset, settings.seed,
                             settings.chainer_device)
    clean = check_port(reference, port, layout, progress)
    results = []
    for pitfall in pitfalls:
        if pitfall.shared:
            if code is None:
                raise UserError(f"pitfall {pitfall.name} is a mistake both twins share: it "
                                "needs the original code (--code DIR)")
            results.append(check_shared(reference, pitfall, mutants, code, progress))
        else:
            results.append(check_mutant(reference, pitfall, mutants, progress))
        if report is not None:
            report(results[-1])
    return clean, results
