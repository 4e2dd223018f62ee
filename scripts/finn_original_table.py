"""The Finn pairs' TF reference against the original code, before and after the fix: the table
of docs/models/finn.md ("Against the original code").

    .venv/bin/python scripts/finn_original_table.py --older DIR --newer DIR [--presets tiny,paper]

DIR: a folder with prediction_model.py (69cc9e9 / 8699e3b of tensorflow/models
research/video_prediction), lstm_ops.py and spatial_transformer.py. "before" is the reference
as it was until 2026-12-07 (`OldReference`: the `relu_before_norm` pitfall's relu on
scale1_conv1 and convt3 before their layer norms, and the older code's three relus), run on the
tensors of the preset's code version. Each row is one
`twinport parity original` run; the numbers are the largest |difference| over the predicted
frames, the loss's relative difference and psnr_all's difference (dB), per forward mode.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parity.original import OriginalSettings, check_original  # noqa: E402
from spec.finn.graph import LOSS, PSNR  # noqa: E402
from spec.finn.pitfalls import ReluBeforeNorm  # noqa: E402
from spec.finn.presets import NEWER  # noqa: E402
from spec.registry import get_pair  # noqa: E402


class OldReference(ReluBeforeNorm):
    """The reference until 2026-12-07 on any preset: the relu before the two layer norms, and
    slim's relus after convt3's layer norm, on convt4 and on convt7 whatever the version."""

    @staticmethod
    def mutate(layers: list) -> list:
        old = ("model/convt3/layer_norm9_", "model/convt4_", "model/convt7_")
        return [replace(layer, attrs={**layer.attrs, "relu": True})
                if layer.name.startswith(old) else layer
                for layer in ReluBeforeNorm.mutate(layers)]


MODES = {"forward/end-to-end/inference": "inference", "forward/end-to-end/training": "training"}


def row(model: str, preset: str, code: str, version: str, before: bool, batch: int) -> str:
    pair = get_pair(model)
    reference = OldReference.with_twin(pair.twin_class("tf")) if before else None
    start = time.perf_counter()
    run, _ = check_original(OriginalSettings(model, preset, code, batch_size=batch),
                            progress=False, reference_class=reference)
    seconds = time.perf_counter() - start
    verdict = run.ensure_verdict()
    cells = []
    for key, mode in MODES.items():
        diffs = {d.name: d for d in run.sections[key]}
        frames = max(d.max_abs for name, d in diffs.items() if "/output_" in name)
        loss = diffs[LOSS].max_abs / abs(diffs[LOSS].ref_max_abs)
        cells.append(f"{mode}: frames {frames:.1e}, loss {loss:.1e}, psnr_all "
                     f"{diffs[PSNR].max_abs:.2g} dB")
    first = "" if verdict.passed else f" from {verdict.first_divergent}"
    return (f"| {model} | {preset} | {version} | {'before' if before else 'after'} | "
            f"{' / '.join(cells)} | {verdict.status}{first} | {seconds:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--older", required=True, help="the 69cc9e9 code's folder")
    parser.add_argument("--newer", required=True, help="the 8699e3b code's folder")
    parser.add_argument("--presets", default="tiny,paper")
    parser.add_argument("--models", default="cdna,dna,stp")
    parser.add_argument("--batch-size", type=int, default=2)
    args = parser.parse_args()
    print("| variant | preset | code | reference | max abs / relative differences | verdict "
          "| wall |\n|---|---|---|---|---|---|---|", flush=True)
    for model in args.models.split(","):
        for preset in args.presets.split(","):
            for code, version, newer in ((args.older, "69cc9e9", ""),
                                         (args.newer, NEWER, f"-{NEWER}")):
                for before in (True, False):
                    print(row(model, preset + newer, code, version, before,
                              args.batch_size), flush=True)


if __name__ == "__main__":
    main()
