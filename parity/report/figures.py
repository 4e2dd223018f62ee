"""Which figures a parity report has, rendered from a ParityRun."""

from __future__ import annotations

from dataclasses import dataclass

from parity.report import plots
from parity.results import ParityRun
from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    FORWARD_E2E_INFERENCE,
    FORWARD_E2E_TRAINING,
    FORWARD_ISO_INFERENCE,
    FORWARD_ISO_TRAINING,
    GRADIENTS,
    TRAINING_LOSSES,
)


@dataclass
class Image:
    """One PNG of the report."""

    filename: str
    title: str
    caption: str
    png: bytes


def _first(run: ParityRun, keys) -> str | None:
    verdict = run.ensure_verdict()
    for key in keys:
        sv = verdict.sections.get(key)
        if sv is not None and not sv.passed:
            return sv.first_failure
    return None


def _part_step(run: ParityRun) -> int | None:
    sv = run.ensure_verdict().sections.get(TRAINING_LOSSES)
    return sv.first_step if sv is not None and not sv.passed else None


def render_images(run: ParityRun) -> list[Image]:
    """Every figure the run has data for, in report order."""
    images = []
    for mode, inf_key, train_key in (
        ("end-to-end", FORWARD_E2E_INFERENCE, FORWARD_E2E_TRAINING),
        ("isolated", FORWARD_ISO_INFERENCE, FORWARD_ISO_TRAINING),
    ):
        series = {label: run.sections[key] for label, key in
                  (("inference", inf_key), ("training", train_key)) if run.sections.get(key)}
        if not series:
            continue
        caption = ("each port layer fed the reference's own inputs: the first failing tap is "
                   "the layer that computes differently" if mode == "isolated" else
                   "both models run from the same input: differences accumulate downstream")
        images.append(Image(
            f"taps_{mode}.png", f"Per-tap differences, {mode}",
            f"Max abs and max rel difference per tap in graph order ({caption}).",
            plots.plot_diffs(series, f"forward, {mode}: per-tap difference (graph order)",
                             _first(run, (inf_key, train_key))),
        ))
    for key, filename, title, item in (
            (BACKWARD_ISOLATED, "backward_isolated.png", "Isolated backward",
             "gradient each layer's backward sends to an input or a variable, graph order"),
            (GRADIENTS, "gradients.png", "Parameter gradients", "variable, in variable order"),
            (AFTER_TRAINING, "after_training.png", "Parameters after K steps",
             "variable, in variable order")):
        if run.sections.get(key):
            images.append(Image(
                filename, title, f"{title}: max abs and max rel difference per {item}.",
                plots.plot_diffs({title.lower(): run.sections[key]},
                                 f"{title.lower()}: difference per {item.split(',')[0]}",
                                 _first(run, (key,))),
            ))
    if run.steps:
        images.append(Image(
            "loss_curves.png", "Training loss curves",
            "Loss of both backends over the K training steps (same data and noise) and "
            "log |TF - port|.",
            plots.plot_loss_curves(run.steps, _part_step(run)),
        ))
    worst = run.worst or {}
    if worst.get("reference") is not None and worst.get("port") is not None:
        name = worst.get("name", "worst tap")
        where = f"{name} ({worst['section']})" if worst.get("section") else name
        atol = run.settings.get("atol")
        images.append(Image(
            "worst_histogram.png", f"Differences at {name}",
            f"Histogram of port - reference at {where}.",
            plots.plot_worst_histogram(name, worst["reference"], worst["port"],
                                       float(atol) if atol is not None else None),
        ))
        images.append(Image(
            "worst_heatmap.png", f"Where the differences are at {name}",
            f"|port - reference| at {where}, summed over channels, first sample.",
            plots.plot_worst_heatmap(name, worst["reference"], worst["port"],
                                     worst.get("layout")),
        ))
    if run.sample:
        images.append(Image(
            "sample.png", "One sample",
            run.sample_caption or "The pair's sample images.",
            plots.plot_sample(run.sample),
        ))
    return images
