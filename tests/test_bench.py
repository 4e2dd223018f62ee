"""`twinport bench` of any pair (`--model`): the workers time the pair's own inputs, noise,
optimizer and layers; the report names the model and groups many layers by kind."""

from __future__ import annotations

import os
import statistics

import pytest

from common.errors import UserError
from twinport.bench import report
from twinport.bench.run import BenchSettings, run_bench


def test_the_benchmark_times_any_pair(moving_mnist_dir, monkeypatch, tmp_path):
    settings = BenchSettings("tiny", batch_size=2, steps=1, layer_repeats=1,
                             data=str(moving_mnist_dir), stock=False, model="vpn", load=1)
    results = run_bench(settings)
    workers = results["workers"]
    assert {"tf", "chainer"} <= set(workers)
    for worker in workers.values():
        assert worker["forward_ms"] and worker["train_step_ms"] and worker["peak_rss_mb"] > 0
        assert list(worker["layers_ms"]) == list(results["layer_kinds"])  # every layer
    profile = workers["chainer"]["profile_s"]  # the port's train step by Chainer function
    assert any(name.endswith(" forward") for name in profile) and \
        any(name.endswith(" backward") for name in profile)
    text = report.markdown(results, "twinport bench --model vpn")
    assert "model `vpn`, preset `tiny`" in text and "| decoder_1/logits |" in text
    assert "| busy processes beside it (`--load`) | 1 |" in text
    monkeypatch.setattr(report, "GROUPED", 10)
    rows = dict(report.layer_rows(results))
    assert rows["masked_rmb (4)"]["tf"] == pytest.approx(sum(
        workers["tf"]["layers_ms"][f"decoder_{t}/{tap}"] for t in (0, 1)
        for tap in ("rmb_1", "logits")))
    assert sum(row["chainer"] for name, row in rows.items() if name != "total") == \
        pytest.approx(rows["total"]["chainer"])
    # `make bench`'s table: a row per pair, linking its report, the ratios of the medians
    index = report.write_index([("vpn", results, tmp_path / "benchmarks" / "vpn.md")],
                               tmp_path / "benchmarks.md", "twinport bench --all")
    row = next(line for line in index.read_text().splitlines()
               if line.startswith("| [vpn](benchmarks/vpn.md) | tiny | "))
    train = [statistics.median(workers[role]["train_step_ms"]) for role in ("chainer", "tf")]
    assert row.split(" | ")[7] == f"{train[0] / train[1]:.2f}"
    assert "(`make bench-shared`)" in index.read_text() and \
        "beside 1 busy process spinning a core each" in index.read_text()


def test_a_pair_without_its_dataset_names_the_command_that_makes_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="make one with `twinport data moving-mnist --out "
                       "data/generated/moving-mnist`"):
        run_bench(BenchSettings("tiny", model="vpn"))


def test_the_busy_processes_spin_only_while_the_block_runs():
    from twinport.bench.run import busy_processes

    with busy_processes(2) as spinning:
        assert len(spinning) == 2 and all(p.poll() is None for p in spinning)
    assert all(p.poll() is not None for p in spinning)


def test_a_negative_load_is_one_line(cli):
    status, _, err = cli("bench", "--model", "vpn", "--preset", "tiny", "--load", "-1")
    assert status == 2 and "--load -1: must not be negative" in err


def test_all_pairs_take_their_own_presets(cli):
    from spec.registry import get_pair

    assert get_pair("vpn").benchmarked_preset == "micro"  # declared: `full` takes minutes
    assert get_pair("convlstm").benchmarked_preset == "seed"  # the first preset
    for extra in (("--preset", "tiny"), ("--model", "vpn")):
        status, _, err = cli("bench", "--all", *extra)
        assert status == 2 and "leave out --model, --preset and --data" in err


def test_a_worker_killed_midway_is_one_line(moving_mnist_dir, tmp_path):
    """The OOM killer stops a worker: the next request says so, naming memory, and closing
    the benchmark's workers does not raise."""
    from spec.registry import get_pair
    from twinport.bench.process import WorkerProcess
    from twinport.bench.run import write_inputs
    from twinport.bench.worker import INPUTS_FILE

    pair = get_pair("vpn")
    settings = BenchSettings("tiny", batch_size=1, data=str(moving_mnist_dir), model="vpn")
    write_inputs(tmp_path / INPUTS_FILE, pair, pair.get_preset("tiny"), settings.data, settings)
    worker = WorkerProcess("tf", "tf", "vpn", "tiny", str(tmp_path), dict(os.environ))
    worker.process.kill()
    worker.process.wait()
    with pytest.raises(UserError, match="bench worker tf was killed .*out of memory"):
        worker.call("forward")
    worker.close()


def test_the_busy_processes_stop_when_the_benchmark_is_killed():
    """A benchmark killed by a signal runs no `finally`: its spinning processes end by
    themselves."""
    import signal
    import subprocess
    import sys
    import time

    bench = subprocess.Popen(
        [sys.executable, "-c", "from twinport.bench.run import busy_processes\n"
         "with busy_processes(1) as spinning:\n"
         "    print(spinning[0].pid, flush=True)\n"
         "    import time; time.sleep(60)\n"], stdout=subprocess.PIPE, text=True)
    child = int(bench.stdout.readline())
    bench.send_signal(signal.SIGKILL)
    bench.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{child}") and \
            open(f"/proc/{child}/stat").read().split()[2] != "Z":
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{child}") or \
        open(f"/proc/{child}/stat").read().split()[2] == "Z"
