"""Figures for the parity report, rendered with matplotlib's Agg canvas to PNG bytes.

Uses `matplotlib.figure.Figure` directly (no pyplot, no global backend switch). Log-scale
plots clip values below FLOOR (including exact zeros) to FLOOR and say so on the figure.
"""

from __future__ import annotations

import io
import math

import numpy as np

from parity.diagnose import resolve_axes
from parity.diff import NONFINITE, RAISED, SHAPE, TensorDiff, fmt
from parity.report.grouping import WIDE_MARGIN, collapse

FLOOR = 1e-12
REF_COLOR = "#1f77b4"
PORT_COLOR = "#d62728"
SERIES_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
FAIL_COLOR = "#c00000"
AMPLIFIED = 10.0  # amplifications this large are written on the per-tap figures
STATUS_LABELS = {SHAPE: "shape ", NONFINITE: "nan/inf ", RAISED: "raised "}


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_facecolor("white")
    return fig


def png_bytes(fig, tight: bool = True) -> bytes:
    """The figure as PNG; `tight` crops to the drawn content (one extra layout pass)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight" if tight else None,
                facecolor="white")
    return buf.getvalue()


def _clip(values: list[float | None]) -> tuple[np.ndarray, bool]:
    """Values for a log axis: None -> nan, <= FLOOR -> FLOOR; whether anything was clipped."""
    arr = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    small = np.isfinite(arr) & (arr < FLOOR)
    arr[small] = FLOOR
    return arr, bool(small.any())


def plot_diffs(series: dict[str, list[TensorDiff]], title: str, first: str | None = None) -> bytes:
    """Max abs and max rel diff per item (taps or parameters), in order, on log axes.

    series: label (e.g. "inference") -> diffs. Items are rows (top = first in order), one bar
    per series; the tolerance is a dashed line; failing item labels are red, `first` is bold.
    Shape mismatches are marked "shape" at the right edge. Above
    `grouping.COLLAPSE_ABOVE` items, each group passing with a wide margin is one row.
    """
    series, n_folded, n_groups = collapse(series)
    names: list[str] = []
    for diffs in series.values():
        for d in diffs:
            if d.name not in names:
                names.append(d.name)
    n, k = len(names), max(1, len(series))
    row = {name: i for i, name in enumerate(names)}
    label_size = 7 if n > 40 else 8
    # manual margins (no tight_layout / bbox passes: ~70 labels make those slow)
    width, top_in, bottom_in = 12.0, 0.95 if n > 30 else 0.75, 0.85
    height = max(2.8, 0.17 * n * max(1.0, 0.6 * k) + top_in + bottom_in)
    left_in = 0.25 + 0.62 * label_size / 72 * max([len(x) for x in names] + [4])
    fig = new_figure(width, height)
    fig.subplots_adjust(left=left_in / width, right=0.985, top=1 - top_in / height,
                        bottom=bottom_in / height, wspace=0.06)
    axes = fig.subplots(1, 2, sharey=True)
    failing = {d.name for diffs in series.values() for d in diffs if d.failed}
    clipped_any = False
    legend_items: dict = {}
    any_zero = False
    bar_h = 0.8 / k
    for column, (field, tol_field, label) in enumerate(
        (("max_abs", "atol", "max |port - reference|"),
         ("max_rel", "rtol", "max |port - reference| / |reference|"))
    ):
        ax = axes[column]
        all_vals = []
        row_tols: list[tuple[float, float]] = []  # (y, tolerance): atol is scaled per tensor
        for s, (series_label, diffs) in enumerate(series.items()):
            values, clipped = _clip([getattr(d, field) for d in diffs])
            clipped_any |= clipped
            ys = np.array([row[d.name] for d in diffs], dtype=float) - 0.4 + bar_h * (s + 0.5)
            ok = np.isfinite(values)
            color = SERIES_COLORS[s % len(SERIES_COLORS)]
            ax.barh(ys[ok], values[ok] - FLOOR, left=FLOOR, height=bar_h * 0.9, color=color,
                    label=series_label, alpha=0.85)
            zero = np.array([getattr(d, field) == 0 for d in diffs], dtype=bool)
            if zero.any():
                ax.scatter(np.full(int(zero.sum()), FLOOR), ys[zero], marker="o", s=9,
                           facecolors="none", edgecolors="#777777", linewidths=0.8,
                           label="exactly 0", zorder=3, clip_on=False)
                any_zero = True
            all_vals.extend(values[ok & ~zero].tolist())
            for d, y in zip(diffs, ys, strict=True):
                if getattr(d, tol_field):
                    row_tols.append((y, getattr(d, tol_field)))
                if d.status in STATUS_LABELS:
                    ax.text(1.0, y, STATUS_LABELS[d.status],
                            transform=ax.get_yaxis_transform(), ha="right", va="center",
                            fontsize=7, color=FAIL_COLOR, fontweight="bold")
        ax.set_xscale("log")
        tols = [t for _, t in row_tols]
        bounds = all_vals + tols
        top = max(bounds + [FLOOR * 10])
        bottom = max(FLOOR / 2, min(bounds + [top]) / 10)
        if any_zero:
            bottom = FLOOR / 2
        ax.set_xlim(bottom, top * 20)
        if tols and min(tols) == max(tols):
            ax.axvline(tols[0], color=FAIL_COLOR, linestyle="--", linewidth=1.2,
                       label=f"{tol_field} {fmt(tols[0])}")
        elif tols:
            ax.scatter(tols, [y for y, _ in row_tols], marker="|", s=50, linewidths=1.5,
                       color=FAIL_COLOR, zorder=4, label=f"{tol_field} of each row")
        ax.set_xlabel(label + " (log)", fontsize=9)
        ax.grid(axis="x", which="major", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
        ax.tick_params(axis="x", which="both", top=True, labeltop=n > 30, labelsize=8)
        handles, labels = ax.get_legend_handles_labels()
        legend_items.update(zip(labels, handles, strict=True))
    amplified = _amplified(series)
    for name, factor in amplified.items():
        axes[0].text(0.995, row[name], f"x{factor:.0f}", transform=axes[0].get_yaxis_transform(),
                     ha="right", va="center", fontsize=6.5, color="#555555")
    ax0 = axes[0]
    ax0.set_yticks(range(n))
    ax0.set_yticklabels(names, fontsize=label_size)
    for tick, name in zip(ax0.get_yticklabels(), names, strict=True):
        if name in failing:
            tick.set_color(FAIL_COLOR)
        if name == first:
            tick.set_fontweight("bold")
    ax0.set_ylim(n - 0.5, -0.5)
    fig.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
    fig.legend(list(legend_items.values()), list(legend_items), loc="upper center",
               ncol=len(legend_items), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.3 / height))
    notes = ["red labels: failing"]
    if first:
        notes.append(f"bold: first divergent ({first})")
    if amplified:
        notes.append(f"xN: amplification (end-to-end / isolated max abs) of {AMPLIFIED:g} or "
                     "more: an upstream error carried on, not this layer's own")
    if n_folded:
        notes.append(f"{n_folded} items in {n_groups} groups passing with headroom < "
                     f"{WIDE_MARGIN:g} drawn as one row each (the group's closest item)")
    if clipped_any:
        notes.append(f"values below {FLOOR:g} (including exact zeros) are drawn at {FLOOR:g}")
    fig.text(0.01, 0.08 / height, "; ".join(notes), fontsize=8, va="bottom", color="#444444")
    return png_bytes(fig, tight=False)


def _amplified(series: dict[str, list[TensorDiff]]) -> dict[str, float]:
    """Item -> its largest finite amplification over the series, where AMPLIFIED or more."""
    found: dict[str, float] = {}
    for diffs in series.values():
        for d in diffs:
            if d.amplification is not None and AMPLIFIED <= d.amplification < math.inf:
                found[d.name] = max(found.get(d.name, 0.0), d.amplification)
    return found


def _step_series(steps: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if s.get(key) is None else float(s[key]) for s in steps])


def plot_loss_curves(steps: list[dict], part_step: int | None = None) -> bytes:
    """Every loss of both backends over the steps (the pair's `losses`), and log |TF - port|
    of each; `part_step` (the first step where the curves part) is marked in every panel."""
    from parity.results import step_quantities

    labels = step_quantities(steps) or ["loss"]
    x = np.array([float(s.get("step", i)) for i, s in enumerate(steps)])
    columns = 2
    rows = math.ceil((len(labels) + 1) / columns)
    fig = new_figure(12, 3.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for spare in axes[len(labels) + 1:]:
        spare.set_axis_off()
    axes = axes[:len(labels) + 1]
    marker = "o" if len(steps) <= 40 else None
    for ax, q in zip(axes, labels, strict=False):
        title = "total loss" if q == "loss" else q
        tf, port = _step_series(steps, f"tf_{q}"), _step_series(steps, f"port_{q}")
        ax.plot(x, tf, color=REF_COLOR, marker=marker, markersize=4, label="TF reference")
        ax.plot(x, port, color=PORT_COLOR, marker=marker, markersize=3, linestyle="--",
                label="port")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
    ax = axes[len(labels)]
    clipped_any = any_value = False
    styles = [("black", "-"), ("#2ca02c", "--"), ("#9467bd", ":"), ("#8c564b", "-.")]
    for i, q in enumerate(labels):
        color, style = styles[i % len(styles)]
        diff = np.abs(_step_series(steps, f"tf_{q}") - _step_series(steps, f"port_{q}"))
        values, clipped = _clip(list(diff))
        clipped_any |= clipped
        any_value |= bool(np.isfinite(values).any())  # none when the port raised at once
        ax.plot(x, values, color=color, linestyle=style, marker=marker, markersize=3,
                label=f"|diff| {q}")
    for panel in axes:
        if part_step is not None:
            panel.axvline(part_step, color="#999999", linestyle="-.", linewidth=1,
                          label=f"curves part (step {part_step})")
        panel.legend(fontsize=8)
    if any_value:
        ax.set_yscale("log")
    ax.set_title("|TF - port| (log)", fontsize=10)
    ax.set_xlabel("step" + (f"   (values below {FLOOR:g}, including 0, drawn at {FLOOR:g})"
                            if clipped_any else ""), fontsize=9)
    ax.grid(alpha=0.3)
    fig.suptitle(f"training losses over {len(steps)} steps", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)


def plot_worst_histogram(name: str, reference, port, atol: float | None = None) -> bytes:
    """Histogram of port - reference over the elements finite on both sides (log counts)."""
    ref = np.asarray(reference, dtype=np.float64)
    prt = np.asarray(port, dtype=np.float64)
    fig = new_figure(7, 3.6)
    ax = fig.add_subplot()
    if ref.shape != prt.shape:
        ax.text(0.5, 0.5, f"shapes differ: {ref.shape} vs {prt.shape}", ha="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ok = np.isfinite(ref) & np.isfinite(prt)
        d = (prt - ref)[ok]
        if d.size == 0 or not np.any(d):
            ax.text(0.5, 0.5, "all differences are 0" if d.size else "no finite elements",
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        else:
            ax.hist(d, bins=60, color=PORT_COLOR, alpha=0.85)
            ax.set_yscale("log")
            ax.set_ylim(bottom=0.7)
            ax.set_xlabel("port - reference", fontsize=9)
            ax.set_ylabel("elements (log)", fontsize=9)
            ax.grid(alpha=0.3)
            ax.set_title("signed difference", fontsize=10)
            ax.text(0.99, 0.97, f"n = {d.size}\nmax |d| = {fmt(float(np.abs(d).max()))}",
                    transform=ax.transAxes, ha="right", va="top", fontsize=8,
                    bbox=dict(facecolor="white", alpha=0.8, edgecolor="#cccccc"))
            ax2 = fig.add_subplot(1, 2, 2)
            ax.set_subplotspec(fig.add_gridspec(1, 2)[0, 0])
            mags = np.abs(d)
            clipped = bool(np.any(mags < FLOOR))
            mags = np.maximum(mags, FLOOR)
            lo, hi = np.log10(mags.min()), np.log10(mags.max())
            bins = np.logspace(lo - 0.05, hi + 0.05, 50) if hi > lo else 10
            ax2.hist(mags, bins=bins, color=REF_COLOR, alpha=0.85)
            ax2.set_xscale("log")
            ax2.set_yscale("log")
            ax2.set_ylim(bottom=0.7)
            if atol:
                ax2.axvline(atol, color="black", linestyle="--", linewidth=1,
                            label=f"atol {fmt(atol)}")
                ax2.legend(fontsize=8)
            ax2.set_xlabel("|port - reference| (log)" + (f", 0 drawn at {FLOOR:g}"
                                                        if clipped else ""), fontsize=9)
            ax2.grid(alpha=0.3)
            ax2.set_title("magnitude", fontsize=10)
            fig.set_size_inches(11, 3.8)
    fig.suptitle(f"differences at {name}", fontsize=11)
    fig.tight_layout()
    return png_bytes(fig)


def error_map(reference, port, layout: str | None = None) -> tuple[np.ndarray, str]:
    """|port - reference| of the first sample summed over channels: a 2-D map (or 1-D
    profile) and a description of what was summed."""
    ref = np.asarray(reference, dtype=np.float64)
    prt = np.asarray(port, dtype=np.float64)
    d = np.atleast_1d(np.abs(prt - ref))  # a scalar tap (a loss) is a profile of one
    d[~np.isfinite(d)] = np.nan
    axes = resolve_axes(d.ndim, layout)
    if axes.spatial is None:
        if d.ndim >= 2:
            return d[0].reshape(-1), "|diff| of the first sample (flattened)"
        return d.reshape(-1), "|diff|"
    keep = set(axes.spatial)
    index = tuple(0 if (i == axes.batch) else slice(None) for i in range(d.ndim))
    sub = d[index]
    dims = [i for i in range(d.ndim) if i != axes.batch]
    other = tuple(j for j, i in enumerate(dims) if i not in keep)
    summed = np.nansum(sub, axis=other) if other else sub
    what = "sum of |diff| over channels" + (", first sample" if axes.batch is not None else "")
    return summed, what


def plot_worst_heatmap(name: str, reference, port, layout: str | None = None) -> bytes:
    """Where the differences are: the `error_map` as a heat map (or a profile if flat)."""
    fig = new_figure(6.5, 5)
    ax = fig.add_subplot()
    if np.shape(reference) != np.shape(port):
        ax.text(0.5, 0.5, "shapes differ", ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return png_bytes(fig)
    m, what = error_map(reference, port, layout)
    if m.ndim == 2:
        image = ax.imshow(m, cmap="magma", interpolation="nearest")
        cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        cbar.ax.tick_params(labelsize=8)
        ax.set_xlabel("W", fontsize=9)
        ax.set_ylabel("H", fontsize=9)
    else:
        ax.bar(np.arange(m.size), m, color=PORT_COLOR, width=1.0)
        ax.set_xlabel("index", fontsize=9)
        ax.set_ylabel("|diff|", fontsize=9)
    ax.set_title(f"{name}\n{what}", fontsize=9)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return png_bytes(fig)


def plot_sample(sample: dict) -> bytes:
    """The pair's sample images side by side, in their order (titles from their keys), and
    |TF - port| of `tf_prediction` and `port_prediction` when both are there."""
    titles = {"tf_prediction": "TF prediction", "port_prediction": "port prediction"}
    present = [(k, titles.get(k, k.replace("_", " "))) for k, v in sample.items()
               if v is not None]
    has_diff = sample.get("tf_prediction") is not None and sample.get("port_prediction") is not None
    n = len(present) + int(has_diff)
    fig = new_figure(3.2 * max(n, 1), 3.6)
    axes = np.atleast_1d(fig.subplots(1, max(n, 1)))
    for ax, (key, title) in zip(axes, present, strict=False):
        img = np.clip(np.asarray(sample[key], dtype=np.float64), 0, 1)
        ax.imshow(img.squeeze(), interpolation="nearest", vmin=0, vmax=1,
                  cmap="gray" if img.squeeze().ndim == 2 else None)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    if has_diff:
        ax = axes[len(present)]
        d = np.abs(np.asarray(sample["tf_prediction"], dtype=np.float64)
                   - np.asarray(sample["port_prediction"], dtype=np.float64))
        channels = d.shape[-1] if d.ndim == 3 else 1
        if d.ndim == 3:
            d = d.max(axis=-1)
        peak = float(np.nanmax(d)) if d.size else 0.0
        image = ax.imshow(d, cmap="magma", interpolation="nearest", vmin=0,
                          vmax=peak if peak > 0 else 1)
        cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        cbar.ax.tick_params(labelsize=7)
        over = " (max over channels)" if channels > 1 else ""
        ax.set_title(f"|TF - port|{over}\npeak {fmt(peak)}", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return png_bytes(fig)


def plot_training_curves(runs: list[dict]) -> bytes:
    """Each loss of several training runs, one panel per loss label, side by side (runs:
    label, step, losses: label -> values)."""
    labels = list(dict.fromkeys(label for run in runs for label in run["losses"]))
    fig = new_figure(5 * len(labels), 4.4)
    axes = np.atleast_1d(fig.subplots(1, len(labels)))
    for ax, q in zip(axes, labels, strict=True):
        title = "total loss" if q == "loss" else q
        positive = True
        for i, run in enumerate(runs):
            if q not in run["losses"]:
                continue
            y = np.asarray(run["losses"][q], dtype=np.float64)
            positive &= bool(np.all(y[np.isfinite(y)] > 0))
            ax.plot(run["step"], y, color=SERIES_COLORS[i % len(SERIES_COLORS)],
                    linewidth=1.4, label=run["label"])
        finite = [np.asarray(r["losses"][q], dtype=np.float64) for r in runs
                  if q in r["losses"]]
        finite = np.concatenate([f[np.isfinite(f)] for f in finite]) if finite else np.array([])
        if positive and finite.size and finite.max() / max(finite.min(), 1e-300) > 50:
            ax.set_yscale("log")
            title += " (log)"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)


def finite_or_none(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
