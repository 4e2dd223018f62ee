"""The `device` option ("cpu", "0", "gpu:0") as a TensorFlow device name, and TF's numerics."""

from __future__ import annotations

import tensorflow as tf

from common import numerics
from common.errors import UserError
from common.tf_startup import import_tensorflow


def configure_tf(gpu: bool) -> None:
    """Op determinism on a GPU unless TWINPORT_DETERMINISTIC=0 (common.numerics); memory
    growth and the TF32 switch are set by `common.tf_startup.import_tensorflow`."""
    if gpu and numerics.deterministic():
        tf.config.experimental.enable_op_determinism()


def tf_device(device: str) -> str:
    """"cpu" -> "/CPU:0"; "N", "gpu:N" or "cuda:N" -> "/GPU:N", checked to be visible."""
    text = str(device).strip().lower()
    index = text.removeprefix("gpu:").removeprefix("cuda:")
    if text != "cpu" and not index.isdigit():
        raise UserError(f"device {device!r}: use 'cpu' or a GPU id such as '0' or 'gpu:0'")
    configure_tf(gpu=text != "cpu")
    if text == "cpu":
        return "/CPU:0"
    gpus = tf.config.list_physical_devices("GPU")
    if int(index) >= len(gpus):
        raise UserError(f"device {device!r}: TensorFlow sees {len(gpus)} GPU(s)")
    return f"/GPU:{int(index)}"


def describe() -> dict[str, str]:
    """TF's rows of the environment table (parity.environment)."""
    import_tensorflow()  # the TF32 switch as twinport sets it
    gpus = tf.config.list_physical_devices("GPU")
    return {"tf GPUs": ", ".join(g.name for g in gpus) or "none",
            "tf TF32 execution": "on" if tf.config.experimental
            .tensor_float_32_execution_enabled() else "off",
            "tf built with CUDA": str(tf.test.is_built_with_cuda())}
