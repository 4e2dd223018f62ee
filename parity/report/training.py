"""`twinport report RUN_DIR [RUN_DIR ...] -o DIR`: the loss curves of training runs side by side.

Each run folder has `loss.csv` (columns step, the losses of its pair, `TwinPair.losses`:
cross_conv's loss, l2, kl; and optionally lr, seconds), and optionally `config.json` (its
"backend" labels the run, its "model" names the pair; cross_conv without one) and `eval.json`
(metrics shown in the table). The output folder gets training.png, runs.csv, index.html
(self-contained) and report.md.
"""

from __future__ import annotations

import csv
import json
import math
import os
from html import escape
from pathlib import Path
from typing import Any

from common.atomic import atomic_dir
from common.errors import UserError
from parity.diff import fmt
from spec.registry import DEFAULT_MODEL, get_pair

OPTIONAL_COLUMNS = ("lr", "seconds")


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def read_training_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """One run folder as {"dir", "name", "backend", "step", "losses" (label -> values, the
    pair's order), "lr", "seconds", "eval", "config"}; UserError naming the file when
    loss.csv is missing or bad."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run folder")
    path = run_dir / "loss.csv"
    if not path.is_file():
        raise UserError(f"{path}: missing (a run folder needs loss.csv)")
    config = _read_json(run_dir / "config.json") or {}
    labels = tuple(get_pair(str(config.get("model", DEFAULT_MODEL))).losses)
    required = ("step", *labels)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise UserError(f"{path}: malformed loss.csv, missing column(s) "
                                f"{', '.join(missing)} (has: {', '.join(header) or 'nothing'})")
            columns = {c: [] for c in required + OPTIONAL_COLUMNS if c in header}
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip(): v for k, v in row.items()}
                for c in columns:
                    text = (row.get(c) or "").strip()
                    try:
                        value = float(text)
                    except ValueError:
                        raise UserError(f"{path}: malformed loss.csv, line {line}: {c} = "
                                        f"{text!r} is not a number") from None
                    columns[c].append(value)
    except UnicodeDecodeError:
        raise UserError(f"{path}: malformed loss.csv (not UTF-8 text)") from None
    except csv.Error as error:
        raise UserError(f"{path}: malformed loss.csv ({error})") from None
    if not columns["step"]:
        raise UserError(f"{path}: malformed loss.csv, no rows")
    return {
        "dir": str(run_dir),
        "name": run_dir.resolve().name,
        "backend": str(config.get("backend", "")),
        "step": columns["step"],
        "losses": {label: columns[label] for label in labels},
        "lr": columns.get("lr"),
        "seconds": columns.get("seconds"),
        "eval": _read_json(run_dir / "eval.json"),
        "config": config,
    }


def loss_labels(runs: list[dict[str, Any]]) -> list[str]:
    """Every run's loss labels, in first-seen order."""
    return list(dict.fromkeys(label for run in runs for label in run["losses"]))


def _labels(runs: list[dict[str, Any]]) -> None:
    names = [r["name"] for r in runs]
    for run in runs:
        name = run["name"]
        if names.count(name) > 1:
            parent = Path(run["dir"]).resolve().parent.name
            name = f"{parent}/{name}"
        run["label"] = f"{name} ({run['backend']})" if run["backend"] else name


def _flat_eval(evaluation: dict | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (evaluation or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = fmt(float(value), 5)
        elif isinstance(value, str | bool):
            out[key] = str(value)
    return out


def _summary_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    eval_keys: list[str] = []
    for run in runs:
        for key in _flat_eval(run["eval"]):
            if key not in eval_keys:
                eval_keys.append(key)
    labels = loss_labels(runs)
    first = labels[0]
    columns = (["run", "backend", "steps", "last step"] + [f"final {q}" for q in labels]
               + [f"min {first}", "seconds"] + [f"eval {k}" for k in eval_keys])
    rows = []
    for run in runs:
        finite = [v for v in run["losses"][first] if math.isfinite(v)]
        seconds = run.get("seconds")
        total = ""
        if seconds:
            # `seconds` may be per step or cumulative: a non-decreasing column is cumulative.
            cumulative = all(b >= a for a, b in zip(seconds, seconds[1:], strict=False))
            total = fmt(seconds[-1] if cumulative else sum(seconds), 4)
        evaluation = _flat_eval(run["eval"])
        rows.append([
            run["label"], run["backend"], str(len(run["step"])), fmt(run["step"][-1], 8),
            *(fmt(run["losses"][q][-1], 5) if q in run["losses"] else "" for q in labels),
            fmt(min(finite), 5) if finite else "", total,
        ] + [evaluation.get(k, "") for k in eval_keys])
    return columns, rows


def plot_training_runs(run_dirs: list[str | os.PathLike], out_dir: str | os.PathLike, *,
                       overwrite: bool = True) -> Path:
    """Plot the loss curves (one panel per loss) of every run folder and write the folder
    `out_dir` with training.png, runs.csv, index.html and report.md. Every run is read (and
    checked) before anything is written."""
    from parity.report.html import CSS, _table, data_uri
    from parity.report.markdown import table
    from parity.report.plots import plot_training_curves

    if not run_dirs:
        raise UserError("no run folders given")
    runs = [read_training_run(d) for d in run_dirs]
    _labels(runs)
    png = plot_training_curves(runs)
    columns, rows = _summary_rows(runs)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        (tmp / "training.png").write_bytes(png)
        with open(tmp / "runs.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["dir"] + columns)
            for run, row in zip(runs, rows, strict=True):
                writer.writerow([run["dir"]] + row)
        md = ["# twinport training runs", "", f"{len(runs)} runs.", ""]
        md += table(columns, rows) + ["", "![loss curves](training.png)", ""]
        md += ["Run folders:", ""] + [f"- `{r['dir']}`" for r in runs] + [""]
        (tmp / "report.md").write_text("\n".join(md), encoding="utf-8")
        html = [
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            "<title>twinport training runs</title>", f"<style>{CSS}</style>", "</head>",
            "<body>", "<h1>twinport training runs</h1>",
            f'<p class="small">{len(runs)} runs: '
            + ", ".join(f"<code>{escape(r['dir'])}</code>" for r in runs) + "</p>",
            _table(columns, rows, name_column="run"),
            '<figure><h3>Loss curves</h3>'
            f'<img alt="loss curves" src="{data_uri(png)}">'
            "<figcaption>each loss per step for every run "
            "(log scale where the values span more than 50x)</figcaption></figure>",
            "</body>", "</html>",
        ]
        (tmp / "index.html").write_text("\n".join(html), encoding="utf-8")
    return out_dir
