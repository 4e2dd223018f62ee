"""The `device` option ("cpu", "0", "gpu:0") as a TensorFlow device name."""

from __future__ import annotations

import tensorflow as tf

from twinport.errors import UserError


def tf_device(device: str) -> str:
    """"cpu" -> "/CPU:0"; "N", "gpu:N" or "cuda:N" -> "/GPU:N", checked to be visible."""
    text = str(device).strip().lower()
    if text == "cpu":
        return "/CPU:0"
    index = text.removeprefix("gpu:").removeprefix("cuda:")
    if not index.isdigit():
        raise UserError(f"device {device!r}: use 'cpu' or a GPU id such as '0' or 'gpu:0'")
    gpus = tf.config.list_physical_devices("GPU")
    if int(index) >= len(gpus):
        raise UserError(f"device {device!r}: TensorFlow sees {len(gpus)} GPU(s)")
    return f"/GPU:{int(index)}"
