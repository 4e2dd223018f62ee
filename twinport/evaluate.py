"""`twinport eval`: the seed's eval, mean loss over a split with the empirical z."""

from __future__ import annotations

import json

import numpy as np
from tqdm import tqdm

from common.atomic import atomic_path
from common.errors import UserError
from spec.cross_conv import PAIR, get_preset
from spec.cross_conv.data import open_split
from spec.cross_conv.graph import FRAMES, Z_MEAN, Z_STDDEV_LOG
from spec.pair import noise_at
from twinport.backends import create_model
from twinport.runs import Checkpoint, RunConfig, RunDir


def latest_model(run: RunDir, backend: str | None = None):
    """The run's model at its newest checkpoint, and that checkpoint."""
    config = run.read_config()
    checkpoint = run.latest_checkpoint()
    if checkpoint is None:
        raise UserError(f"{run.path}: the run has no checkpoint yet")
    model = create_model(backend or config.backend, config.preset, seed=config.seed,
                         device=config.device, weights=checkpoint.weights_path,
                         model=config.model)
    return model, checkpoint, config


def empirical_z(run: RunDir, checkpoint: Checkpoint, config: RunConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """The seed's empirical z of a cross_conv run: z_mean and z_stddev_log averaged over the
    training steps (a UserError for a run of another pair)."""
    if config.model != PAIR.name:
        raise UserError(f"{run.path}: a run of model {config.model}; the empirical z, and so "
                        f"eval and sample, are {PAIR.name}'s")
    means = checkpoint.means()
    return means["z_mean"], means["z_stddev_log"]


def evaluate(run: RunDir, data: str, split: str, batch_size: int, max_batches: int,
             backend: str | None = None, progress: bool = True) -> dict:
    """Mean loss, l2 and kl over up to `max_batches` batches of `split`, in order."""
    model, checkpoint, config = latest_model(run, backend)
    preset = get_preset(config.preset)
    dataset = open_split(data, split, preset, batch_size)
    rows = batch_size * (dataset.seq_len - 1)
    shapes = {FRAMES: (batch_size, dataset.seq_len, *dataset.frame_shape)}
    z_mean, z_log = (np.broadcast_to(z, (rows, preset.z_dim)).astype(np.float32)
                     for z in empirical_z(run, checkpoint, config))
    count = min(max_batches, len(dataset) // batch_size)
    totals = {"loss": 0.0, "l2_loss": 0.0, "kl_loss": 0.0}
    for index in tqdm(range(count), desc=f"eval {split}", unit="batch", disable=not progress):
        frames = dataset.get(np.arange(index * batch_size, (index + 1) * batch_size))
        result = model.forward(frames, noise_at(PAIR.noise(preset), preset, shapes,
                                                config.seed, index),
                               overrides={Z_MEAN: z_mean, Z_STDDEV_LOG: z_log},
                               training=False)
        for key in totals:
            totals[key] += float(model.to_numpy(getattr(result, key)))
    summary = {key: value / count for key, value in totals.items()}
    summary.update(step=checkpoint.step, split=split, batches=count, batch_size=batch_size,
                   backend=backend or config.backend, data=str(data))
    with atomic_path(run.path / "eval.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
