"""`twinport parity runs REFERENCE_RUN PORT_RUN`: two training runs of one pair compared step by
step, with a verdict. Any backend and any number of workers on each side: the distributed port
against the distributed reference, or an N-worker run against its one-process run
(docs/distributed.md).

The runs must be of the same pair, preset, data, split, global batch and seed, and start from
the same weights (`--init` of one file, or the same backend and seed): then they see the same
batches and noise at every step. The verdict is on each loss of every step both logged (one
diff per loss over the steps, element by element, the `steps` tolerances): a step's loss is
the function of the weights that step starts from, on the same batch. The weights and optimizer
state of the newest checkpoint both kept are reported (the worst variables' differences), not
judged: unlike `twinport parity`'s synced steps the runs are never re-synced, and element by
element their variables need not agree. Adam normalises each gradient, so an element whose
gradient is at float32 noise level steps by about the learning rate one way or the other (TF
against Chainer on the ConvLSTM `tiny`, 2 workers each, 4 steps: 5 of 279 variables had 1 to 3
such elements; docs/distributed.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common.arrays import read_npz
from common.errors import UserError
from parity.compare import compare_arrays, compare_dicts
from parity.diff import TensorDiff, fmt
from parity.tolerances import Tolerances
from twinport.runs import Checkpoint, RunDir

REPORTED = 3
"""The variables with the largest differences named in the weights' note."""
SAME = ("model", "preset", "data", "split", "batch_size", "seed", "init")
"""The config fields two comparable runs share (`workers`, `backend`, `steps` may differ)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", metavar="REFERENCE_RUN")
    parser.add_argument("port", metavar="PORT_RUN")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default: measured, per "
                        "section; see docs/parity.md)")
    parser.add_argument("--rtol", type=float, help="relative tolerance (default: measured)")


def run(args: argparse.Namespace) -> int:
    diffs, notes = compare_runs(RunDir(args.reference), RunDir(args.port),
                                Tolerances.defaults(args.atol, args.rtol))
    for note in notes:
        print(f"runs: {note}")
    failed = [diff for diff in diffs if diff.failed]
    for diff in failed:
        print(f"FAIL {diff.describe()}")
    verdict = "FAIL" if failed else "PASS"
    print(f"{verdict}: {len(diffs) - len(failed)} of {len(diffs)} comparisons agree.")
    return 1 if failed else 0


def compare_runs(reference: RunDir, port: RunDir, tolerances: Tolerances
                 ) -> tuple[list[TensorDiff], list[str]]:
    """The diffs of two runs' losses and newest common checkpoint, and what was compared."""
    a, b = reference.read_config(), port.read_config()
    differing = [f"{name} {getattr(a, name)!r} vs {getattr(b, name)!r}" for name in SAME
                 if getattr(a, name) != getattr(b, name)]
    if differing:
        raise UserError(f"{reference.path} and {port.path} are not the same training: "
                        + "; ".join(differing))
    if a.init is None and a.backend != b.backend:
        raise UserError(f"{reference.path} and {port.path} start from each backend's own "
                        "weights: train both with --init of one file (`twinport weights init`)")
    diffs, notes = _losses(reference, port, tolerances), []
    rows = [int(row["step"]) for row in port.read_losses()]
    notes.append(f"{a.backend} x {a.workers} worker(s) against {b.backend} x {b.workers}: "
                 f"losses of steps {min(rows, default=0)}..{max(rows, default=0)}")
    step, ours, theirs = _common_checkpoint(reference, port)
    if step is None:
        notes.append("no checkpoint of the same step in both runs: weights not reported")
        return diffs, notes
    atol, rtol = tolerances.after_training
    for part, read in (("weights", lambda c: read_npz(c.weights_path, "weights")),
                       ("optimizer state", lambda c: c.optimizer_state() or {})):
        found = compare_dicts(read(ours), read(theirs), atol, rtol, scale_atol=True,
                              diagnose=False)
        worst = sorted(found, key=lambda diff: -(diff.max_abs or 0.0))[:REPORTED]
        notes.append(f"{part} at step {step} (reported, not judged): largest differences "
                     + "; ".join(f"{diff.name} max abs {fmt(diff.max_abs)} (largest |value| "
                                 f"{fmt(diff.ref_max_abs)})" for diff in worst))
    return diffs, notes


def _losses(reference: RunDir, port: RunDir, tolerances: Tolerances) -> list[TensorDiff]:
    ours = {int(row["step"]): row for row in reference.read_losses()}
    theirs = {int(row["step"]): row for row in port.read_losses()}
    steps = sorted(set(ours) & set(theirs))
    if not steps:
        raise UserError(f"{reference.path} and {port.path}: no training step in both loss logs")
    labels = [key for key in ours[steps[0]] if key not in ("step", "lr", "seconds")]
    atol, rtol = tolerances.steps
    return [compare_arrays(f"loss {label}, steps {steps[0]}..{steps[-1]}",
                           np.array([float(ours[s][label]) for s in steps]),
                           np.array([float(theirs[s][label]) for s in steps]),
                           atol, rtol, scale_atol=True, diagnose=False)
            for label in labels] + [
        compare_arrays(f"learning rate, steps {steps[0]}..{steps[-1]}",
                       np.array([float(ours[s]["lr"]) for s in steps]),
                       np.array([float(theirs[s]["lr"]) for s in steps]), 0.0, 1e-6,
                       diagnose=False)]


def _common_checkpoint(reference: RunDir, port: RunDir
                       ) -> tuple[int | None, Checkpoint | None, Checkpoint | None]:
    """The newest checkpoint step both runs still hold, and each run's checkpoint of it."""
    def held(run: RunDir) -> dict[int, Path]:
        return {int(folder.name.split("-")[1]): folder
                for folder in run.checkpoints.glob("step-*") if folder.is_dir()}

    ours, theirs = held(reference), held(port)
    common = sorted(set(ours) & set(theirs))
    if not common:
        return None, None, None
    step = common[-1]
    return step, _checkpoint(ours[step], step), _checkpoint(theirs[step], step)


def _checkpoint(folder: Path, step: int) -> Checkpoint:
    return Checkpoint(step, folder / "weights.npz", {}, 0)


