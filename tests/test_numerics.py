"""GPU numerics that need no GPU (docs/gpu.md): the environment table, device ids refused in one
line, the TF32 switch reaching TF, and captures compared across different numerics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import UserError
from parity.environment import environment, numerics_differences

ROOT = Path(__file__).resolve().parents[1]


def test_the_environment_table_names_what_each_side_computes_with():
    rows = environment(load=False)
    for key in ("python", "numpy", "tensorflow", "chainer", "cupy", "cpu", "cores",
                "numpy BLAS", "fast-path switches", "tf32", "deterministic",
                "NVIDIA_TF32_OVERRIDE", "CUPY_TF32"):
        assert key in rows and rows[key], key
    assert all(isinstance(value, str) for value in rows.values())


def test_twinport_env_prints_the_table_with_both_frameworks(cli):
    status, out, err = cli("env", "--json")
    assert status == 0 and err == ""
    rows = json.loads(out)
    assert rows["tf TF32 execution"] == "off"
    assert rows["chainer cuDNN"] in ("enabled", "not available")


@pytest.mark.parametrize("device, fragment", [
    ("gpu:x", "use 'cpu' or a GPU id"),
    ("tpu", "use 'cpu' or a GPU id"),
])
def test_a_bad_device_is_refused_in_one_line_by_both_twins(device, fragment):
    from chainer_port.device import resolve_device
    from tf_reference.device import tf_device

    for resolve in (resolve_device, tf_device):
        with pytest.raises(UserError, match=fragment):
            resolve(device)


def test_a_gpu_id_past_what_is_there_is_refused():
    from chainer_port.device import gpu_count, resolve_device
    from tf_reference.device import tf_device

    beyond = str(gpu_count() + 7)
    with pytest.raises(UserError, match="GPU|CuPy"):
        resolve_device(beyond)
    with pytest.raises(UserError, match="TensorFlow sees"):
        tf_device(beyond)


@pytest.mark.parametrize("allow, expected", [("0", "False"), ("1", "True")])
def test_the_tf32_switch_reaches_tensorflows_config(allow, expected):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NVIDIA_TF32_OVERRIDE", "CUPY_TF32")}
    code = ("from common.numerics import set_numerics; set_numerics(); "
            "from tf_reference.device import tf_device; tf_device('cpu'); "
            "import os, tensorflow as tf; "
            "print(tf.config.experimental.tensor_float_32_execution_enabled(), "
            "os.environ.get('NVIDIA_TF32_OVERRIDE'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env={**env, "TWINPORT_ALLOW_TF32": allow}, timeout=300)
    enabled, override = result.stdout.split()
    assert enabled == expected, result.stderr
    assert override == ("None" if allow == "1" else "0")


def test_compare_warns_in_one_line_when_the_numerics_differ(cli, moving_objects_dir, tmp_path):
    from parity.capture import Capture

    assert cli("weights", "init", "--backend", "chainer", "--preset", "tiny",
               "-o", tmp_path / "w.npz")[0] == 0
    status, _, err = cli("parity", "capture", "--backend", "chainer", "--preset", "tiny",
                         "--batch-size", "2", "--steps", "0", "--parts", "forward",
                         "--data", moving_objects_dir, "--weights", tmp_path / "w.npz",
                         "-o", tmp_path / "a.npz")
    assert status == 0, err
    capture = Capture.load(tmp_path / "a.npz")
    assert capture.meta["versions"]["tf32"] == "off"
    capture.meta["versions"]["tf32"] = "allowed"
    capture.save(tmp_path / "b.npz")
    status, _, err = cli("parity", "compare", tmp_path / "a.npz", tmp_path / "b.npz",
                         "--out", tmp_path / "report")
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "tf32: off vs allowed" in warnings[0]
    assert status == 0


def test_numerics_differences_reads_only_the_numerics_rows():
    a = {"tf32": "off", "cpu": "x", "chainer cuDNN": "enabled"}
    b = {"tf32": "allowed", "cpu": "y", "chainer cuDNN": "enabled"}
    assert numerics_differences(a, b) == ["tf32: off vs allowed"]
