"""TensorBoard event files written without TF (`common.tensorboard`), read back by TF's own
reader: a training run of each backend writes its losses, learning rate and step time."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from common.tensorboard import EventWriter, crc32c, record
from twinport.runs import RunDir


def read_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of every event file in `folder`, by tag, through TF's reader (which checks
    each record's CRCs)."""
    import tensorflow as tf

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_crc32c_is_castagnolis_and_records_are_framed_as_tfrecord():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    assert crc32c(b"123456789") != zlib.crc32(b"123456789")
    framed = record(b"abc")
    assert len(framed) == 8 + 4 + 3 + 4 and int.from_bytes(framed[:8], "little") == 3


def test_the_writer_s_scalars_read_back_through_tensorflow(tmp_path):
    with EventWriter(tmp_path) as events:
        events.scalars(0, {"loss/total": 1.5, "learning_rate": 1e-3})
        events.scalars(7, {"loss/total": -2.25})
    found = read_scalars(tmp_path)
    assert found["loss/total"] == [(0, 1.5), (7, -2.25)]
    assert found["learning_rate"][0][0] == 0
    assert found["learning_rate"][0][1] == pytest.approx(1e-3)


@pytest.mark.parametrize("backend", ["chainer", "tf"])
def test_a_training_run_writes_its_losses_for_tensorboard(cli, moving_mnist_dir, tmp_path,
                                                          backend):
    out = tmp_path / backend
    status, _, err = cli("train", "--model", "convlstm", "--backend", backend, "--preset",
                         "tiny", "--data", moving_mnist_dir, "--steps", "3", "--batch-size", "2",
                         "--checkpoint-every", "2", "--out", out, "--quiet")
    assert status == 0, err
    found = read_scalars(out / "tensorboard")
    logged = [(int(row["step"]), float(row["loss"])) for row in RunDir(out).read_losses()]
    assert [step for step, _ in found["loss/loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in found["loss/loss"]], [v for _, v in logged],
                               rtol=1e-6)
    assert [step for step, _ in found["weights/global_norm"]] == [1, 2]
    assert [step for step, _ in found["gradients/global_norm"]] == [0, 1, 2]
    assert all(value > 0 for _, value in found["step_seconds"] + found["weights/global_norm"]
               + found["gradients/global_norm"])
