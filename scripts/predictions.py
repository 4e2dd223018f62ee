"""A pair's prediction figure for docs/models/: test sequences' last input frames, the true
next frames and each run's predicted frames, side by side (the ConvLSTM's, Finn et al.'s, the
E3D-LSTM's).

    .venv/bin/python scripts/predictions.py RUN_TF RUN_CHAINER -o FIGURE.png
        [--data DIR] [--n 3]

Each run's newest checkpoint, on its own backend, its own pair and preset; N test sequences
(the pair's first test batch of seed 0, with actions and states for Finn et al.'s pairs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spec.registry import get_pair  # noqa: E402
from twinport.evaluate import latest_model  # noqa: E402
from twinport.predict import prediction  # noqa: E402
from twinport.runs import RunDir  # noqa: E402

SHOWN_INPUTS = 3


def predictions(run: RunDir, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, str, int]:
    """The run's predicted frames [N, K, H, W, C] in [0, 1], its backend and step."""
    model, checkpoint, config = latest_model(run)
    frames = prediction(model, model.preset, model.forward(inputs, training=False))
    return frames, config.backend, checkpoint.step


def image(frame: np.ndarray) -> tuple[np.ndarray, dict]:
    """A frame for imshow: grey for one channel, else RGB; clipped to [0, 1]."""
    frame = np.clip(frame, 0, 1)
    return (frame[..., 0], {"cmap": "gray", "vmin": 0, "vmax": 1}) if frame.shape[-1] == 1 \
        else (frame, {})


def draw(frames: np.ndarray, runs: list[tuple[np.ndarray, str, int]], first: int,
         out: str) -> None:
    from matplotlib.figure import Figure

    count, future = frames.shape[0], runs[0][0].shape[1]
    shown = min(SHOWN_INPUTS, first)
    rows = [("input | true", frames[:, first - shown:first + future], 0)]
    rows += [(f"{backend} (step {step})", pred, shown) for pred, backend, step in runs]
    columns = shown + future
    fig = Figure(figsize=(columns * 0.9, count * len(rows) * 0.95 + 0.4), dpi=100,
                 layout="constrained")
    axes = fig.subplots(count * len(rows), columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for sample in range(count):
        for r, (label, images, offset) in enumerate(rows):
            line = axes[sample * len(rows) + r]
            for k in range(images.shape[1]):
                pixels, style = image(images[sample, k])
                line[offset + k].imshow(pixels, **style)
                if sample == 0 and r == 0:
                    line[k].set_title(f"t={first - shown + k}", fontsize=7)
            line[offset].text(-0.1, 0.5, label, transform=line[offset].transAxes, ha="right",
                              va="center", fontsize=7)
    fig.savefig(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--data", help="default: the pair's default dataset")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    config = RunDir(args.runs[0]).read_config()
    pair = get_pair(config.model)
    preset = pair.get_preset(config.preset)
    inputs = next(pair.stream(args.data or pair.default_data, "test", args.n, 0, preset))
    runs = [predictions(RunDir(path), inputs) for path in args.runs]
    frames = inputs[pair.inputs(preset)[0].name][:, :preset.seq_len]
    draw(frames, runs, preset.seq_len - runs[0][0].shape[1], args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
