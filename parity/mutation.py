"""The mutation suite: every pitfall's mutant through the harness against ONE reference run.

The reference side (`parity.harness.prepare_reference`, its synced training steps stored) is
computed once; each mutant is built by its factory and checked with `check_port`, exactly as
`twinport parity --port tests.mutants:MUTANT` would check it. The mutants live in the test
suite (`tests/mutants/`), not in any package: `import_mutants` imports them from the
repository's `tests/` folder, so the suite needs a source checkout.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from common.errors import UserError
from parity.compare import RAISED, SHAPE, TensorDiff, fmt
from parity.harness import ParitySettings, ReferenceRun, check_port, prepare_reference
from parity.inputs import DEFAULT_DATA
from parity.pitfalls import BY_NAME, CATALOGUE, Pitfall
from parity.results import ParityRun

MUTANTS_MODULE = "tests.mutants"
REPOSITORY = Path(__file__).resolve().parents[1]
UNMUTATED = "chainer_port.model:CrossConvModel"
FIGURE_CHARS = 100


def suite_settings(data: str | Path = DEFAULT_DATA) -> ParitySettings:
    """The suite's setting: tiny, batch 2, two synced steps from global step 15000.

    Two steps: a mistake that hides in state (a gamma the interface cannot reset) shows at
    the second. Step 15000: the learning-rate schedule's forms differ there (continuous
    0.283, staircase 0.4, per-update 0.8); at step 0 they agree.
    """
    return ParitySettings(preset="tiny", data=str(data), batch_size=2, steps=2,
                          start_step=15000)


def import_mutants() -> ModuleType:
    """`tests.mutants`, with the repository root on sys.path if it is not importable yet."""
    try:
        return importlib.import_module(MUTANTS_MODULE)
    except ImportError:
        if not (REPOSITORY / "tests" / "mutants").is_dir():
            raise UserError(f"the mutants live in the test suite ({REPOSITORY}/tests/mutants): "
                            "run from a source checkout") from None
        sys.path.insert(0, str(REPOSITORY))
        return importlib.import_module(MUTANTS_MODULE)


@dataclass
class MutantResult:
    """One mutant's run: what the verdict named first, against what the catalogue expects."""

    pitfall: Pitfall
    expected: str
    run: ParityRun
    localised: bool

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


def first_figure(run: ParityRun) -> str:
    """The figure that failed the first failing item, short."""
    verdict = run.ensure_verdict()
    if verdict.passed:
        return ""
    diff = next(d for d in run.sections[verdict.first_section]
                if d.name == verdict.first_divergent)
    return _shorten(_figure(diff))


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
    port = factory(settings.preset, seed=settings.seed, device=settings.chainer_device)
    with np.errstate(all="ignore"):  # a mutant's NaN/inf are findings, not warnings
        run = check_port(reference, port, getattr(port, "layout", "NCHW"), progress)
    verdict = run.ensure_verdict()
    return MutantResult(
        pitfall, pitfall.expected_item(reference.preset, settings.start_step), run,
        pitfall.matches(verdict.first_section, verdict.first_divergent, reference.preset,
                        settings.start_step))


def select(names: Iterable[str] | None) -> list[Pitfall]:
    """The named pitfalls (all when None), or a UserError naming the unknown ones."""
    if names is None:
        return list(CATALOGUE)
    names = list(names)
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise UserError(f"unknown pitfall {', '.join(unknown)} (known: {', '.join(BY_NAME)})")
    return [BY_NAME[name] for name in names]


def run_suite(settings: ParitySettings, pitfalls: list[Pitfall], progress: bool = False,
              report: Callable[[MutantResult], None] | None = None
              ) -> tuple[ParityRun, list[MutantResult]]:
    """The un-mutated port and every pitfall's mutant against one reference run."""
    from parity.port import load_port

    mutants = import_mutants()
    reference = prepare_reference(settings, progress)
    reference.store_steps()
    port, layout = load_port(UNMUTATED, settings.preset, settings.seed, settings.chainer_device)
    clean = check_port(reference, port, layout, progress)
    results = []
    for pitfall in pitfalls:
        results.append(check_mutant(reference, pitfall, mutants, progress))
        if report is not None:
            report(results[-1])
    return clean, results
