"""parity.results and parity.report on a fake ParityRun (hand-made arrays, one injected bug)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from common.errors import UserError
from parity import ParityRun, compare_arrays, compare_steps
from parity.report import plot_training_runs, write_report
from spec.cross_conv import build_spec, get_preset
from spec.section_keys import (
    AFTER_TRAINING,
    FORWARD_E2E_INFERENCE,
    FORWARD_E2E_TRAINING,
    FORWARD_ISO_INFERENCE,
    FORWARD_ISO_TRAINING,
    GRADIENTS,
    INPUT_GRADIENT,
    TRAINING_LOSSES,
)

ATOL, RTOL = 1e-5, 1e-5
BAD_TAP = "image_encoder_1/Conv_2"


def make_fake_run(steps: int = 12, bad: bool = True, n_layers: int | None = None) -> ParityRun:
    """A run over the tiny preset's tap and variable names with small NCHW arrays.

    With `bad`, BAD_TAP's bottom row is off (a SAME padding bug): it fails in isolation, and
    end to end the error spreads to every later tap; its gradients, the loss curves from step 6
    and the parameters after training diverge too.
    """
    layers = build_spec(get_preset("tiny"))[:n_layers]
    names = [layer.name for layer in layers]
    bad_at = names.index(BAD_TAP) if bad else len(names)
    rng = np.random.default_rng(0)
    sections: dict[str, list] = {}
    worst = None
    for key, end_to_end in ((FORWARD_E2E_INFERENCE, True), (FORWARD_E2E_TRAINING, True),
                            (FORWARD_ISO_INFERENCE, False), (FORWARD_ISO_TRAINING, False)):
        diffs = []
        for i, layer in enumerate(layers):
            shape = (2,) if not layer.shape else (2, 4, 6, 6) if len(layer.shape) == 3 else (2, 9)
            ref = rng.normal(size=shape).astype(np.float32)
            port = ref + rng.normal(size=shape).astype(np.float32) * 1e-7
            if i == bad_at:
                port = port.copy()
                port[..., -1, :] += 0.05
                if worst is None:
                    worst = {"name": layer.name, "section": key, "reference": ref,
                             "port": port, "layout": "nchw"}
            elif end_to_end and i > bad_at:
                port = port + rng.normal(size=shape).astype(np.float32) * 1e-3 * (i - bad_at)
            diffs.append(compare_arrays(layer.name, ref, port, ATOL, RTOL))
        sections[key] = diffs

    variables = [(var.name, var.shape) for layer in layers for var in layer.variables]
    for key, scale in ((GRADIENTS, 1e-8), (AFTER_TRAINING, 1e-8)):
        diffs = []
        for name, shape in variables:
            small = tuple(min(s, 3) for s in shape)
            ref = rng.normal(size=small)
            port = ref + rng.normal(size=small) * scale
            if bad and name.startswith(BAD_TAP + "/") and not name.endswith("moving_mean"):
                port = port + 1e-2
            if name.endswith(("moving_mean", "moving_variance")) and key == GRADIENTS:
                ref, port = np.zeros(small), np.zeros(small)
            diffs.append(compare_arrays(name, ref, port, ATOL, RTOL, layout="hwio"
                                        if len(small) == 4 else None))
        sections[key] = diffs
    frames_grad = rng.normal(size=(2, 2, 16, 16, 3))
    sections[INPUT_GRADIENT] = [compare_arrays(
        "frames", frames_grad, frames_grad * (1.001 if bad else 1.0), ATOL, RTOL, layout="nhwc")]

    step_rows = []
    for step in range(1, steps + 1):
        loss = 0.9 * 0.85 ** step + 0.05
        drift = (0.004 * (step - 5)) if bad and step >= 6 else 0.0
        l2, kl = loss * 0.8, loss * 0.2
        step_rows.append(dict(
            step=step, tf_loss=loss, tf_l2=l2, tf_kl=kl, port_loss=loss + drift,
            port_l2=l2 + drift, port_kl=kl, lr=max(0.01, 0.8 * 0.5 ** (step / 10000)),
        ))
    sections[TRAINING_LOSSES] = compare_steps(step_rows, 1e-6, 1e-6)

    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    frame = np.stack([yy, xx, 0.5 * np.ones_like(xx)], axis=-1)
    next_frame = np.roll(frame, 2, axis=1)
    tf_pred = np.clip(next_frame + 0.02, 0, 1)
    port_pred = tf_pred.copy()
    if bad:
        port_pred[-2:] = np.clip(port_pred[-2:] + 0.2, 0, 1)
    return ParityRun(
        settings=dict(preset="tiny", batch_size=2, seed=0, steps=steps, atol=ATOL, rtol=RTOL,
                      stat="elemwise", port="chainer_port.cross_conv:CrossConvModel", device="cpu",
                      data="data/generated/moving-objects"),
        versions=dict(python="3.11.7", numpy=np.__version__, tensorflow="2.x (fake)",
                      chainer="7.8.1 (fake)"),
        sections=sections,
        steps=step_rows,
        worst=worst,
        sample=dict(frame=frame, next_frame=next_frame, tf_prediction=tf_pred,
                    port_prediction=port_pred),
        created="2024-01-01T00:00:00Z",
    )


@pytest.fixture(scope="module")
def fake_run() -> ParityRun:
    return make_fake_run()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, fake_run) -> Path:
    out = tmp_path_factory.mktemp("reports") / "parity"
    write_report(fake_run, out)
    return out


EXPECTED_FILES = {
    "summary.json", "arrays.npz", "layers.csv", "grads.csv", "steps.csv", "after_training.csv",
    "other_sections.csv", "report.md", "report.html", "taps_end-to-end.png", "taps_isolated.png",
    "gradients.png", "after_training.png", "loss_curves.png", "worst_histogram.png",
    "worst_heatmap.png", "sample.png",
}


def test_fake_run_verdict(fake_run):
    v = fake_run.ensure_verdict()
    assert not v.passed and v.exit_status() == 1
    assert v.first_section == FORWARD_E2E_INFERENCE and v.first_divergent == BAD_TAP
    assert v.sections[FORWARD_ISO_INFERENCE].n_failed == 1
    assert v.sections[TRAINING_LOSSES].first_step == 6
    assert v.sections[GRADIENTS].first_failure == f"{BAD_TAP}/weights"
    assert "bottom" in v.suggestion and "padding" in v.suggestion


def test_report_has_every_file(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert names == EXPECTED_FILES
    for name in names:
        assert (report_dir / name).stat().st_size > 0
    for png in (p for p in report_dir.iterdir() if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in report_dir.parent.iterdir() if p.name.startswith(".")]


def test_summary_json_round_trips(report_dir, fake_run):
    data = json.loads((report_dir / "summary.json").read_text())
    assert data["verdict"]["status"] == "FAIL" and data["first_divergent"] == BAD_TAP
    assert data["settings"]["preset"] == "tiny" and data["versions"]["chainer"].startswith("7.8")
    back = ParityRun.load(report_dir)
    assert back.to_dict() == fake_run.to_dict()
    assert back.verdict.first_divergent == BAD_TAP
    assert [d.name for d in back.sections[FORWARD_ISO_TRAINING]] == \
        [d.name for d in fake_run.sections[FORWARD_ISO_TRAINING]]
    np.testing.assert_array_equal(back.worst["port"], fake_run.worst["port"])
    np.testing.assert_array_equal(back.sample["frame"], fake_run.sample["frame"])
    assert ParityRun.load(report_dir / "summary.json").settings == fake_run.settings
    # strict JSON: no NaN/Infinity literals
    json.loads((report_dir / "summary.json").read_text(), parse_constant=pytest.fail)


def test_layers_csv_has_one_row_per_tap_per_section(report_dir, fake_run):
    with open(report_dir / "layers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    forward = [FORWARD_E2E_INFERENCE, FORWARD_E2E_TRAINING, FORWARD_ISO_INFERENCE,
               FORWARD_ISO_TRAINING]
    assert len(rows) == sum(len(fake_run.sections[k]) for k in forward)
    for key in forward:
        names = [r["name"] for r in rows if r["section"] == key]
        assert names == [d.name for d in fake_run.sections[key]]
    bad = next(r for r in rows if r["section"] == FORWARD_ISO_INFERENCE and r["name"] == BAD_TAP)
    assert bad["status"] == "fail" and bad["passed"] == "False" and "padding" in bad["suggestion"]
    with open(report_dir / "grads.csv", newline="") as handle:
        grads = list(csv.DictReader(handle))
    assert len(grads) == len(fake_run.sections[GRADIENTS]) + 1
    with open(report_dir / "steps.csv", newline="") as handle:
        steps = list(csv.DictReader(handle))
    assert [s["status"] for s in steps][4:6] == ["pass", "fail"]


def test_report_html_is_self_contained(report_dir, fake_run):
    html = (report_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 8
    assert 'src="http' not in html and "<link" not in html and "<script" not in html
    assert "FAIL" in html and BAD_TAP in html
    assert fake_run.verdict.summary_text().split(".")[0] in html
    assert 'class="first"' in html and 'class="fail"' in html
    md = (report_dir / "report.md").read_text()
    assert "FAIL: first divergent tap image_encoder_1/Conv_2" in md
    assert "![Training loss curves](loss_curves.png)" in md


def test_passing_run_report(tmp_path):
    run = make_fake_run(steps=3, bad=False, n_layers=16)
    run.sample = None
    out = write_report(run, tmp_path / "ok")
    assert run.verdict.passed and run.verdict.exit_status() == 0
    html = (out / "report.html").read_text()
    assert "PASS" in html and 'class="banner pass"' in html
    # the gradients section has exact zeros: a log plot must clip them, not crash
    assert (out / "gradients.png").exists() and not (out / "sample.png").exists()


def test_failed_write_leaves_previous_report_intact(tmp_path, monkeypatch, fake_run):
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.txt").write_text("previous report")

    def boom(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr("parity.report.plots.plot_diffs", boom)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(fake_run, out)
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert (out / "old.txt").read_text() == "previous report"


def test_overwrite_false_refuses_a_non_empty_folder(tmp_path, fake_run):
    out = tmp_path / "report"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        write_report(fake_run, out, overwrite=False)


def test_load_rejects_other_json(tmp_path):
    (tmp_path / "summary.json").write_text('{"format": "something-else"}')
    with pytest.raises(UserError, match="not a twinport parity summary"):
        ParityRun.load(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        ParityRun.load(tmp_path / "missing")


# --- training runs ---------------------------------------------------------------------------


def write_run(folder: Path, backend: str, scale: float, steps: int = 30,
              eval_data: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    with open(folder / "loss.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "loss", "l2", "kl", "lr", "seconds"])
        for step in range(1, steps + 1):
            loss = scale * (0.9 ** step) + 0.01
            writer.writerow([step, loss, 0.8 * loss, 0.2 * loss, 0.8, 0.1 * step])
    (folder / "config.json").write_text(json.dumps({"backend": backend, "preset": "tiny"}))
    if eval_data is not None:
        (folder / "eval.json").write_text(json.dumps(eval_data))
    return folder


def test_plot_training_runs(tmp_path):
    a = write_run(tmp_path / "runs" / "tf", "tensorflow", 1.0, eval_data={"l2": 0.012, "n": 20})
    b = write_run(tmp_path / "runs" / "chainer", "chainer", 1.1)
    out = plot_training_runs([a, b], tmp_path / "out")
    assert {p.name for p in out.iterdir()} == {"training.png", "runs.csv", "index.html",
                                               "report.md"}
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 1
    assert "tf (tensorflow)" in html and "chainer (chainer)" in html and "eval l2" in html
    with open(out / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["backend"] for r in rows] == ["tensorflow", "chainer"]
    assert rows[0]["steps"] == "30" and rows[0]["seconds"] == "3"
    assert (out / "training.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("content, message", [
    (None, "missing"),
    ("step,loss,l2\n1,0.5,0.4\n", "missing column"),
    ("step,loss,l2,kl\n1,0.5,oops,0.1\n", "line 2: l2 = 'oops' is not a number"),
    ("step,loss,l2,kl\n", "no rows"),
    ("", "missing column"),
])
def test_bad_loss_csv_is_a_user_error_naming_the_file(tmp_path, content, message):
    good = write_run(tmp_path / "good", "tensorflow", 1.0)
    bad = tmp_path / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "loss.csv").write_text(content)
    with pytest.raises(UserError, match=message) as error:
        plot_training_runs([good, bad], tmp_path / "out")
    assert str(bad / "loss.csv") in str(error.value)
    assert not (tmp_path / "out").exists()


def test_training_runs_of_a_pair_with_one_loss(tmp_path):
    """A ConvLSTM run logs one loss (its pair's `losses`): one panel, one final-loss column."""
    runs = []
    for backend in ("tf", "chainer"):
        folder = tmp_path / backend
        folder.mkdir()
        (folder / "loss.csv").write_text("step,loss,lr,seconds\n0,9.5e7,0.001,2\n1,9.1e7,0.001,2\n")
        (folder / "config.json").write_text(json.dumps({"backend": backend,
                                                        "model": "convlstm"}))
        runs.append(folder)
    out = plot_training_runs(runs, tmp_path / "out")
    with open(out / "runs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["final loss"]) for r in rows] == [9.1e7, 9.1e7]
    assert "final l2" not in rows[0]
