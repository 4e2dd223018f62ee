"""The ConvLSTM pair's prediction figure for docs/models/convlstm.md: test sequences' last
input frames, the true next frames and each run's predicted frames, side by side.

    .venv/bin/python scripts/convlstm_predictions.py RUN_TF RUN_CHAINER -o FIGURE.png
        [--data DIR] [--n 3]

Each run's newest checkpoint, on its own backend; the first N test sequences.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import Dataset  # noqa: E402
from spec.convlstm import PAIR  # noqa: E402
from twinport.evaluate import latest_model  # noqa: E402
from twinport.predict import to_tf_layout  # noqa: E402
from twinport.runs import RunDir  # noqa: E402

SHOWN_INPUTS = 3


def predictions(run: RunDir, frames: np.ndarray) -> tuple[np.ndarray, str, int]:
    """The run's predicted frames [N, K, H, W, 1] in [0, 1], its backend and step."""
    model, checkpoint, config = latest_model(run)
    preset = PAIR.get_preset(config.preset)
    result = model.forward(frames, training=False)
    return (PAIR.prediction(preset, lambda name: to_tf_layout(model, result.taps[name])),
            config.backend, checkpoint.step)


def draw(frames: np.ndarray, runs: list[tuple[np.ndarray, str, int]], first: int,
         out: str) -> None:
    from matplotlib.figure import Figure

    count, future = frames.shape[0], runs[0][0].shape[1]
    rows = [("input | true", frames[:, first - SHOWN_INPUTS:first + future], 0)]
    rows += [(f"{backend} (step {step})", np.clip(pred, 0, 1), SHOWN_INPUTS)
             for pred, backend, step in runs]
    columns = SHOWN_INPUTS + future
    fig = Figure(figsize=(columns * 0.9, count * len(rows) * 0.95 + 0.4), dpi=100,
                 layout="constrained")
    axes = fig.subplots(count * len(rows), columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for sample in range(count):
        for r, (label, images, offset) in enumerate(rows):
            line = axes[sample * len(rows) + r]
            for k in range(images.shape[1]):
                line[offset + k].imshow(images[sample, k, ..., 0], cmap="gray", vmin=0, vmax=1)
                if sample == 0 and r == 0:
                    line[k].set_title(f"t={first - SHOWN_INPUTS + k}", fontsize=7)
            line[offset].text(-0.1, 0.5, label, transform=line[offset].transAxes, ha="right",
                              va="center", fontsize=7)
    fig.savefig(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--data", default=PAIR.default_data)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    frames = Dataset(args.data, "test").get(np.arange(args.n))
    runs = [predictions(RunDir(path), frames) for path in args.runs]
    preset = PAIR.get_preset(RunDir(args.runs[0]).read_config().preset)
    draw(frames[:, :preset.seq_len], runs, preset.input_frames, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
