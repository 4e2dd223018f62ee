"""`twinport sample` of an autoregressive pair (the VPN): N futures of one test sequence,
generated pixel by pixel on either backend.

As trainer.py's test does: the context frames feed the encoder, each next frame is drawn pixel
by pixel from its logits (`parity.sampling`: the given taps once a frame, the masked decoder
once a pixel), then fed back as the input of the next step. The draws are the inverse CDF of
uniforms from `--seed` (the same on both backends: the same weights give the same frames up to
ties), or the argmax (`--greedy`, the code's own choice).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserError
from common.progress import progress as show_progress
from data import Dataset
from parity.sampling import PixelChain, generate
from spec.pair import noise_at
from spec.registry import get_pair
from twinport.evaluate import EVAL_SEED, latest_model
from twinport.runs import RunDir


@dataclass
class Futures:
    """truth: the test sequence's input [S, ...] (TF layout); futures: the N generated
    frames of every autoregressive tap [N, T, H, W, C]; indices: where they sit in the
    input's axis 1; seconds: the whole sampling's wall time."""

    input: str
    truth: np.ndarray
    futures: np.ndarray
    indices: list[int]
    seconds: float
    high: float


def sample_sequences(run: RunDir, data: str | None, split: str, sequence: int, n: int,
                     seed: int, greedy: bool, backend: str | None = None,
                     progress: bool = True) -> Futures:
    """N futures of the `sequence`-th sequence of `split` in eval's order."""
    if n < 1 or sequence < 0:
        raise UserError(f"--n {n} must be at least 1 and --sequence {sequence} at least 0")
    model, _, config = latest_model(run, backend)
    pair = get_pair(config.model)
    if pair.autoregressive is None:
        raise UserError(f"{run.path}: a {config.model} run; sample generates pixel by pixel "
                        "for an autoregressive pair (vpn)")
    preset = pair.get_preset(config.preset)
    data = data or config.data
    if pair.check_data is not None:
        pair.check_data(data, split, preset, 1)
    available = len(Dataset(data, split))
    if sequence >= available:
        raise UserError(f"--sequence {sequence}: split {split!r} of {data} has {available}")
    batch = next(pair.stream(data, split, 1, EVAL_SEED, preset, start_step=sequence))
    inputs = {name: np.repeat(value, n, axis=0) for name, value in batch.items()}
    shapes = {name: value.shape for name, value in inputs.items()}
    noise = noise_at(pair.noise(preset), preset, shapes, seed, 0)
    checks = pair.autoregressive(preset)
    name = checks[0].input
    plane = inputs[name][(slice(None), *checks[0].index)].shape[:-1]  # [N, H, W]
    uniforms = np.random.default_rng(seed).random((len(checks), *plane))
    total = len(checks) * int(np.prod(plane[1:]))
    began = time.perf_counter()
    with show_progress(total=total, desc=f"sample {backend or config.backend}", unit="px",
                       disable=not progress) as bar:
        for check, draws in zip(checks, uniforms, strict=True):
            chain = PixelChain.prepare(model, check, inputs, noise)
            for _ in generate([chain], {**inputs, **noise}, draws, greedy):
                bar.update(1)
    spec = next(s for s in pair.inputs(preset) if s.name == name)
    return Futures(name, batch[name][0],
                   np.stack([inputs[name][(slice(None), *c.index)] for c in checks], axis=1),
                   [c.index[0] for c in checks], time.perf_counter() - began,
                   spec.value_range[1] if spec.value_range else 1.0)


def draw_futures(futures: Futures, out: str) -> None:
    """A grid: the true sequence on top (the frames to generate framed), then each future's
    generated frames under the true ones they replace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import atomic_path

    truth, generated = futures.truth, futures.futures
    columns = len(truth)
    rows = 1 + len(generated)
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.axis("off")
    shown = dict(cmap="gray", vmin=0, vmax=futures.high)
    for t, frame in enumerate(truth):
        axes[0, t].imshow(frame[..., 0], **shown)
        axes[0, t].set_title("true" if t in futures.indices else f"t={t}", fontsize=7)
    for k, frames in enumerate(generated):
        for frame, t in zip(frames, futures.indices, strict=True):
            axes[k + 1, t].axis("on")
            axes[k + 1, t].imshow(frame[..., 0], **shown)
            axes[k + 1, t].set_title(f"sample {k + 1}", fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    with atomic_path(Path(out).with_suffix(".npy")) as tmp, open(tmp, "wb") as handle:
        np.save(handle, generated)
