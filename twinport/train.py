"""`twinport train`: the seed's training loop on either backend, resumable exactly."""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Iterator

import numpy as np
from tqdm import tqdm

from data import Dataset
from spec import get_preset
from twinport.backends import create_model
from twinport.errors import UserError
from twinport.noise import epsilon_for
from twinport.runs import RunConfig, RunDir


class Interrupted(Exception):
    """SIGINT during training: the finished steps were checkpointed."""


def check_batch_size(batch_size: int, dataset: Dataset, source: str) -> None:
    if not 0 < batch_size <= len(dataset):
        raise UserError(f"--batch-size {batch_size}: must be between 1 and the {len(dataset)} "
                        f"sequences of {source}")


def start_or_resume(out: str, config: RunConfig, resume: bool) -> tuple[RunDir, RunConfig]:
    """The run folder and its config: a new one, or the stored one (more steps allowed)."""
    run = RunDir(out)
    if resume:
        stored = run.read_config()
        if config.steps > stored.steps:
            stored.steps = config.steps
            run.write_config(stored)
        return run, stored
    if run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"{run.path}: output folder exists and is not empty "
                        "(use --resume to continue that run, or another --out)")
    run.write_config(config)
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


def train(run: RunDir, config: RunConfig, progress: bool = True) -> dict:
    """Run (or continue) training to `config.steps`; return the last step's losses."""
    preset = get_preset(config.preset)
    dataset = Dataset(config.data, "train")
    check_batch_size(config.batch_size, dataset, f"{config.data} (train)")
    model = create_model(config.backend, config.preset, seed=config.seed, device=config.device)
    if config.init:
        model.load(config.init)

    checkpoint = run.latest_checkpoint()
    start = checkpoint.step if checkpoint else 0
    z_sum = np.zeros(preset.z_dim, np.float64)
    z_log_sum = np.zeros(preset.z_dim, np.float64)
    z_count = 0
    if checkpoint:
        model.load(checkpoint.weights_path)
        z_sum, z_log_sum, z_count = checkpoint.z_sum, checkpoint.z_log_sum, checkpoint.z_count
    run.start_loss_log(keep_before_step=start)

    rows = config.batch_size * (dataset.seq_len - 1)
    batches = dataset.batches(config.batch_size, config.seed, start_step=start)
    last: dict = {}
    with sigint_flag() as interrupted, tqdm(
        total=config.steps, initial=start, desc=f"train {config.backend}", unit="step",
        disable=not progress,
    ) as bar:
        for step, frames in zip(range(start, config.steps), batches, strict=False):
            began = time.perf_counter()
            epsilon = epsilon_for(config.seed, step, rows, preset.z_dim)
            last = model.train_step(frames, epsilon, step)
            if not all(math.isfinite(last[key]) for key in ("loss", "l2_loss", "kl_loss")):
                kept = run.latest_checkpoint()
                raise UserError(
                    f"step {step}: the loss is not finite (loss {last['loss']}, l2 "
                    f"{last['l2_loss']}, kl {last['kl_loss']}); kept the checkpoint of step "
                    f"{kept.step if kept else 'none'} in {run.checkpoints}")
            z_sum = z_sum + last["z_mean"].mean(axis=0)
            z_log_sum = z_log_sum + last["z_stddev_log"].mean(axis=0)
            z_count += 1
            run.append_loss({"step": step, "loss": last["loss"], "l2": last["l2_loss"],
                             "kl": last["kl_loss"], "lr": last["lr"],
                             "seconds": round(time.perf_counter() - began, 4)})
            bar.update(1)
            bar.set_postfix(loss=f"{last['loss']:.4f}")
            finished = step + 1
            if finished % config.checkpoint_every == 0 or finished == config.steps or \
                    interrupted[0]:
                run.save_checkpoint(finished, model.save, z_sum, z_log_sum, z_count)
            if interrupted[0]:
                raise Interrupted(f"interrupted after step {step}: checkpoint saved in "
                                  f"{run.checkpoints}; --resume continues")
    return last
