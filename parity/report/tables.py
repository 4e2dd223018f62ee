"""Tables of a parity run: CSV files for machines, display rows for markdown and HTML."""

from __future__ import annotations

import csv
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from parity.diff import TensorDiff, fmt
from parity.results import ParityRun, step_columns, step_quantities
from parity.sections import FORWARD_SECTIONS, SECTION_ORDER
from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    GRADIENTS,
    INPUT_GRADIENT,
    TRAINING_LOSSES,
)

DIFF_COLUMNS = ["section", "position"] + [f.name for f in fields(TensorDiff)] + ["passed"]
LAYERS_CSV = "layers.csv"
GRADS_CSV = "grads.csv"
STEPS_CSV = "steps.csv"
AFTER_TRAINING_CSV = "after_training.csv"
OTHER_CSV = "other_sections.csv"

CSV_SECTIONS = {
    LAYERS_CSV: FORWARD_SECTIONS,
    GRADS_CSV: (BACKWARD_ISOLATED, GRADIENTS, INPUT_GRADIENT),
    AFTER_TRAINING_CSV: (AFTER_TRAINING,),
}

DISPLAY_COLUMNS = ("#", "name", "status", "shape", "max abs", "mean abs", "max rel", "cosine",
                   "min atol", "min rtol", "|ref| max", "headroom", "amplification",
                   "worst index", "suggestion / note")

REPEAT_COLUMNS = ("side", "part", "arrays", "bit-identical", "largest spread", "of its scale",
                  "in")


def repeat_row(row: dict[str, Any]) -> list[str]:
    """One part of one side of the determinism table (`parity.repeat.Spread` as a dict)."""
    return [row["side"], row["part"], str(row["arrays"]), str(row["identical"]),
            fmt(row["max_abs"]), fmt(row["max_rel"]), row["worst"]]


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def diff_rows(run: ParityRun, keys) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        for position, diff in enumerate(run.sections.get(key, [])):
            row = diff.to_row()
            row["section"] = key
            row["position"] = position
            rows.append(row)
    return rows


def step_rows(run: ParityRun) -> tuple[list[str], list[dict[str, Any]]]:
    """steps.csv: the steps as given, |TF - port| per quantity, and the per-step verdict."""
    judged = {d.name: d for d in run.sections.get(TRAINING_LOSSES, [])}
    base, labels = step_columns(run.steps), step_quantities(run.steps)
    extra = sorted({k for s in run.steps for k in s} - set(base))
    columns = base + extra + [f"absdiff_{q}" for q in labels] + ["status"]
    rows = []
    for entry in run.steps:
        row = dict(entry)
        for q in labels:
            tf, port = entry.get(f"tf_{q}"), entry.get(f"port_{q}")
            if tf is not None and port is not None:
                row[f"absdiff_{q}"] = abs(float(port) - float(tf))
        diff = judged.get(f"step {entry.get('step')}")
        row["status"] = diff.status if diff is not None else ""
        rows.append(row)
    return columns, rows


def write_csvs(run: ParityRun, folder: Path) -> list[str]:
    """layers.csv, grads.csv, steps.csv always (header only when empty); after_training.csv
    and other_sections.csv when those sections exist. Returns the file names."""
    written = []
    for name, keys in CSV_SECTIONS.items():
        if name == AFTER_TRAINING_CSV and not run.sections.get(AFTER_TRAINING):
            continue
        write_csv(folder / name, DIFF_COLUMNS, diff_rows(run, keys))
        written.append(name)
    others = [k for k in run.sections if k not in SECTION_ORDER or k == TRAINING_LOSSES]
    if any(run.sections.get(k) for k in others):
        write_csv(folder / OTHER_CSV, DIFF_COLUMNS, diff_rows(run, others))
        written.append(OTHER_CSV)
    columns, rows = step_rows(run)
    write_csv(folder / STEPS_CSV, columns, rows)
    written.append(STEPS_CSV)
    return written


def shape_text(d: TensorDiff) -> str:
    ref = "x".join(map(str, d.ref_shape)) or "scalar"
    if d.ref_shape == d.port_shape:
        return ref
    port = "x".join(map(str, d.port_shape)) or "scalar"
    return f"{ref} vs {port}"


def display_row(position: int, d: TensorDiff) -> list[str]:
    """The cells of DISPLAY_COLUMNS for one diff."""
    note = "; ".join(x for x in (d.suggestion, d.note) if x)
    worst = "" if d.worst_index is None or d.passed else ",".join(map(str, d.worst_index))
    return [
        str(position), d.name, d.status, shape_text(d), fmt(d.max_abs), fmt(d.mean_abs),
        fmt(d.max_rel), fmt(d.cosine, 6), fmt(d.min_atol), fmt(d.min_rtol), fmt(d.ref_max_abs),
        fmt(d.headroom), fmt(d.amplification), worst, note,
    ]


def step_display(run: ParityRun, limit: int = 200) -> tuple[list[str], list[list[str]], list[bool]]:
    """Columns, rows and failing flags for the steps table (first/last `limit`/2 if long)."""
    columns, rows = step_rows(run)
    show = ["step", *(c for q in step_quantities(run.steps)
                      for c in (f"tf_{q}", f"port_{q}", f"absdiff_{q}")), "lr", "port_lr",
            "status"]
    if len(rows) > limit:
        rows = rows[: limit // 2] + [None] + rows[-limit // 2:]
    cells, failing = [], []
    for row in rows:
        if row is None:
            cells.append(["..."] + [""] * (len(show) - 1))
            failing.append(False)
            continue
        cells.append([
            str(row.get(c, "")) if c in ("step", "status") else
            (fmt(row[c], 6) if isinstance(row.get(c), int | float) else str(row.get(c, "")))
            for c in show
        ])
        failing.append(row.get("status") not in ("", "pass"))
    return show, cells, failing


def settings_items(run: ParityRun) -> list[tuple[str, str]]:
    from parity.results import SETTINGS_KEYS

    keys = [k for k in SETTINGS_KEYS if k in run.settings]
    keys += [k for k in run.settings if k not in keys]
    return [(k, _plain(run.settings[k])) for k in keys]


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    return str(value)
