"""The `twinport bench` results as markdown and a CSV beside it (one pair's report), and the
table of every pair's (`write_index`: docs/benchmarks.md, written by `make bench`)."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from common.atomic import atomic_path

COLUMNS = (("tf", "TF"), ("chainer", "Chainer fast path"),
           ("chainer_no_intel", "Chainer fast path without oneDNN and MKL"),
           ("chainer_stock", "Chainer stock"))
RATIOS = (("chainer", "fast / TF"), ("chainer_no_intel", "no Intel libs / TF"),
          ("chainer_stock", "stock / TF"))
PROFILE_ROWS = 15


GROUPED = 40  # layers above which the per-layer table has a row per layer kind


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _ratio(value: float, reference: float) -> float | None:
    return value / reference if reference else None


def _fmt(value: float | None, digits: int | None = None) -> str:
    """Three significant digits or so, unless `digits` is given ("–" for a missing value)."""
    if value is None:
        return "–"
    if digits is None:
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:,.{digits}f}"


def summary_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(metric, {role: value}) for the summary table, each value a median."""
    workers = results["workers"]
    batch = results["settings"]["batch_size"]

    def per_role(read) -> dict[str, float]:
        return {role: read(worker) for role, worker in workers.items()}

    return [
        ("forward ms", per_role(lambda w: _median(w["forward_ms"]))),
        ("train step ms", per_role(lambda w: _median(w["train_step_ms"]))),
        ("forward sequences/s", per_role(lambda w: batch * 1e3 / _median(w["forward_ms"]))),
        ("train sequences/s", per_role(lambda w: batch * 1e3 / _median(w["train_step_ms"]))),
        ("peak RSS MB", per_role(lambda w: w["peak_rss_mb"])),
    ]


def layer_rows(results: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """(layer, {role: ms}) in graph order, then the total; over `GROUPED` layers, one row per
    layer kind instead (`kind (count)`, the sum of its layers), slowest first."""
    workers = results["workers"]
    names = list(workers["tf"]["layers_ms"])
    rows = [(name, {role: worker["layers_ms"][name] for role, worker in workers.items()})
            for name in names]
    totals = {role: sum(row[role] for _, row in rows) for role in workers}
    kinds = results.get("layer_kinds", {})
    if len(rows) > GROUPED and kinds:
        groups: dict[str, list[dict[str, float]]] = {}
        for name, row in rows:
            groups.setdefault(kinds.get(name, "?"), []).append(row)
        rows = sorted(((f"{kind} ({len(members)})",
                        {role: sum(m[role] for m in members) for role in workers})
                       for kind, members in groups.items()), key=lambda row: -row[1]["tf"])
    return [*rows, ("total", totals)]


def _present(results: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (role, label) columns and (role, label) ratio columns of the workers that ran."""
    workers = results["workers"]
    return ([(role, label) for role, label in COLUMNS if role in workers],
            [(role, label) for role, label in RATIOS if role in workers])


def _table(title: str, rows: list[tuple[str, dict[str, float]]], results: dict[str, Any]
           ) -> list[str]:
    columns, ratios = _present(results)
    head = [title, *(label for _, label in columns), *(label for _, label in ratios)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, values in rows:
        cells = [_fmt(values[role]) for role, _ in columns]
        cells += [_fmt(_ratio(values[role], values["tf"]), 2) for role, _ in ratios]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any], command: str) -> str:
    settings, machine, workers = results["settings"], results["machine"], results["workers"]
    blas = results["blas"]
    columns, _ = _present(results)
    versions = {k: v for w in workers.values() for k, v in w["versions"].items()}
    steps = workers["tf"]["train_step_ms"]
    lines = [
        f"# Benchmark: {settings.get('model', 'cross_conv')}", "",
        f"`{command}` on {machine['date']}: model `{settings.get('model', 'cross_conv')}`, "
        f"preset `{settings['preset']}`, batch "
        f"{settings['batch_size']}. Written by `twinport bench` (`make bench`); the machine is "
        "shared and noisy, so the ratios, measured side by side in one run, are the figures "
        "that matter.", "",
        "| setup | |", "|---|---|",
        f"| machine | {machine['cpu']}, {machine['cores']} cores, Python {machine['python']} |",
        f"| busy processes beside it (`--load`) | {settings.get('load', 0)} |",
        f"| load average (1 min) before / after | {results['load_before'][0]:.2f} / "
        f"{results['load_after'][0]:.2f} |",
        "| NumPy's OpenBLAS kernels | " + ", ".join(
            f"{label}: {workers[role]['blas_core'] or '?'}" for role, label in columns)
        + f" (OPENBLAS_CORETYPE={blas['coretype_env'] or 'unset'} set for all but the "
        f"without-oneDNN-and-MKL column; NumPy's own choice here: {blas['default_core'] or '?'}) |",
        "| the fast path's convolutions | " + ", ".join(
            f"{label}: " + ("oneDNN" if workers[role].get("onednn") else "im2col")
            + f", GEMMs on {'MKL' if workers[role].get('mkl') else 'NumPy'}"
            for role, label in columns if role not in ("tf", "chainer_stock")) + " |",
        "| versions | " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + " |",
        f"| repetitions | median of {settings['steps']} after 1 warm-up (TF, Chainer fast path); "
        "the other Chainer columns: 1 after 1 warm-up; timed runs alternate between the "
        f"backends, one at a time; per layer: median of {settings['layer_repeats']} (others: 1) "
        "after 1 warm-up |",
        "", "## Summary", "",
        "Chainer fast path: the port as it runs on NumPy (`chainer_port.fast_cpu`), its "
        "convolutions on oneDNN (`chainer_port.fast_cpu.dnnl`), its GEMMs on MKL "
        "(`chainer_port.fast_cpu.gemm`); without oneDNN and MKL: the same with "
        "TWINPORT_CONV=im2col TWINPORT_BLAS=numpy, im2col convolutions on NumPy's OpenBLAS with "
        "the kernels it picks itself (no OPENBLAS_CORETYPE; see `chainer_port.fast_cpu.blas`), "
        "the fast path where those wheels are not installed; Chainer stock: the "
        "port with TWINPORT_FAST_CPU=0 (Chainer's own functions, NumPy's BLAS with the "
        "benchmark's kernels). Sequences/s: batch size / time.", "",
        *_table("metric", summary_rows(results), results), "",
        f"TF train step times, ms, in order: {', '.join(f'{t:.0f}' for t in steps)}; "
        "`tf.function` traces after the whole run: " + ", ".join(
            f"{name} {count}" for name, count in workers["tf"]["tf_traces"].items())
        + " (1 = traced once, never retraced).", "",
        f"Data loader (`Dataset.batches`, batch {settings['batch_size']}): "
        f"{results['loader_seq_per_s']:,.0f} sequences/s.", "",
    ]
    if "parity" in results:
        parity = results["parity"]
        lines += [f"`twinport parity --model {settings.get('model', 'cross_conv')} --preset "
                  f"{settings['preset']}`: "
                  f"{parity['seconds']:.0f} s wall time, exit {parity['exit']} "
                  f"({parity['verdict']}).", ""]
    lines += ["## Per layer", "",
              "`run_layer` forward (inference mode) of every spec layer on the TF forward's "
              f"taps, ms (over {GROUPED} layers: summed by layer kind, the count in brackets).",
              "", *_table("layer", layer_rows(results), results), ""]
    if "profile_s" in workers.get("chainer", {}):
        lines += ["## Chainer train step by function (fast path)", "",
                  *_profile_table(workers["chainer"]["profile_s"]), ""]
    return "\n".join(lines)


def _profile_table(seconds: dict[str, float]) -> list[str]:
    total = sum(seconds.values())
    lines = ["| function | ms | share |", "|---|---|---|"]
    for name, value in sorted(seconds.items(), key=lambda item: -item[1])[:PROFILE_ROWS]:
        lines.append(f"| {name} | {value * 1e3:,.0f} | {value / total:.0%} |")
    lines.append(f"| all ({len(seconds)} function types) | {total * 1e3:,.0f} | 100% |")
    return lines


def write_reports(results: dict[str, Any], out: str | Path, command: str) -> tuple[Path, Path]:
    """docs/benchmarks.md and docs/benchmarks.csv (same stem); returns both paths."""
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_text(markdown(results, command) + "\n")
    csv_path = out.with_suffix(".csv")
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        columns, ratios = _present(results)
        writer.writerow(["section", "name", *(role for role, _ in columns),
                         *(f"{role}_over_tf" for role, _ in ratios)])
        tables = (("summary", summary_rows(results)), ("layer_ms", layer_rows(results)))
        for section, rows in tables:
            for name, values in rows:
                writer.writerow([section, name, *(_csv(values[role]) for role, _ in columns),
                                 *(_csv(_ratio(values[role], values["tf"])) for role, _ in ratios)])
        writer.writerow(["loader", "sequences/s", _csv(results["loader_seq_per_s"])])
        if "parity" in results:
            writer.writerow(["parity", "wall s", _csv(results["parity"]["seconds"])])
    return out, csv_path


def index_rows(results: dict[str, Any]) -> dict[str, float | None]:
    """One pair's line of the index: medians of TF and the fast path (stock where it ran),
    their ratios, peak RSS, and the parity wall time where it was timed."""
    rows = dict(summary_rows(results))
    forward, train, rss = rows["forward ms"], rows["train step ms"], rows["peak RSS MB"]
    return {"tf forward": forward["tf"], "port forward": forward["chainer"],
            "forward ratio": _ratio(forward["chainer"], forward["tf"]),
            "tf train": train["tf"], "port train": train["chainer"],
            "train ratio": _ratio(train["chainer"], train["tf"]),
            "stock train ratio": _ratio(train["chainer_stock"], train["tf"])
            if "chainer_stock" in train else None,
            "rss ratio": _ratio(rss["chainer"], rss["tf"]),
            "parity s": results["parity"]["seconds"] if "parity" in results else None}


def write_index(pages: list[tuple[str, dict[str, Any], Path]], out: str | Path, command: str
                ) -> Path:
    """docs/benchmarks.md: one row per pair (`index_rows`), each linking its report."""
    out = Path(out)
    first = pages[0][1]
    machine = first["machine"]
    load = first["settings"].get("load", 0)
    lines = [
        "# Benchmarks", "",
        f"`{command}` on {machine['date']}, {machine['cpu']}, {machine['cores']} cores "
        f"(`make {'bench-shared' if load else 'bench'}`). Every pair at its bench preset "
        "(`TwinPair.bench_preset`: the paper's or the seed's where a 2-core run finishes), batch "
        f"{first['settings']['batch_size']}; TF and the port in their own processes, timed "
        "runs alternating between them, medians: the ratios, measured side by side, are the "
        "figures that matter. Port: the Chainer port on its CPU fast path; stock: the same "
        "with Chainer's own functions (TWINPORT_FAST_CPU=0). Each pair's report (per layer, "
        "the port's train step by function) is linked; docs/performance.md says where the "
        "time goes." + _load_sentence(load), "",
        "| pair | preset | TF forward ms | port forward ms | port / TF | TF train step ms "
        "| port train step ms | port / TF | stock / TF (train) | port / TF peak RSS "
        "| `twinport parity` s |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, results, page in pages:
        row = index_rows(results)
        link = page.relative_to(out.parent) if page.is_relative_to(out.parent) else page
        lines.append(
            f"| [{name}]({link}) | {results['settings']['preset']} | "
            + " | ".join(_fmt(row[key], 2 if "ratio" in key else None) for key in (
                "tf forward", "port forward", "forward ratio", "tf train", "port train",
                "train ratio", "stock train ratio", "rss ratio", "parity s")) + " |")
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out


def _load_sentence(load: int) -> str:
    """What `--load` did to every timing of the index, when it was given."""
    return (f" Every timing was taken beside {load} busy process{'es' if load > 1 else ''} "
            "spinning a core each "
            "(`--load`): the ratios on a shared machine." if load else "")


def _csv(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
