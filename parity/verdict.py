"""The verdict: PASS only when every compared section passes; else which tap diverges first.

Sections are ordered lists of `TensorDiff` (graph order for taps, variable order for
parameters, step order for the training losses). A failing section is summarised by its FIRST
failing item in that order — the first divergent tap, the first parameter, the first step where
the loss curves part — not by its worst one: in end-to-end mode an early small error grows
downstream, and the first failure is where to look.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from parity.diff import RAISED, SHAPE, TIE, TensorDiff, fmt, json_float
from parity.sections import FORWARD_SECTIONS, SECTION_ORDER, item_word, title
from spec.section_keys import (
    BACKWARD_ISOLATED,
    FORWARD_E2E_INFERENCE,
    FORWARD_E2E_TRAINING,
    FORWARD_ISO_INFERENCE,
    FORWARD_ISO_TRAINING,
    TRAINING_LOSSES,
)

PASS_TEXT = "PASS"
FAIL_TEXT = "FAIL"


def ordered_sections(keys) -> list[str]:
    """Section keys in SECTION_ORDER, unknown keys after them in their given order."""
    keys = list(keys)
    return [k for k in SECTION_ORDER if k in keys] + [k for k in keys if k not in SECTION_ORDER]


@dataclass
class SectionVerdict:
    """One section: how many items, how many fail, and the first failing item's figures.

    first_*: the first failing item in the section's order (None when the section passes).
    worst_*: the largest max_abs / max_rel over the section (context, not the verdict).
    """

    section: str
    passed: bool
    n_items: int
    n_failed: int
    failed: list[str] = field(default_factory=list)
    first_failure: str | None = None
    first_position: int | None = None
    first_status: str | None = None
    first_description: str | None = None
    first_max_abs: float | None = None
    first_max_rel: float | None = None
    first_min_atol: float | None = None
    first_min_rtol: float | None = None
    first_step: int | None = None
    suggestion: str | None = None
    worst_max_abs: float | None = None
    worst_max_rel: float | None = None
    worst_headroom: float | None = None
    n_tie: int = 0
    atol: float | None = None
    rtol: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = json_float(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SectionVerdict:
        data = dict(data)
        for key in ("first_max_abs", "first_max_rel", "first_min_atol", "first_min_rtol",
                    "worst_max_abs", "worst_max_rel", "worst_headroom", "atol", "rtol"):
            if data.get(key) is not None:
                data[key] = float(data[key])
        return cls(**data)

    def sentence(self, with_suggestion: bool = True) -> str:
        """One sentence for the summary."""
        heading = title(self.section)
        if self.passed and self.n_tie:
            return (f"{heading}: {self.n_items - self.n_tie} pass, {self.n_tie} explained by "
                    f"near-ties in the reference's decisions (status tie)")
        if self.passed:
            return f"{heading}: all {self.n_items} pass"
        word = item_word(self.section)
        if self.section == TRAINING_LOSSES and self.first_step is not None:
            head = f"the loss curves part at step {self.first_step}"
        else:
            head = f"first divergent {word} {self.first_failure}"
        text = f"{heading}: {head} ({self.n_failed} of {self.n_items} fail"
        if self.first_status == SHAPE:
            text += "; shapes differ"
        elif self.first_status == RAISED:
            text += f"; {self.first_description}"
        elif self.first_max_abs is not None:
            text += (f"; max abs {fmt(self.first_max_abs)} vs atol {fmt(self.atol)}, "
                     f"max rel {fmt(self.first_max_rel)} vs rtol {fmt(self.rtol)}")
        text += ")"
        if self.suggestion and with_suggestion:
            text += f"; suggestion: {self.suggestion}"
        return text


@dataclass
class Verdict:
    """PASS / FAIL over all sections.

    first_section / first_divergent: the first failing section in SECTION_ORDER and its first
    failing item; suggestion: that item's diagnosis. exit_status(): 0 PASS, 1 FAIL.
    A verdict over no comparisons at all is FAIL (nothing was proven).
    """

    passed: bool
    sections: dict[str, SectionVerdict] = field(default_factory=dict)
    first_section: str | None = None
    first_divergent: str | None = None
    suggestion: str | None = None
    first_nonfinite: str | None = None
    reason: str = ""

    @property
    def status(self) -> str:
        return PASS_TEXT if self.passed else FAIL_TEXT

    def exit_status(self) -> int:
        return 0 if self.passed else 1

    @property
    def failing_sections(self) -> list[str]:
        return [k for k, s in self.sections.items() if not s.passed]

    def headline(self) -> str:
        """One line: PASS, or FAIL and where the port diverges first."""
        if self.passed:
            n = sum(s.n_items for s in self.sections.values())
            ties = sum(s.n_tie for s in self.sections.values())
            tied = f" ({ties} of them tie: explained by near-ties)" if ties else ""
            return f"PASS: {n} comparisons in {len(self.sections)} sections agree{tied}"
        if self.first_divergent is None:
            return f"FAIL: {self.reason or 'no comparisons'}"
        return f"FAIL: first divergent {self._item_word()} {self.first_divergent} " \
               f"({self.first_section})"

    def _item_word(self) -> str:
        return item_word(self.first_section)

    def summary_text(self) -> str:
        """One paragraph a person can read: the verdict, each failing section, what passed."""
        if not self.sections:
            return f"{self.status}: nothing was compared."
        parts = [self.headline() + "."]
        said: set[str] = set()  # each distinct suggestion once
        for sv in self.sections.values():
            if sv.passed and sv.n_tie:
                parts.append(sv.sentence() + ".")
            if not sv.passed:
                new = bool(sv.suggestion) and sv.suggestion not in said
                said.add(sv.suggestion or "")
                parts.append(sv.sentence(with_suggestion=new) + ".")
        if self.first_nonfinite:
            parts.append(f"NaN/inf first appears at {self.first_nonfinite}.")
        iso_fail = [k for k in (FORWARD_ISO_INFERENCE, FORWARD_ISO_TRAINING)
                    if k in self.sections and not self.sections[k].passed]
        e2e_fail = [k for k in (FORWARD_E2E_INFERENCE, FORWARD_E2E_TRAINING)
                    if k in self.sections and not self.sections[k].passed]
        if iso_fail:
            sv = self.sections[iso_fail[0]]
            parts.append(f"Isolated mode feeds each port layer the reference's own inputs, so "
                         f"{sv.first_failure} itself computes differently.")
        elif e2e_fail and any(k in self.sections
                              for k in (FORWARD_ISO_INFERENCE, FORWARD_ISO_TRAINING)):
            parts.append("Every layer agrees in isolation, so the end-to-end difference is "
                         "accumulated rounding or comes from state (e.g. BatchNorm statistics).")
        backward = self.sections.get(BACKWARD_ISOLATED)
        if backward is not None and not backward.passed and backward.first_failure:
            layer = backward.first_failure.split(" <- ", 1)[0]
            parts.append(f"The isolated backward feeds each port layer the reference's inputs "
                         f"and upstream gradient, so the backward of {layer} itself computes "
                         "differently.")
        passing = [title(k) for k, s in self.sections.items() if s.passed]
        if passing and not self.passed:
            parts.append("Passing: " + "; ".join(passing) + ".")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "passed": self.passed,
            "exit_status": self.exit_status(),
            "headline": self.headline(),
            "summary": self.summary_text(),
            "first_section": self.first_section,
            "first_divergent": self.first_divergent,
            "suggestion": self.suggestion,
            "first_nonfinite": self.first_nonfinite,
            "reason": self.reason,
            "sections": {k: s.to_dict() for k, s in self.sections.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            passed=bool(data["passed"]),
            sections={k: SectionVerdict.from_dict(v) for k, v in data.get("sections", {}).items()},
            first_section=data.get("first_section"),
            first_divergent=data.get("first_divergent"),
            suggestion=data.get("suggestion"),
            first_nonfinite=data.get("first_nonfinite"),
            reason=data.get("reason", ""),
        )


def _ordered(diffs: list[TensorDiff], graph_order: list[str] | None) -> list[TensorDiff]:
    if not graph_order:
        return list(diffs)
    position = {name: i for i, name in enumerate(graph_order)}
    indexed = list(enumerate(diffs))
    indexed.sort(key=lambda p: (position.get(p[1].name, len(position)), p[0]))
    return [d for _, d in indexed]


def _max(values) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return max(values) if values else None


def section_verdict(section: str, diffs: list[TensorDiff],
                    graph_order: list[str] | None = None) -> SectionVerdict:
    """Summarise one section; `graph_order` (names) re-sorts the items when given."""
    diffs = _ordered(diffs, graph_order)
    failed = [(i, d) for i, d in enumerate(diffs) if d.failed]
    sv = SectionVerdict(
        section=section,
        passed=not failed,
        n_items=len(diffs),
        n_failed=len(failed),
        failed=[d.name for _, d in failed],
        worst_max_abs=_max(d.max_abs for d in diffs),
        worst_max_rel=_max(d.max_rel for d in diffs),
        worst_headroom=_max(d.headroom for d in diffs if d.status != TIE),
        n_tie=sum(d.status == TIE for d in diffs),
        atol=diffs[0].atol if diffs else None,
        rtol=diffs[0].rtol if diffs else None,
    )
    if failed:
        pos, first = failed[0]
        sv.first_failure = first.name
        sv.first_position = pos
        sv.first_status = first.status
        sv.first_description = first.describe()
        sv.first_max_abs = first.max_abs
        sv.first_max_rel = first.max_rel
        sv.first_min_atol = first.min_atol
        sv.first_min_rtol = first.min_rtol
        sv.suggestion = first.suggestion
        sv.atol, sv.rtol = first.atol, first.rtol
        step = re.fullmatch(r"step\s+(-?\d+)", first.name)
        if step:
            sv.first_step = int(step.group(1))
    return sv


def build_verdict(sections: dict[str, list[TensorDiff]],
                  graph_order: list[str] | None = None) -> Verdict:
    """The verdict over `sections` (keys as in SECTION_ORDER; unknown keys are judged too).

    Empty sections are ignored; when nothing at all was compared the verdict is FAIL.
    `graph_order` re-sorts the forward sections' taps by name (others keep their order).
    """
    judged: dict[str, SectionVerdict] = {}
    for key in ordered_sections(sections):
        diffs = sections[key]
        if not diffs:
            continue
        order = graph_order if key in FORWARD_SECTIONS else None
        judged[key] = section_verdict(key, diffs, order)
    if not judged:
        return Verdict(passed=False, reason="nothing was compared")
    failing = [k for k, s in judged.items() if not s.passed]
    verdict = Verdict(passed=not failing, sections=judged)
    if failing:
        first = judged[failing[0]]
        verdict.first_section = failing[0]
        verdict.first_divergent = first.first_failure
        verdict.suggestion = first.suggestion
        verdict.reason = f"{len(failing)} of {len(judged)} sections fail"
    for key in judged:
        if key not in FORWARD_SECTIONS:
            continue
        hit = next((d for d in _ordered(sections[key], graph_order)
                    if d.n_nonfinite_mismatch or d.n_port_nonfinite or d.n_ref_nonfinite), None)
        if hit is not None:
            verdict.first_nonfinite = f"{hit.name} ({key})"
            break
    return verdict
