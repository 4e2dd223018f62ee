"""report.md: the verdict, settings, section tables and figures (as relative PNG links)."""

from __future__ import annotations

from parity.diff import fmt
from parity.repeat import summary_line
from parity.report.figures import Image
from parity.report.tables import (
    DISPLAY_COLUMNS,
    REPEAT_COLUMNS,
    display_row,
    repeat_row,
    settings_items,
    step_display,
)
from parity.results import ParityRun
from parity.sections import title
from spec.section_keys import TRAINING_LOSSES


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(columns, rows) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def section_overview(run: ParityRun) -> tuple[list[str], list[list[str]]]:
    verdict = run.ensure_verdict()
    columns = ["section", "result", "items", "failed", "first divergent", "its max abs",
               "its max rel", "largest max abs", "largest max rel", "worst headroom",
               "suggestion"]
    rows = []
    for key, sv in verdict.sections.items():
        rows.append([
            key, "PASS" if sv.passed else "FAIL", str(sv.n_items), str(sv.n_failed),
            sv.first_failure or "", fmt(sv.first_max_abs), fmt(sv.first_max_rel),
            fmt(sv.worst_max_abs), fmt(sv.worst_max_rel), fmt(sv.worst_headroom),
            sv.suggestion or "",
        ])
    return columns, rows


def render_markdown(run: ParityRun, images: list[Image], files: list[str]) -> str:
    verdict = run.ensure_verdict()
    lines = ["# twinport parity report", ""]
    lines += [f"**{verdict.headline()}**", ""]
    if verdict.suggestion:
        lines += [f"Suggestion: {verdict.suggestion}", ""]
    lines += [verdict.summary_text(), ""]
    lines += [f"Exit status: {verdict.exit_status()}", ""]
    lines += ["## Settings", ""] + table(["setting", "value"], settings_items(run)) + [""]
    if run.versions:
        lines += ["## Environment", ""]
        lines += table(["environment", "value"], [(k, str(v)) for k, v in run.versions.items()])
        lines += [""]
    lines += ["## Sections", ""] + table(*section_overview(run)) + [""]
    if run.repeat:
        runs = run.settings.get("repeat", "N")
        lines += [f"## Determinism ({runs} runs of each side)", "",
                  summary_line(run.repeat, runs), ""]
        lines += table(REPEAT_COLUMNS, [repeat_row(row) for row in run.repeat]) + [""]
    if images:
        lines += ["## Figures", ""]
        for image in images:
            lines += [f"### {image.title}", "", image.caption, "",
                      f"![{image.title}]({image.filename})", ""]
    for key in run.ordered_sections():
        diffs = run.sections[key]
        if not diffs or key == TRAINING_LOSSES:
            continue
        lines += [f"## {title(key)} (`{key}`)", ""]
        rows = []
        for i, d in enumerate(diffs):
            row = display_row(i, d)
            if d.failed:
                row[1] = f"**{row[1]}**"
                row[2] = f"**{row[2].upper()}**"
            rows.append(row)
        lines += table(DISPLAY_COLUMNS, rows) + [""]
    if run.steps:
        columns, cells, _ = step_display(run)
        lines += ["## Training steps", ""] + table(columns, cells) + [""]
    lines += ["## Files", ""] + [f"- `{f}`" for f in files] + [""]
    return "\n".join(lines)
