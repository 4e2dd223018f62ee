"""Parity reports: a folder of JSON, CSV, markdown, a self-contained HTML page and PNGs.

`write_report(run, out_dir)` for one ParityRun; `plot_training_runs(run_dirs, out_dir)` for
the loss curves of several training runs (`twinport report RUN_DIR ... -o DIR`). Both write
atomically: the folder appears whole or the previous one stays as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.atomic import atomic_dir
from parity.report.training import plot_training_runs, read_training_run
from parity.results import ParityRun

REPORT_MD = "report.md"
REPORT_HTML = "report.html"

__all__ = ["REPORT_HTML", "REPORT_MD", "plot_training_runs", "read_training_run",
           "write_report"]


def write_report(
    run: ParityRun,
    out_dir: str | os.PathLike,
    *,
    graph_order: list[str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write the report folder for `run` and return its path.

    Files: summary.json (+ arrays.npz when the run has the worst tap or a sample),
    layers.csv, grads.csv, steps.csv (after_training.csv / other_sections.csv when those
    sections exist), report.md, report.html and one PNG per figure the run has data for
    (taps_end-to-end.png, taps_isolated.png, gradients.png, after_training.png,
    loss_curves.png, worst_histogram.png, worst_heatmap.png, sample.png).
    The verdict is built from the sections when `run.verdict` is None (`graph_order` re-sorts
    forward taps). With overwrite=False an existing non-empty folder is refused (UserError).
    """
    from parity.report.figures import render_images
    from parity.report.html import render_html
    from parity.report.markdown import render_markdown
    from parity.report.tables import write_csvs

    run.ensure_verdict(graph_order)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        files = run.save(tmp)
        files += write_csvs(run, tmp)
        images = render_images(run)
        for image in images:
            (tmp / image.filename).write_bytes(image.png)
        files += [image.filename for image in images]
        files += [REPORT_MD, REPORT_HTML]
        (tmp / REPORT_MD).write_text(render_markdown(run, images, files), encoding="utf-8")
        (tmp / REPORT_HTML).write_text(render_html(run, images, files), encoding="utf-8")
    return out_dir
