"""Data-parallel training (`twinport train --workers N`, docs/distributed.md): N workers on the
global batch compute the one-process run on that batch; resume; a worker that dies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.arrays import read_npz
from data import Part
from spec.pair import noise_at
from spec.registry import get_pair
from twinport.runs import RunDir

TINY = ("--model", "convlstm", "--preset", "tiny", "--batch-size", "4", "--quiet")
PAIRS_DATA = {"cross_conv": "moving_objects_dir", "convlstm": "moving_mnist_dir",
              "e3d_lstm": "moving_mnist_dir", "vpn": "moving_mnist_dir", "cdna": "pushing_dir"}


def twinport(*argv: str | Path, check: bool = True, **popen) -> subprocess.CompletedProcess:
    """`twinport ARGV` in its own process, as a researcher runs it."""
    result = subprocess.run([sys.executable, "-m", "twinport.cli", *map(str, argv)],
                            capture_output=True, text=True, timeout=600, **popen)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def train(data: Path, out: Path, *more: str | Path, check: bool = True,
          backend: str = "chainer") -> subprocess.CompletedProcess:
    return twinport("train", "--backend", backend, *TINY, "--data", data, "--out", out, *more,
                    check=check)


def final_state(out: Path) -> dict[str, np.ndarray]:
    checkpoint = RunDir(out).latest_checkpoint()
    state = dict(read_npz(checkpoint.weights_path, "weights"))
    state.update(checkpoint.optimizer_state() or {})
    return state


def losses(out: Path) -> np.ndarray:
    return np.array([float(row["loss"]) for row in RunDir(out).read_losses()])


@pytest.mark.parametrize("model", sorted(PAIRS_DATA))
def test_each_worker_reads_its_rows_of_the_global_batch_and_their_noise(model, request):
    """Every pair's reader and noise: the workers' parts, joined, are the global batch's."""
    pair = get_pair(model)
    preset = pair.get_preset("tiny")
    data = request.getfixturevalue(PAIRS_DATA[model])
    whole = next(pair.stream(data, "train", 4, 3, preset, start_step=5))
    parts = [next(pair.stream(data, "train", 4, 3, preset, start_step=5, part=Part(rank, 2)))
             for rank in range(2)]
    for name, value in whole.items():
        np.testing.assert_array_equal(np.concatenate([part[name] for part in parts]), value)
    shapes = {name: value.shape for name, value in whole.items()}
    noise = noise_at(pair.noise(preset), preset, shapes, 3, 5)
    halves = [noise_at(pair.noise(preset), preset,
                       {name: value.shape for name, value in part.items()}, 3, 5, Part(rank, 2))
              for rank, part in enumerate(parts)]
    for name, value in noise.items():
        np.testing.assert_array_equal(np.concatenate([half[name] for half in halves]), value)


@pytest.mark.parametrize("backend", ["chainer", "tf"])
def test_two_workers_train_as_one_process_on_the_global_batch(moving_mnist_dir, tmp_path,
                                                              backend):
    """ChainerMN and MultiWorkerMirroredStrategy: 2 workers x 2 sequences = 1 process x 4,
    step for step (the gradients' all-reduce changes the order of a float32 sum, nothing
    else); worker 0 writes the run, with each worker's rows; the optimizer state is the same on
    both workers (checked at every checkpoint)."""
    one, two = tmp_path / "one", tmp_path / "two"
    train(moving_mnist_dir, one, "--steps", "3", backend=backend)
    result = train(moving_mnist_dir, two, "--steps", "3", "--workers", "2", backend=backend)
    assert result.stdout.count("trained to step 3") == 1, result.stdout
    np.testing.assert_allclose(losses(two), losses(one), rtol=1e-6)
    a, b = final_state(one), final_state(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-6, err_msg=name)
    state = json.loads((RunDir(two).latest_checkpoint().weights_path.parent
                        / "state.json").read_text())
    assert state["workers"] == [{"worker": 0, "rows": [0, 2]}, {"worker": 1, "rows": [2, 4]}]
    assert json.loads((two / "config.json").read_text())["workers"] == 2


@pytest.mark.parametrize("backend", ["chainer", "tf"])
def test_resume_with_the_same_workers_is_exact_and_with_others_continues(moving_mnist_dir,
                                                                        tmp_path, backend):
    straight, resumed, other = tmp_path / "straight", tmp_path / "resumed", tmp_path / "other"
    train(moving_mnist_dir, straight, "--steps", "4", "--workers", "2", backend=backend)
    train(moving_mnist_dir, resumed, "--steps", "2", "--workers", "2", backend=backend)
    shutil.copytree(resumed, other)
    train(moving_mnist_dir, resumed, "--steps", "4", "--workers", "2", "--resume",
          backend=backend)
    train(moving_mnist_dir, other, "--steps", "4", "--resume",  # one process from here
          backend=backend)
    np.testing.assert_array_equal(losses(resumed), losses(straight))
    a, b, c = final_state(straight), final_state(resumed), final_state(other)
    for name in a:
        np.testing.assert_array_equal(b[name], a[name], err_msg=name)
        np.testing.assert_allclose(c[name], a[name], rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(losses(other), losses(straight), rtol=1e-6)


def _worker_pid(out: Path, rank: int) -> int | None:
    """The process id of worker `rank` of the run writing `out`."""
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(out).encode() in command and f"PMI_RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.parametrize("backend", ["chainer", "tf"])
def test_a_worker_that_dies_stops_the_run_with_one_line_and_resumes_from_its_checkpoint(
        moving_mnist_dir, tmp_path, backend):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "twinport.cli", "train", "--backend", backend, *TINY,
               "--data", str(moving_mnist_dir), "--out", str(out), "--steps", "30",
               "--checkpoint-every", "2", "--workers", "2", "--timeout", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while RunDir(out).latest_checkpoint() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        pid = _worker_pid(out, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 2
    said = [line for line in (stdout + stderr).splitlines() if line.strip()]
    # Worker 0's own line (MPICH's word that a process died, or no answer within --timeout),
    # when mpiexec forwards it before it ends (not always: twinport/workers.py), and the
    # launcher's, always; nothing else.
    assert all(line.startswith("twinport: error: worker 0 of 2: ")
               and line.endswith("this one stops too (the last checkpoint stays whole)")
               for line in said[:-1]) and len(said) <= 2, "\n".join(said)
    assert said[-1].startswith("twinport: error: the run's 2 workers stopped early"), said
    assert "--resume continues" in said[-1]
    assert not list((out / "checkpoints").glob(".*"))  # no partial checkpoint
    kept = RunDir(out).latest_checkpoint()
    assert kept.step % 2 == 0 and set(read_npz(kept.weights_path, "weights"))
    # The run resumes from it: the steps after the kill again, from its state, to the end.
    train(moving_mnist_dir, out, "--steps", "30", "--workers", "2", "--resume", backend=backend)
    assert [int(row["step"]) for row in RunDir(out).read_losses()] == list(range(30))


@pytest.mark.parametrize(("more", "message"), [
    (("--workers", "3"), "batch size 4 does not split evenly over 3 workers"),
    (("--workers", "0"), "--workers 0: must be at least 1"),
    (("--workers", "2", "--timeout", "0"), "--timeout 0: must be positive"),
])
def test_bad_worker_settings_are_one_line_and_write_nothing(moving_mnist_dir, tmp_path, more,
                                                            message):
    result = train(moving_mnist_dir, tmp_path / "run", "--steps", "1", *more, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"twinport: error: {message}"]
    assert not (tmp_path / "run").exists()


def test_the_twins_n_worker_runs_agree_under_parity_runs(moving_mnist_dir, tmp_path):
    """The distributed port against the distributed reference, from one set of weights:
    `twinport parity runs` PASSes; a port run whose losses are off by 1% at one step FAILs,
    naming the loss."""
    weights = tmp_path / "w.npz"
    twinport("weights", "init", "--model", "convlstm", "--backend", "tf", "--preset", "tiny",
             "-o", weights)
    for backend in ("tf", "chainer"):
        train(moving_mnist_dir, tmp_path / backend, "--steps", "3", "--workers", "2",
              "--init", weights, backend=backend)
    result = twinport("parity", "runs", tmp_path / "tf", tmp_path / "chainer")
    assert result.stdout.splitlines()[-1].startswith("PASS"), result.stdout
    assert "tf x 2 worker(s) against chainer x 2" in result.stdout
    log = tmp_path / "chainer" / "loss.csv"
    rows = log.read_text().splitlines()
    step, loss, *rest = rows[2].split(",")
    rows[2] = ",".join([step, str(float(loss) * 1.01), *rest])
    log.write_text("\n".join(rows) + "\n")
    result = twinport("parity", "runs", tmp_path / "tf", tmp_path / "chainer", check=False)
    assert result.returncode == 1 and "FAIL loss loss, steps 0..2" in result.stdout, result.stdout
    bad = twinport("parity", "runs", tmp_path / "tf", tmp_path / "missing", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr


@pytest.mark.parametrize("backend", ["chainer", "tf"])
def test_e3d_lstm_adds_the_workers_gradients_as_its_code_or_averages_them(moving_mnist_dir,
                                                                          tmp_path, backend):
    """`worker_gradients`: the seed code's sum of per-GPU gradients of its summed loss is the
    one-process run on the global batch (the default); the "mean" alternative changes the
    update; on each twin."""
    def e3d(out: Path, model: str, preset: str, *more: str) -> None:
        twinport("train", "--backend", backend, "--model", model, "--preset", preset,
                 "--batch-size", "4", "--quiet", "--data", moving_mnist_dir, "--out", out,
                 "--steps", "2", *more)

    e3d(tmp_path / "one", "e3d_lstm", "tiny")
    e3d(tmp_path / "sum", "e3d_lstm", "tiny", "--workers", "2")
    e3d(tmp_path / "mean", "tests.e3d_mean_gradients:PAIR", "tiny_mean", "--workers", "2")
    np.testing.assert_allclose(losses(tmp_path / "sum"), losses(tmp_path / "one"), rtol=1e-5)
    one, summed, mean = (final_state(tmp_path / name) for name in ("one", "sum", "mean"))
    for name in one:
        np.testing.assert_allclose(summed[name], one[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert any(not np.array_equal(mean[name], summed[name]) for name in one)


def test_workers_started_by_a_cluster_launch_launch_nothing(moving_mnist_dir, tmp_path):
    """The documented cluster launches, here on loopback: the Chainer twin under the user's own
    `mpiexec -n 2`, the TF twin as two processes each with its own TF_CONFIG (no mpiexec);
    each equals the run `--workers 2` starts itself."""
    from common.launch_env import PORTS_VARIABLE
    from twinport.workers import free_ports, mpiexec

    argv = [sys.executable, "-m", "twinport.cli", "train", *TINY, "--data",
            str(moving_mnist_dir), "--steps", "2", "--workers", "2"]
    chainer = subprocess.run([mpiexec(), "-n", "2", *argv, "--backend", "chainer", "--out",
                              str(tmp_path / "chainer")], capture_output=True, text=True,
                             timeout=300)
    assert chainer.returncode == 0, chainer.stdout + chainer.stderr
    train(moving_mnist_dir, tmp_path / "chainer-own", "--steps", "2", "--workers", "2")
    ports = free_ports(2)
    env = {name: value for name, value in os.environ.items() if name != PORTS_VARIABLE}
    workers = [subprocess.Popen(
        [*argv, "--backend", "tf", "--out", str(tmp_path / "tf")], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**env, "TF_CONFIG": json.dumps(
            {"cluster": {"worker": [f"localhost:{port}" for port in ports]},
             "task": {"type": "worker", "index": index}})}) for index in range(2)]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, out + err
    train(moving_mnist_dir, tmp_path / "tf-own", "--steps", "2", "--workers", "2",
          backend="tf")
    for ours, own in (("chainer", "chainer-own"), ("tf", "tf-own")):
        np.testing.assert_array_equal(losses(tmp_path / ours), losses(tmp_path / own))


def test_mpichs_report_of_a_dead_process_is_cut_even_inside_a_workers_line():
    from twinport.workers import _without_banner

    line = "twinport: error: worker 0 of 2: ... stays whole)"
    assert _without_banner(line + "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed "
                           "(signal 9)\n") == line + "\n"
    assert _without_banner("=" * 40 + "\n") == ""
    assert _without_banner("YOUR APPLICATION TERMINATED WITH THE EXIT STRING: x\n") == ""
    assert _without_banner(line + "\n") == line + "\n"
