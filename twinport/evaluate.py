"""`twinport eval`: a run's mean losses over a split, on either backend, for any pair, and
the pair's own metrics of its prediction (`TwinPair.metrics`), averaged over the batches.

The batches are the pair's own (`TwinPair.batches`, one fixed order: seed EVAL_SEED), the
noise of batch i is `noise_at(run seed, i)`, and a pair that evaluates with fixed taps
(`TwinPair.eval_overrides`: cross_conv's empirical z) gets them from the checkpoint's running
means of its step outputs.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from common.atomic import atomic_path
from common.errors import UserError
from common.progress import progress as show_progress
from data import Dataset
from spec.cross_conv import PAIR as CROSS_CONV
from spec.pair import noise_at
from spec.registry import get_pair
from twinport.backends import create_model
from twinport.predict import prediction
from twinport.runs import Checkpoint, RunConfig, RunDir

EVAL_SEED = 0


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
    training steps (a UserError for a run of another pair: `sample` draws from it)."""
    if config.model != CROSS_CONV.name:
        raise UserError(f"{run.path}: a run of model {config.model}; the empirical z, and so "
                        f"sample, are {CROSS_CONV.name}'s")
    means = checkpoint.means()
    return means["z_mean"], means["z_stddev_log"]


def evaluate(run: RunDir, data: str | None, split: str, batch_size: int, max_batches: int,
             backend: str | None = None, progress: bool = True) -> dict:
    """The mean of each of the pair's losses over up to `max_batches` batches of `split`
    (`data`: default the run's dataset); written to the run's eval.json."""
    model, checkpoint, config = latest_model(run, backend)
    pair = get_pair(config.model)
    preset = pair.get_preset(config.preset)
    data = data or config.data
    if pair.check_data is not None:
        pair.check_data(data, split, preset, batch_size)
    count = min(max_batches, Dataset(data, split).steps_per_epoch(batch_size))
    means = checkpoint.means() if pair.eval_overrides else {}
    totals: dict[str, Any] = dict.fromkeys(pair.losses, 0.0)
    batches = pair.stream(data, split, batch_size, EVAL_SEED, preset)
    for index in show_progress(range(count), desc=f"eval {split}", unit="batch",
                               disable=not progress):
        batch = next(batches)
        shapes = {name: value.shape for name, value in batch.items()}
        overrides = pair.eval_overrides(preset, means, shapes) if pair.eval_overrides else None
        result = model.forward(batch, noise_at(pair.noise(preset), preset, shapes, config.seed,
                                               index), overrides=overrides, training=False)
        for label, tap in pair.losses.items():
            totals[label] += float(model.to_numpy(result.taps[tap]))
        if pair.metrics is not None:
            predicted = prediction(model, preset, result)
            for label, value in pair.metrics(preset, batch, predicted).items():
                totals[label] = totals.get(label, 0.0) + np.asarray(value, np.float64)
    summary = {label: (value / count).tolist() if isinstance(value, np.ndarray) else
               value / count for label, value in totals.items()}
    summary.update(step=checkpoint.step, split=split, batches=count, batch_size=batch_size,
                   backend=backend or config.backend, model=config.model, data=str(data))
    with atomic_path(run.path / "eval.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
