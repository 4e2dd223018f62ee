"""`twinport train`: the seed's training loop on either backend, resumable exactly.

Everything a run needs (data, its fit to the preset, the batch size, --init weights, the
backend) is checked before the run folder is written, so a refused command leaves nothing.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator

import numpy as np
from tqdm import tqdm

from common.errors import UserError
from spec.cross_conv import FRAMES, PAIR, get_preset
from spec.cross_conv.data import open_split
from spec.pair import noise_at
from twinport.backends import create_model
from twinport.nonfinite import FiniteGuard
from twinport.runs import RunConfig, RunDir


class Interrupted(Exception):
    """SIGINT during training: the finished steps were checkpointed."""


def start_or_resume(out: str, config: RunConfig, resume: bool) -> tuple[RunDir, RunConfig]:
    """The run folder and its config: a new one, or the stored one (more steps allowed).

    Writes nothing: `train` writes the config once every input has been checked.
    """
    run = RunDir(out)
    if run.path.exists() and not run.path.is_dir():
        raise UserError(f"{run.path}: a file, not a run folder (--out)")
    if resume:
        stored = run.read_config()
        stored.steps = max(stored.steps, config.steps)
        return run, stored
    if run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"{run.path}: output folder exists and is not empty "
                        "(use --resume to continue that run, or another --out)")
    return run, config


@contextlib.contextmanager
def sigint_flag() -> Iterator[list[bool]]:
    """Turn SIGINT into a flag the loop checks between steps, so no step is half-applied."""
    flag = [False]

    def handler(signum, frame):
        flag[0] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def train(run: RunDir, config: RunConfig, progress: bool = True, check_every: int = 1) -> dict:
    """Run (or continue) training to `config.steps`; return the last step's losses.

    `check_every`: copy the weights to the host and check them for NaN/inf every this many
    steps (and before every checkpoint); see `twinport.nonfinite`.
    """
    preset = get_preset(config.preset)
    dataset = open_split(config.data, "train", preset, config.batch_size)
    checkpoint = run.latest_checkpoint()
    model = create_model(config.backend, config.preset, seed=config.seed, device=config.device,
                         weights=checkpoint.weights_path if checkpoint else config.init)
    start = checkpoint.step if checkpoint else 0
    z_sum = np.zeros(preset.z_dim, np.float64)
    z_log_sum = np.zeros(preset.z_dim, np.float64)
    z_count = 0
    if checkpoint:
        z_sum, z_log_sum, z_count = checkpoint.z_sum, checkpoint.z_log_sum, checkpoint.z_count
    run.write_config(config)
    run.remove_temporaries()
    run.start_loss_log(keep_before_step=start)

    shapes = {FRAMES: (config.batch_size, dataset.seq_len, *dataset.frame_shape)}

    def noise(step: int) -> dict[str, np.ndarray]:
        return noise_at(PAIR.noise(preset), preset, shapes, config.seed, step)

    guard = FiniteGuard(model, start, check_every)
    batches = dataset.batches(config.batch_size, config.seed, start_step=start)
    last: dict = {}
    with sigint_flag() as interrupted, tqdm(
        total=config.steps, initial=start, desc=f"train {config.backend}", unit="step",
        disable=not progress,
    ) as bar:
        for step, frames in zip(range(start, config.steps), batches, strict=False):
            began = time.perf_counter()
            last = model.train_step(frames, noise(step), step)
            finished = step + 1
            checkpoint_due = (finished % config.checkpoint_every == 0
                              or finished == config.steps or interrupted[0])
            if not guard.step_is_finite(step, last, checkpoint_due):
                fault = guard.locate(step, dataset.batches(
                    config.batch_size, config.seed, start_step=guard.good_step), noise)
                kept = run.latest_checkpoint()
                raise UserError(f"{fault}; training stopped, " + (
                    f"kept {kept.weights_path.parent}" if kept else "no checkpoint yet"))
            z_sum = z_sum + last["z_mean"].mean(axis=0)
            z_log_sum = z_log_sum + last["z_stddev_log"].mean(axis=0)
            z_count += 1
            run.append_loss({"step": step, "loss": last["loss"], "l2": last["l2"],
                             "kl": last["kl"], "lr": last["lr"],
                             "seconds": round(time.perf_counter() - began, 4)})
            bar.update(1)
            bar.set_postfix(loss=f"{last['loss']:.4f}")
            if checkpoint_due:
                run.save_checkpoint(finished, model.save, z_sum, z_log_sum, z_count)
            if interrupted[0]:
                raise Interrupted(f"interrupted after step {step}: checkpoint saved in "
                                  f"{run.checkpoints}; --resume continues")
    return last
