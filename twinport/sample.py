"""`twinport sample`: many plausible futures of one frame, from the empirical z distribution."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.arrays import read_npy
from common.errors import UserError
from spec.cross_conv import get_preset
from spec.cross_conv.graph import Z_MEAN, Z_STDDEV_LOG
from twinport.evaluate import empirical_z, latest_model
from twinport.predict import to_tf_layout
from twinport.runs import RunDir


def read_frame(path: str) -> np.ndarray:
    """An image file (any Pillow format, scaled to [0, 1]) or a float .npy [H, W, 3] in [0, 1]."""
    if not Path(path).exists():
        raise UserError(f"{path}: no such file")
    if path.endswith(".npy"):
        frame = read_npy(path, "a frame [H, W, 3] in [0, 1]")
        if frame.dtype.kind not in "biuf":
            raise UserError(f"{path}: expected a numeric frame, got dtype {frame.dtype}")
        frame = frame.astype(np.float32)
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            frame = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as error:
            raise UserError(f"{path}: not a readable image ({error})") from None
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise UserError(f"{path}: expected a frame [H, W, 3], got {list(frame.shape)}")
    return frame


def sample_futures(run: RunDir, frame: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """N predicted next frames and differences, each [N, S, S, 3] at the target size."""
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1")
    model_name = run.read_config().model
    if model_name != "cross_conv":
        raise UserError(f"{run.path}: a {model_name} run; sample draws futures from the cross "
                        "conv's empirical z (`twinport predict` for this model)")
    model, checkpoint, config = latest_model(run)
    preset = get_preset(config.preset)
    z_mean, z_log = (np.broadcast_to(z, (n, preset.z_dim)).astype(np.float32)
                     for z in empirical_z(run, checkpoint, config))
    epsilon = np.random.default_rng(seed).standard_normal((n, preset.z_dim), dtype=np.float32)
    # The motion encoder's output is replaced by the empirical z, so the second frame of the
    # pair is never read: the frame itself stands in for it.
    frames = np.broadcast_to(frame, (n, 2, *frame.shape)).astype(np.float32)
    result = model.forward(frames, epsilon, overrides={Z_MEAN: z_mean, Z_STDDEV_LOG: z_log},
                           training=False)
    shifted = to_tf_layout(model, result.output)
    diff = (shifted * 2.0 - preset.scale) / preset.scale
    name = f"image_{preset.target_size}"
    image = to_tf_layout(model, result.taps[name], name)
    future = np.clip(image / preset.scale + diff, 0.0, 1.0)
    return image[0] / preset.scale, future, diff


def draw_samples(frame: np.ndarray, futures: np.ndarray, diffs: np.ndarray, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.atomic import atomic_path

    n = len(futures)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.8 * (n + 1), 3.8), squeeze=False)
    axes[0, 0].imshow(np.clip(frame, 0, 1))
    axes[0, 0].set_title("frame", fontsize=9)
    axes[1, 0].axis("off")
    limit = max(float(np.abs(diffs).max()), 1e-6)
    for i in range(n):
        axes[0, i + 1].imshow(futures[i])
        axes[0, i + 1].set_title(f"future {i + 1}", fontsize=9)
        axes[1, i + 1].imshow(diffs[i].mean(axis=-1), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[1, i + 1].set_title("predicted diff", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
