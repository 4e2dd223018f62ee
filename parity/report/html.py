"""report.html: one self-contained page (CSS inline, PNGs as base64 data URIs)."""

from __future__ import annotations

import base64
from html import escape

from parity.repeat import summary_line
from parity.report.figures import Image
from parity.report.markdown import section_overview
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

CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0; padding: 0 24px 40px; color: #1d1d1f; background: #fafafa; font-size: 14px; }
h1 { font-size: 22px; margin: 18px 0 10px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.banner { padding: 14px 18px; border-radius: 6px; margin: 10px 0 14px; color: white; }
.banner.pass { background: #1b7f3b; }
.banner.fail { background: #b3261e; }
.banner .status { font-size: 26px; font-weight: 700; letter-spacing: 1px; margin-right: 12px; }
.banner .headline { font-size: 17px; }
.banner .suggestion { margin-top: 6px; font-size: 15px; }
.summary { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px;
           line-height: 1.45; }
.meta { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
table { border-collapse: collapse; background: white; margin: 6px 0; font-size: 12.5px; }
th, td { border: 1px solid #d8d8d8; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eef0f3; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: nowrap; }
tr.fail td { background: #fde7e6; }
tr.first td { background: #f8c9c6; font-weight: 600; }
tr.first td.name::before { content: "\\25B6  "; color: #b3261e; }
td.status-pass { color: #1b7f3b; font-weight: 600; }
td.status-fail, td.status-nonfinite, td.status-shape,
td.status-raised { color: #b3261e; font-weight: 700; }
td.note { max-width: 520px; font-size: 12px; }
figure { margin: 10px 0 22px; background: white; border: 1px solid #ddd; border-radius: 6px;
         padding: 8px; display: inline-block; max-width: calc(100% - 18px); }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12.5px; color: #444; margin-top: 4px; }
details > summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
.small { color: #555; font-size: 12px; }
a { color: #0b57d0; }
td a { white-space: nowrap; }
"""

NUMERIC = {"#", "max abs", "mean abs", "max rel", "cosine", "min atol", "min rtol", "|ref| max",
           "items", "failed", "its max abs", "its max rel", "largest max abs", "largest max rel",
           "lr", "port_lr", "step", "headroom", "amplification"}
NUMERIC_PREFIXES = ("tf_", "port_", "absdiff_")  # the steps table's per-loss columns


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(columns, rows, row_classes=None, name_column: str | None = None) -> str:
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns)
           + "</tr></thead>", "<tbody>"]
    for i, row in enumerate(rows):
        cls = (row_classes or [""] * len(rows))[i]
        cells = []
        for column, value in zip(columns, row, strict=True):
            klass = []
            if column in NUMERIC or column.startswith(NUMERIC_PREFIXES):
                klass.append("num")
            if column == name_column:
                klass.append("name")
            if column in ("status", "result"):
                klass.append(f"status-{str(value).lower()}")
            if column in ("suggestion / note", "suggestion"):
                klass.append("note")
            attr = f' class="{" ".join(klass)}"' if klass else ""
            cells.append(f"<td{attr}>{escape(str(value))}</td>")
        out.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>" if cls else
                   "<tr>" + "".join(cells) + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def _anchor(key: str) -> str:
    return "section-" + key.replace("/", "-").replace("_", "-")


def render_html(run: ParityRun, images: list[Image], files: list[str]) -> str:
    verdict = run.ensure_verdict()
    state = "pass" if verdict.passed else "fail"
    settings = dict(run.settings)
    page_title = f"twinport parity: {verdict.status}"
    if settings.get("preset"):
        page_title += f" ({settings['preset']})"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(page_title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        "<h1>twinport parity report</h1>",
        f'<div class="banner {state}"><span class="status">{verdict.status}</span>'
        f'<span class="headline">{escape(verdict.headline().split(": ", 1)[-1])}</span>',
    ]
    if verdict.suggestion:
        parts.append(f'<div class="suggestion">Suggestion: {escape(verdict.suggestion)}</div>')
    parts.append("</div>")
    parts.append(f'<div class="summary">{escape(verdict.summary_text())}'
                 f'<br><span class="small">exit status {verdict.exit_status()}'
                 + (f" &middot; {escape(run.created)}" if run.created else "") + "</span></div>")

    parts.append('<div class="meta">')
    parts.append("<div><h2>Settings</h2>"
                 + _table(["setting", "value"], settings_items(run)) + "</div>")
    if run.versions:
        parts.append("<div><h2>Environment</h2>" + _table(
            ["environment", "value"], [(k, str(v)) for k, v in run.versions.items()]) + "</div>")
    parts.append("</div>")

    columns, rows = section_overview(run)
    keys = list(verdict.sections)
    classes = ["fail" if not verdict.sections[k].passed else "" for k in keys]
    overview = _table(columns, rows, classes, name_column="first divergent")
    for key in keys:
        if key != TRAINING_LOSSES or run.steps:
            target = "section-steps" if key == TRAINING_LOSSES else _anchor(key)
            overview = overview.replace(f"<td>{escape(key)}</td>",
                                        f'<td><a href="#{target}">{escape(key)}</a></td>', 1)
    parts += ["<h2>Sections</h2>", overview]
    if run.repeat:
        runs = run.settings.get("repeat", "N")
        parts += [f"<h2>Determinism ({escape(str(runs))} runs of each side)</h2>",
                  f"<p>{escape(summary_line(run.repeat, runs))}</p>",
                  _table(REPEAT_COLUMNS, [repeat_row(row) for row in run.repeat])]

    if images:
        parts.append("<h2>Figures</h2>")
        for image in images:
            parts.append(
                f'<figure id="fig-{escape(image.filename[:-4])}"><h3>{escape(image.title)}</h3>'
                f'<img alt="{escape(image.title)}" src="{data_uri(image.png)}">'
                f"<figcaption>{escape(image.caption)} <span class=\"small\">"
                f"({escape(image.filename)})</span></figcaption></figure>"
            )

    for key in run.ordered_sections():
        diffs = run.sections[key]
        if not diffs or key == TRAINING_LOSSES:
            continue
        sv = verdict.sections.get(key)
        first = sv.first_failure if sv is not None and not sv.passed else None
        heading = title(key)
        result = "PASS" if sv is None or sv.passed else f"FAIL ({sv.n_failed} of {sv.n_items})"
        rows, classes = [], []
        for i, d in enumerate(diffs):
            rows.append(display_row(i, d))
            classes.append("first" if d.name == first and d.failed else
                           ("fail" if d.failed else ""))
        table = _table(DISPLAY_COLUMNS, rows, classes, name_column="name")
        parts.append(f'<h2 id="{_anchor(key)}">{escape(heading)} '
                     f'<span class="small">({escape(key)}) &middot; {escape(result)}</span></h2>')
        if sv is not None and sv.passed and len(diffs) > 20:
            parts.append(f"<details><summary>{len(diffs)} rows, all pass</summary>{table}"
                         "</details>")
        else:
            parts.append(table)

    if run.steps:
        columns, cells, failing = step_display(run)
        parts.append('<h2 id="section-steps">Training steps</h2>')
        parts.append(_table(columns, cells, ["fail" if f else "" for f in failing]))

    parts.append("<h2>Files</h2><ul>" + "".join(f"<li><code>{escape(f)}</code></li>"
                                                for f in files) + "</ul>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts)
