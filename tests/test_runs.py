"""Training, resume, eval, predict and sample through the CLI, on both backends (tiny)."""

import csv
import json

import numpy as np
import pytest

from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights

BACKENDS = ["tf", "chainer"]


def losses(run_dir):
    with open(run_dir / "loss.csv", newline="") as handle:
        return [{k: row[k] for k in ("step", "loss", "l2", "kl", "lr")}
                for row in csv.DictReader(handle)]


def final_weights(run_dir):
    latest = (run_dir / "checkpoints" / "latest").read_text().strip()
    return load_weights(run_dir / "checkpoints" / latest / "weights.npz",
                        build_spec(get_preset("tiny")))


def train(cli, backend, data, out, steps, *extra):
    return cli("train", "--backend", backend, "--data", data, "--preset", "tiny", "--steps",
               str(steps), "--batch-size", "4", "--checkpoint-every", "3", "--out", out,
               "--quiet", *extra)


@pytest.mark.parametrize("backend", BACKENDS)
def test_resume_equals_an_uninterrupted_run(cli, moving_objects_dir, tmp_path, backend):
    status, _, err = train(cli, backend, moving_objects_dir, tmp_path / "full", 8)
    assert status == 0, err
    status, _, err = train(cli, backend, moving_objects_dir, tmp_path / "split", 5)
    assert status == 0, err
    # The loss log may run ahead of the checkpoint (a kill between them): resume drops it.
    with open(tmp_path / "split" / "loss.csv", "a") as handle:
        handle.write("5,9,9,9,0.8,0.1\n")
    status, _, err = train(cli, backend, moving_objects_dir, tmp_path / "split", 8, "--resume")
    assert status == 0, err
    assert losses(tmp_path / "split") == losses(tmp_path / "full")
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "split")
    assert all(np.array_equal(a[name], b[name]) for name in a)
    checkpoints = sorted(p.name for p in (tmp_path / "full" / "checkpoints").glob("step-*"))
    assert checkpoints == ["step-00000006", "step-00000008"]


def test_train_refuses_an_existing_run_without_resume(cli, moving_objects_dir, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    status, _, err = train(cli, "tf", moving_objects_dir, tmp_path / "run", 2)
    assert status == 2
    assert "exists and is not empty" in err and err.count("\n") == 1
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "0"], "--batch-size 0"),
    (["--batch-size", "100000"], "--batch-size 100000"),
    (["--steps", "-1"], "--steps -1"),
    (["--preset", "huge"], "unknown preset 'huge'"),
])
def test_train_bad_options(cli, moving_objects_dir, tmp_path, args, fragment):
    status, _, err = cli("train", "--backend", "tf", "--data", moving_objects_dir, "--out",
                         tmp_path / "run", "--quiet", "--preset", "tiny", *args)
    assert status == 2
    assert fragment in err and err.count("\n") == 1
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.fixture(scope="module")
def trained_tf(tmp_path_factory, moving_objects_dir):
    from twinport.cli import main

    out = tmp_path_factory.mktemp("runs") / "tf"
    assert main(["train", "--backend", "tf", "--data", str(moving_objects_dir), "--preset",
                 "tiny", "--steps", "4", "--batch-size", "4", "--out", str(out),
                 "--quiet"]) == 0
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_eval_writes_the_mean_loss(cli, trained_tf, moving_objects_dir, backend):
    status, out, err = cli("eval", "--run", trained_tf, "--data", moving_objects_dir,
                           "--backend", backend, "--batches", "3")
    assert status == 0, err
    summary = json.loads((trained_tf / "eval.json").read_text())
    assert summary["batches"] == 3 and summary["step"] == 4
    assert summary["backend"] == backend
    assert np.isclose(summary["loss"], summary["l2"] + summary["kl"])


def test_sample_draws_a_grid(cli, trained_tf, moving_objects_dir, tmp_path):
    from data import Dataset

    frame = Dataset(moving_objects_dir, "test").get([0])[0, 0]
    np.save(tmp_path / "frame.npy", frame)
    status, _, err = cli("sample", "--run", trained_tf, "--frame", tmp_path / "frame.npy",
                         "--n", "3", "-o", tmp_path / "grid.png")
    assert status == 0, err
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_contract_is_the_same_on_both_backends(cli, trained_tf, moving_objects_dir,
                                                       tmp_path):
    from data import Dataset

    frames = Dataset(moving_objects_dir, "test").get(np.arange(3))
    np.save(tmp_path / "x.npy", frames)
    epsilon = np.random.default_rng(0).standard_normal((3, 144)).astype(np.float32)
    np.save(tmp_path / "e.npy", epsilon)
    status, _, err = cli("weights", "export", "--backend", "tf", trained_tf, "-o",
                         tmp_path / "w.npz")
    assert status == 0, err
    outputs = {}
    for backend in BACKENDS:
        status, _, err = cli("predict", "--backend", backend, "--preset", "tiny", "--weights",
                             tmp_path / "w.npz", "--input", tmp_path / "x.npy", "--epsilon",
                             tmp_path / "e.npy", "-o", tmp_path / f"{backend}.npy")
        assert status == 0, err
        outputs[backend] = np.load(tmp_path / f"{backend}.npy")
        assert outputs[backend].shape == (3, 32, 32, 3)
        assert outputs[backend].dtype == np.float32
    np.testing.assert_allclose(outputs["chainer"], outputs["tf"], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("content, fragment", [
    (np.zeros((3, 2, 64, 64), np.float32),
     "frames must be [batch, seq_len >= 2, height >= 16, width >= 16, 3]"),
    (np.zeros((3, 2, 64, 64, 3), np.float64), "expected float32 frames"),
    (np.full((3, 2, 64, 64, 3), 2.0, np.float32), "in [0, 1]"),
])
def test_predict_rejects_bad_input(cli, trained_tf, tmp_path, content, fragment):
    np.save(tmp_path / "x.npy", content)
    status, _, err = cli("predict", "--backend", "tf", "--preset", "tiny", "--weights",
                         tmp_path / "missing.npz", "--input", tmp_path / "x.npy", "-o",
                         tmp_path / "y.npy")
    assert status == 2 and fragment in err
    assert not (tmp_path / "y.npy").exists()


def test_report_plots_training_runs_side_by_side(cli, trained_tf, tmp_path):
    status, out, err = cli("report", trained_tf, trained_tf, "-o", tmp_path / "report")
    assert status == 0, err
    assert (tmp_path / "report" / "training.png").read_bytes()[:4] == b"\x89PNG"
    status, _, err = cli("report", tmp_path / "nowhere", "-o", tmp_path / "report2")
    assert status == 2 and "nowhere: not a run folder" in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_few_hundred_tiny_steps_lower_the_loss(cli, moving_objects_dir, tmp_path, backend):
    status, _, err = train(cli, backend, moving_objects_dir, tmp_path / "run", 200)
    assert status == 0, err
    loss = [float(row["loss"]) for row in losses(tmp_path / "run")]
    assert len(loss) == 200
    assert np.mean(loss[-20:]) < 0.2 * np.mean(loss[:5])


def test_a_run_from_before_the_pair_record_still_evaluates(cli, trained_tf, moving_objects_dir,
                                                           tmp_path):
    """Checkpoints once kept the empirical z as z_stats.npz (z_sum, z_log_sum, z_count) and
    configs had no model: such a run reads as cross_conv with the same means."""
    import shutil

    from twinport.runs import RunDir

    old = tmp_path / "old"
    shutil.copytree(trained_tf, old)
    config = json.loads((old / "config.json").read_text())
    del config["model"]
    (old / "config.json").write_text(json.dumps(config))
    latest = old / "checkpoints" / (old / "checkpoints" / "latest").read_text().strip()
    means = RunDir(trained_tf).latest_checkpoint().means()
    count = 7
    np.savez(latest / "z_stats.npz", z_sum=means["z_mean"] * count,
             z_log_sum=means["z_stddev_log"] * count, z_count=np.int64(count))
    (latest / "outputs.npz").unlink()
    loaded = RunDir(old).latest_checkpoint().means()
    for name in ("z_mean", "z_stddev_log"):
        np.testing.assert_allclose(loaded[name], means[name], rtol=1e-12)
    status, out, err = cli("eval", "--run", old, "--data", moving_objects_dir, "--batches", "2")
    assert status == 0, err
