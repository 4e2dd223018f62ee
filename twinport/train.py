"""`twinport train`: a pair's training loop on either backend, resumable exactly.

Everything a run needs (data, its fit to the preset, the batch size, --init weights, the
backend) is checked before the run folder is written, so a refused command leaves nothing.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from common.errors import UserError
from common.progress import progress as show_progress
from common.tensorboard import EventWriter
from data import Part
from spec.pair import noise_at
from spec.registry import get_pair
from spec.twin import GRADIENT_NORM
from twinport.backends import create_model
from twinport.nonfinite import FiniteGuard
from twinport.runs import TENSORBOARD, RunConfig, RunDir
from twinport.workers import DEFAULT_TIMEOUT, World, join


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
        # Another number of workers continues the same global batches from the same state.
        stored.workers = config.workers
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


def train(run: RunDir, config: RunConfig, progress: bool = True, check_every: int = 1,
          timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Run (or continue) training to `config.steps`; return the last step's losses.

    The pair's batches, noise (`spec.pair.noise_at`), losses and optimizer; the running sums
    of its step outputs (cross_conv: the empirical z) go into every checkpoint.
    `check_every`: copy the weights to the host and check them for NaN/inf every this many
    steps (and before every checkpoint); see `twinport.nonfinite`.

    In a data-parallel run (`config.workers` processes, `twinport.workers`) each worker reads
    its rows of the global batch and their noise, the gradients are averaged (or added, as the
    preset's `worker_gradients` says) before every update, the losses and step outputs are
    averaged over the workers (the global batch's), and worker 0 alone writes the run folder;
    `timeout` bounds each wait for the others.
    """
    pair = get_pair(config.model)
    preset = pair.get_preset(config.preset)
    if pair.check_data is not None:
        pair.check_data(config.data, config.split, preset, config.batch_size)
    world = join(config.backend, config.workers, timeout, config.device)
    part = Part(world.rank, world.workers)
    part.share(config.batch_size)
    lead = world.rank == 0
    checkpoint = run.latest_checkpoint()
    model = create_model(config.backend, config.preset, seed=config.seed,
                         device=world.device,
                         weights=checkpoint.weights_path if checkpoint else config.init,
                         model=config.model)
    saved_state = checkpoint.optimizer_state() if checkpoint else None
    if saved_state is not None:
        model.set_optimizer_state(saved_state)
    world.attach(model)
    start = checkpoint.step if checkpoint else 0
    sums = dict(checkpoint.sums) if checkpoint else {}
    count = checkpoint.count if checkpoint else 0
    if lead:
        run.write_config(config)
        run.remove_temporaries()
        run.start_loss_log(keep_before_step=start,
                           columns=("step", *pair.losses, "lr", "seconds"))

    def noise(step: int, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        shapes = {name: value.shape for name, value in batch.items()}
        return noise_at(pair.noise(preset), preset, shapes, config.seed, step, part)

    def batches(first: int) -> Iterator[dict[str, np.ndarray]]:
        return pair.stream(config.data, config.split, config.batch_size, config.seed, preset,
                           start_step=first, part=part)

    guard = FiniteGuard(model, start, check_every)
    last: dict = {}
    with (EventWriter(run.path / TENSORBOARD) if lead else contextlib.nullcontext()) as events, \
            world.guarded(), sigint_flag() as interrupted, show_progress(
        total=config.steps, initial=start, desc=f"train {config.backend}", unit="step",
        disable=not (progress and lead),
    ) as bar:
        for step, batch in zip(range(start, config.steps), batches(start), strict=False):
            began = time.perf_counter()
            last = model.train_step(batch, noise(step, batch), step)
            last.update(world.mean(
                {**{label: last[label] for label in pair.losses},
                 **{name: last[name].astype(np.float64).mean(axis=0)
                    for name in pair.step_outputs}}, f"step {step}'s losses"))
            stop = world.any(interrupted[0], f"step {step}'s interrupt flag")
            finished = step + 1
            checkpoint_due = (finished % config.checkpoint_every == 0
                              or finished == config.steps or stop)
            if not guard.step_is_finite(step, last, checkpoint_due):
                fault = guard.locate(step, batches(guard.good_step), noise)
                kept = run.latest_checkpoint()
                raise UserError(f"{fault}; training stopped, " + (
                    f"kept {kept.weights_path.parent}" if kept else "no checkpoint yet"))
            for name in pair.step_outputs:
                sums[name] = sums.get(name, 0.0) + last[name]
            count += 1
            if lead:
                seconds = round(time.perf_counter() - began, 4)
                run.append_loss({"step": step, **{label: last[label] for label in pair.losses},
                                 "lr": last["lr"], "seconds": seconds})
                events.scalars(step, {**{f"loss/{label}": last[label]
                                         for label in pair.losses},
                                      "learning_rate": last["lr"], "step_seconds": seconds,
                                      **({"gradients/global_norm": last[GRADIENT_NORM]}
                                         if GRADIENT_NORM in last else {})})
            bar.update(1)
            bar.set_postfix(loss=f"{last[next(iter(pair.losses))]:.4f}")
            if checkpoint_due:
                save_checkpoint(run, world, model, finished, sums, count, config.batch_size)
                if lead:
                    events.scalars(step, {"weights/global_norm": global_norm(model)})
            if stop:
                world.finish()
                raise Interrupted(f"interrupted after step {step}: checkpoint saved in "
                                  f"{run.checkpoints}; --resume continues")
        world.finish()
    return last


def global_norm(model: Any) -> float:
    """The L2 norm of all the model's variables together (TF's `tf.linalg.global_norm`)."""
    return float(np.sqrt(sum(np.sum(np.square(value, dtype=np.float64))
                             for value in model.get_weights().values())))


def save_checkpoint(run: RunDir, world: World, model: Any, step: int,
                    sums: dict[str, np.ndarray], count: int, batch_size: int) -> None:
    """Worker 0 writes checkpoint `step` whole, with every worker's rows of the global batch,
    once every worker holds the same weights and optimizer state (else a UserError)."""
    state = model.get_optimizer_state()
    if world.workers > 1 and not world.same({**model.get_weights(), **state},
                                            f"checkpoint {step}'s states"):
        raise UserError(f"step {step}: the workers' weights or optimizer states differ; "
                        "no checkpoint written")
    if world.rank == 0:
        rows = [Part(rank, world.workers).rows(batch_size) for rank in range(world.workers)]
        run.save_checkpoint(step, model.save, sums, count, state,
                            positions=[{"worker": rank, "rows": [part.start, part.stop]}
                                       for rank, part in enumerate(rows)])
