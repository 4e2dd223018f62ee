"""Interrupted training: SIGKILL at a random point or SIGINT, then --resume, equals a run that
was never interrupted (loss.csv and final weights exactly, on CPU), on both backends."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights

ROOT = Path(__file__).resolve().parents[1]
STEPS = 9
COLUMNS = ("step", "loss", "l2", "kl", "lr")  # not seconds


def train_args(backend: str, data: Path, out: Path) -> list[str]:
    return ["train", "--backend", backend, "--data", str(data), "--preset", "tiny", "--steps",
            str(STEPS), "--batch-size", "4", "--checkpoint-every", "3", "--out", str(out),
            "--quiet"]


def losses(run: Path) -> list[tuple[str, ...]]:
    if not (run / "loss.csv").exists():
        return []
    with open(run / "loss.csv", newline="") as handle:
        return [tuple(row[key] for key in COLUMNS) for row in csv.DictReader(handle)
                if None not in row.values()]


def final_weights(run: Path) -> dict[str, np.ndarray]:
    latest = (run / "checkpoints" / "latest").read_text().strip()
    return load_weights(run / "checkpoints" / latest / "weights.npz",
                        build_spec(get_preset("tiny")))


def assert_same_run(run: Path, reference: Path) -> None:
    assert losses(run) == losses(reference)
    a, b = final_weights(run), final_weights(reference)
    assert all(np.array_equal(a[name], b[name]) for name in a)


def start(backend: str, data: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "twinport.cli", *train_args(backend, data, out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(process: subprocess.Popen, run: Path, rows: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(losses(run)) < rows:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training too slow"
        time.sleep(0.01)


@pytest.fixture(scope="module", params=["tf", "chainer"])
def reference(request, tmp_path_factory, moving_objects_dir) -> tuple[str, Path]:
    """An uninterrupted run, in this process."""
    from twinport.cli import main

    out = tmp_path_factory.mktemp("reference") / request.param
    assert main(train_args(request.param, moving_objects_dir, out)) == 0
    return request.param, out


def test_sigkill_then_resume_equals_an_uninterrupted_run(cli, reference, moving_objects_dir,
                                                         tmp_path):
    backend, reference_run = reference
    kill_after = int(np.random.default_rng([7, len(backend)]).integers(1, STEPS))
    run = tmp_path / "run"
    process = start(backend, moving_objects_dir, run)
    wait_for_rows(process, run, kill_after)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    # What an unlucky kill can leave besides: a half-written checkpoint folder, and a loss.csv
    # line cut short. Resume removes the one and drops the other.
    (run / "checkpoints").mkdir(exist_ok=True)
    (run / "checkpoints" / ".step-00000099.half").mkdir()
    with open(run / "loss.csv", "a") as handle:
        handle.write("1")
    status, out, err = cli(*train_args(backend, moving_objects_dir, run), "--resume")
    assert status == 0, err
    assert_same_run(run, reference_run)
    assert sorted(os.listdir(run / "checkpoints")) == ["latest", "step-00000006", "step-00000009"]


# The loop and its SIGINT flag are shared by both backends: TF (fast) is enough here.
@pytest.mark.parametrize("reference", ["tf"], indirect=True)
def test_sigint_checkpoints_exits_130_and_resumes(cli, reference, moving_objects_dir, tmp_path):
    backend, reference_run = reference
    run = tmp_path / "run"
    process = start(backend, moving_objects_dir, run)
    wait_for_rows(process, run, 2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    finished = len(losses(run))
    assert f"interrupted after step {finished - 1}: checkpoint saved" in out
    assert (run / "checkpoints" / "latest").read_text().strip() == f"step-{finished:08d}"
    status, _, err = cli(*train_args(backend, moving_objects_dir, run), "--resume")
    assert status == 0, err
    assert_same_run(run, reference_run)
