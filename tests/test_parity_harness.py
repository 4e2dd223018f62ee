"""`twinport parity` end to end on the tiny preset: both twins, a faulty port, captures."""

import json

import pytest

from tests.one_layer_port import WRONG_LAYER

TINY = ("--preset", "tiny", "--batch-size", "2", "--quiet")


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def passing_report(tmp_path_factory, moving_objects_dir):
    from twinport.cli import main

    out = tmp_path_factory.mktemp("reports") / "tiny"
    status = main(["parity", *TINY, "--data", str(moving_objects_dir), "--steps", "3",
                   "--out", str(out)])
    return status, out


def test_the_twins_pass_every_section(passing_report):
    status, out = passing_report
    assert status == 0
    data = summary(out)
    assert data["verdict"]["passed"] is True
    assert set(data["sections"]) == {
        "forward/end-to-end/inference", "forward/end-to-end/training",
        "forward/isolated/inference", "forward/isolated/training", "backward/isolated",
        "moving_statistics",
        "gradients", "input_gradient", "training_losses", "after_training", "initialisation"}
    assert len(data["sections"]["forward/end-to-end/inference"]) == 66
    assert [item["name"] for item in data["sections"]["training_losses"]] == [
        "step 0", "step 1", "step 2", "learning: weights moved", "learning: gradients",
        "learning: loss moved"]
    for name in ("report.html", "report.md", "layers.csv", "grads.csv", "steps.csv",
                 "taps_end-to-end.png", "taps_isolated.png", "loss_curves.png", "sample.png"):
        assert (out / name).stat().st_size > 0, name
    assert data["versions"]["chainer"] == "7.8.1"


def test_a_port_wrong_in_one_layer_fails_naming_it(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("parity", *TINY, "--data", moving_objects_dir, "--steps", "0",
                           "--port", "tests.one_layer_port:symmetric_pool_port",
                           "--out", tmp_path / "report")
    assert status == 1, err
    assert f"first divergent tap {WRONG_LAYER}" in out
    data = summary(tmp_path / "report")
    sections = data["verdict"]["sections"]
    for key in ("forward/end-to-end/inference", "forward/isolated/inference",
                "forward/isolated/training"):
        assert sections[key]["first_failure"] == WRONG_LAYER, key
    # Isolated, the faulty layer is the only one that fails: errors do not accumulate.
    failing = [d["name"] for d in data["sections"]["forward/isolated/inference"]
               if d["status"] != "pass"]
    assert failing == [WRONG_LAYER]


@pytest.mark.parametrize("port, fragment", [
    ("no_such_module:factory", "cannot import no_such_module"),
    ("tests.one_layer_port:missing", "has no callable missing"),
    ("tests.one_layer_port:not_a_port", "lacks the port interface"),
    ("just-a-name", "expected MODULE:FACTORY"),
])
def test_bad_port_is_a_one_line_error(cli, moving_objects_dir, tmp_path, port, fragment):
    status, _, err = cli("parity", *TINY, "--data", moving_objects_dir, "--port", port,
                         "--out", tmp_path / "report")
    assert status == 2
    assert fragment in err and err.count("\n") == 1
    assert not (tmp_path / "report").exists()


def test_capture_and_compare_across_processes(cli, moving_objects_dir, tmp_path):
    common = ("--preset", "tiny", "--batch-size", "2", "--data", moving_objects_dir,
              "--steps", "1")
    assert cli("weights", "init", "--preset", "tiny", "-o", tmp_path / "w.npz")[0] == 0
    for backend in ("tf", "chainer"):
        status, _, err = cli("parity", "capture", "--backend", backend, *common,
                             "--weights", tmp_path / "w.npz", "-o", tmp_path / f"{backend}.npz")
        assert status == 0, err
    status, out, err = cli("parity", "compare", tmp_path / "tf.npz", tmp_path / "chainer.npz",
                           "--out", tmp_path / "report")
    assert status == 0, out + err
    data = summary(tmp_path / "report")
    assert "gradients" in data["sections"] and "training_losses" in data["sections"]

    status, _, err = cli("parity", "capture", "--backend", "chainer", "--preset", "tiny",
                         "--batch-size", "2", "--data", moving_objects_dir, "--steps", "1",
                         "--seed", "5", "--weights", tmp_path / "w.npz",
                         "-o", tmp_path / "other.npz")
    assert status == 0, err
    status, _, err = cli("parity", "compare", tmp_path / "tf.npz", tmp_path / "other.npz",
                         "--out", tmp_path / "report2")
    assert status == 2 and "differ in seed" in err
    assert not (tmp_path / "report2").exists()


@pytest.mark.parametrize("switch", [("TWINPORT_FAST_CPU", "0"), ("TWINPORT_BLAS", "numpy"),
                                    ("TWINPORT_CONV", "im2col")],
                         ids=["stock Chainer functions", "fast path without MKL",
                              "fast path without oneDNN"])
def test_the_twins_pass_without_the_fast_path_or_intel_libraries(monkeypatch, moving_objects_dir,
                                                                  tmp_path, switch):
    from twinport.cli import main

    monkeypatch.setenv(*switch)
    status = main(["parity", *TINY, "--data", str(moving_objects_dir), "--steps", "3",
                   "--out", str(tmp_path / "report")])
    assert status == 0
    assert summary(tmp_path / "report")["verdict"]["passed"] is True
