"""A training run's folder: config, loss log, checkpoints and the running sums of the pair's step
outputs (cross_conv: the empirical z).

RUN_DIR/
  config.json                 what the run was started with (model, backend, preset, data, ...)
  loss.csv                    step, the pair's losses (cross_conv: loss, l2, kl), lr, seconds:
                              one row per finished step
  checkpoints/step-00000100/  weights.npz (interchange format) + state.json + outputs.npz
                              (+ optimizer.npz: the optimizer's state, e.g. Adam's m, v, step)
  checkpoints/latest          the name of the newest complete checkpoint
  tensorboard/                TensorBoard event files (losses, learning rate, step time, the
                              gradient's global norm; the weights' at each checkpoint):
                              `tensorboard --logdir` on a folder of runs shows both twins'
                              side by side

A checkpoint folder is written under a temporary name and renamed into place, and `latest`
is replaced atomically after it, so a run killed at any moment leaves its previous checkpoint
intact; a write that fails (disk full, permission denied) is a one-line WriteError that leaves
it intact too. A kill can leave a temporary folder (`.step-*`) and a half-written last line in
loss.csv: a resumed run removes the one and drops the other. Data position and noise are pure
functions of the step (`TwinPair.batches(start_step=)`, `spec.pair.noise_at`), so the
step is all the state a resume needs besides the weights and the optimizer's state.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from common.arrays import read_npz
from common.atomic import atomic_path
from common.errors import UserError, WriteError
from spec.registry import DEFAULT_MODEL

KEEP_CHECKPOINTS = 2
TENSORBOARD = "tensorboard"
OUTPUTS_NPZ = "outputs.npz"
OPTIMIZER_NPZ = "optimizer.npz"
# Checkpoints written before the step outputs were the pair's: cross_conv's z under these keys.
Z_STATS_NPZ = "z_stats.npz"
Z_STATS_KEYS = {"z_mean": "z_sum", "z_stddev_log": "z_log_sum", "count": "z_count"}


@dataclass
class RunConfig:
    backend: str
    preset: str
    data: str
    steps: int
    batch_size: int
    seed: int
    checkpoint_every: int
    init: str | None = None
    device: str = "cpu"
    model: str = DEFAULT_MODEL
    split: str = "train"
    workers: int = 1


@dataclass
class Checkpoint:
    """The newest complete checkpoint of a run."""

    step: int
    weights_path: Path
    sums: dict[str, np.ndarray]
    count: int

    def optimizer_state(self) -> dict[str, np.ndarray] | None:
        """The optimizer's state saved with the weights (None: a stateless optimizer, or a
        checkpoint from before the state was kept)."""
        path = self.weights_path.with_name(OPTIMIZER_NPZ)
        return dict(read_npz(path, "optimizer state")) if path.exists() else None

    def means(self) -> dict[str, np.ndarray]:
        """Each step output (`TwinPair.step_outputs`) averaged over the batch and the training
        steps (cross_conv: the seed's empirical z, `z_mean` and `z_stddev_log`)."""
        if self.count == 0:
            raise UserError(f"{self.weights_path.parent}: checkpoint has no step statistics yet")
        return {name: total / self.count for name, total in self.sums.items()}


class RunDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.loss_csv = self.path / "loss.csv"
        self.config_json = self.path / "config.json"

    # config ---------------------------------------------------------------------------------
    def write_config(self, config: RunConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.config_json) as tmp:
            tmp.write_text(json.dumps(asdict(config), indent=2) + "\n")

    def read_config(self) -> RunConfig:
        try:
            return RunConfig(**json.loads(self.config_json.read_text()))
        except FileNotFoundError:
            raise UserError(f"{self.path}: not a training run (no config.json)") from None
        except (OSError, ValueError, TypeError) as error:
            raise UserError(f"{self.config_json}: unreadable run config ({error})") from None

    # loss log -------------------------------------------------------------------------------
    def start_loss_log(self, keep_before_step: int, columns: tuple[str, ...]) -> None:
        """Start loss.csv with `columns`, keeping only whole rows of steps already covered by
        the checkpoint.

        A run killed while appending leaves a partial last line: it is not a whole row.
        """
        rows = [row for row in self.read_losses() if _whole(row)
                and int(row["step"]) < keep_before_step]
        with atomic_path(self.loss_csv) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)

    def append_loss(self, row: dict) -> None:
        """One row, its keys in the order of the log's columns."""
        try:
            with open(self.loss_csv, "a", newline="") as handle:
                csv.DictWriter(handle, list(row)).writerow(row)
        except OSError as error:
            raise WriteError.from_os_error(self.loss_csv, error) from None

    def read_losses(self) -> list[dict]:
        if not self.loss_csv.exists():
            return []
        try:
            with open(self.loss_csv, newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise UserError(f"{self.loss_csv}: unreadable loss log ({error})") from None

    # checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, step: int, weights_writer, sums: dict[str, np.ndarray],
                        count: int, optimizer: dict[str, np.ndarray] | None = None,
                        positions: list[dict] | None = None) -> None:
        """Write checkpoint `step` whole, point `latest` at it, drop the oldest ones.
        `positions`: in a data-parallel run, each worker's rows of the global batch (its data
        position is the step and those rows), kept in state.json.

        A failed write raises WriteError naming the checkpoint and the one still in use.
        """
        name = f"step-{step:08d}"
        final = self.checkpoints / name
        try:
            self._write_checkpoint(final, step, weights_writer, sums, count, optimizer,
                                   positions)
            with atomic_path(self.checkpoints / "latest") as pointer:
                pointer.write_text(name + "\n")
        except (OSError, WriteError) as error:
            reason = error.reason if isinstance(error, WriteError) else error.strerror
            kept = self.latest_checkpoint()
            raise WriteError(final, f"{reason or error}; the run continues from "
                             f"{kept.weights_path.parent if kept else 'its start'}") from None
        self._prune(keep=name)

    def _write_checkpoint(self, final: Path, step: int, weights_writer,
                          sums: dict[str, np.ndarray], count: int,
                          optimizer: dict[str, np.ndarray] | None,
                          positions: list[dict] | None) -> None:
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.checkpoints, prefix=f".{final.name}."))
        try:
            weights_writer(tmp / "weights.npz")
            np.savez(tmp / OUTPUTS_NPZ, count=np.int64(count), **sums)
            if optimizer:
                np.savez(tmp / OPTIMIZER_NPZ, **optimizer)
            state = {"step": step, **({"workers": positions} if positions else {})}
            (tmp / "state.json").write_text(json.dumps(state) + "\n")
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def remove_temporaries(self) -> None:
        """Drop what a killed run left half-written in checkpoints/ (names starting with '.')."""
        for leftover in self.checkpoints.glob(".*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def _prune(self, keep: str) -> None:
        complete = sorted(p for p in self.checkpoints.glob("step-*") if p.is_dir())
        for old in complete[:-KEEP_CHECKPOINTS]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def latest_checkpoint(self) -> Checkpoint | None:
        pointer = self.checkpoints / "latest"
        if not pointer.exists():
            return None
        folder = pointer
        try:
            folder = self.checkpoints / pointer.read_text().strip()
            state = json.loads((folder / "state.json").read_text())
            if (folder / OUTPUTS_NPZ).exists():
                stats = read_npz(folder / OUTPUTS_NPZ, "step statistics")
            else:
                old = read_npz(folder / Z_STATS_NPZ, "z statistics")
                stats = {name: old[key] for name, key in Z_STATS_KEYS.items()}
            count = int(stats.pop("count"))
            return Checkpoint(int(state["step"]), folder / "weights.npz", stats, count)
        except (OSError, ValueError, KeyError, TypeError, UserError) as error:
            raise UserError(f"{folder}: damaged checkpoint ({error})") from None


def _whole(row: dict) -> bool:
    """A loss.csv row with every column, as `append_loss` writes it whole."""
    return (None not in row and all(row.values()) and (row.get("step") or "").isdigit())
