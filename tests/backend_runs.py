"""One pair trained, evaluated and asked to predict on both backends from the same initial
weights through the CLI (tiny preset, 3 steps of batch 2); the tests compare the two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def train_eval_predict(cli: Any, model: str, data: Path, inputs: Path, tmp_path: Path
                       ) -> dict[str, dict[str, Any]]:
    """Per backend: `losses` (the 3 training steps'), `eval` (the run's mean loss over 2 test
    batches) and `prediction` (`twinport predict` of the `inputs` file)."""
    from twinport.runs import RunDir

    status, out, err = cli("weights", "init", "--model", model, "--preset", "tiny", "-o",
                           tmp_path / "w.npz")
    assert status == 0, out + err
    found: dict[str, dict[str, Any]] = {}
    for backend in ("tf", "chainer"):
        run = tmp_path / backend
        status, out, err = cli("train", "--model", model, "--backend", backend, "--preset",
                               "tiny", "--data", data, "--steps", "3", "--batch-size", "2",
                               "--init", tmp_path / "w.npz", "--out", run, "--quiet")
        assert status == 0, out + err
        status, out, err = cli("eval", "--run", run, "--batch-size", "2", "--batches", "2")
        assert status == 0, out + err
        status, out, err = cli("weights", "export", "--backend", backend, run, "-o",
                               tmp_path / f"{backend}.npz")
        assert status == 0, out + err
        status, out, err = cli("predict", "--model", model, "--backend", backend, "--preset",
                               "tiny", "--weights", tmp_path / f"{backend}.npz", "--input",
                               inputs, "-o", tmp_path / f"{backend}.npy")
        assert status == 0, out + err
        found[backend] = {
            "losses": [float(row["loss"]) for row in RunDir(run).read_losses()],
            "eval": json.loads((run / "eval.json").read_text())["loss"],
            "prediction": np.load(tmp_path / f"{backend}.npy")}
    return found


def assert_backends_agree(found: dict[str, dict[str, Any]], shape: tuple[int, ...]) -> None:
    tf, chainer = found["tf"], found["chainer"]
    np.testing.assert_allclose(chainer["losses"], tf["losses"], rtol=1e-3)
    np.testing.assert_allclose(chainer["eval"], tf["eval"], rtol=1e-3)
    assert tf["prediction"].shape == shape
    np.testing.assert_allclose(chainer["prediction"], tf["prediction"], rtol=1e-3, atol=1e-4)


def passing_parity(model: str, preset: str, data: Path) -> Any:
    """`twinport parity` of the pair's own port (batch 2, 2 synced steps), asserted to pass;
    the run, for what a test then checks of its taps and sections."""
    from parity.harness import check_port, prepare_reference
    from parity.port import load_port, port_spec
    from parity.settings import ParitySettings

    settings = ParitySettings(model=model, preset=preset, data=str(data), batch_size=2, steps=2)
    reference = prepare_reference(settings, progress=False)
    port, layout = load_port(port_spec(None, reference.pair), reference.preset, 0, "cpu")
    run = check_port(reference, port, layout, progress=False)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    return run
