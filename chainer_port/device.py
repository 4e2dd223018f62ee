"""The constructor's `device` string as a Chainer device."""

from __future__ import annotations

import chainer
from chainer.backends import cuda

from common import numerics
from common.errors import UserError


def gpu_count() -> int:
    """GPUs CuPy sees; 0 without CuPy (or when Chainer could not load it)."""
    if not cuda.available:
        return 0
    try:
        return int(cuda.cupy.cuda.runtime.getDeviceCount())
    except cuda.cupy.cuda.runtime.CUDARuntimeError:
        return 0


def resolve_device(device: str) -> chainer.backend.Device:
    """"cpu" -> NumPy; "N", "gpu:N" or "cuda:N" -> CuPy on GPU N (as the TF twin reads it),
    checked to exist. On a GPU: cuDNN where CuPy has it (Chainer's `use_cudnn='auto'`), and
    `cudnn_deterministic` unless TWINPORT_DETERMINISTIC=0 (common.numerics)."""
    text = str(device).strip().lower()
    index = text.removeprefix("gpu:").removeprefix("cuda:")
    if text != "cpu" and not index.isdigit():
        raise UserError(f"device {device!r}: use 'cpu' or a GPU id such as '0' or 'gpu:0'")
    if text == "cpu":
        return chainer.get_device("@numpy")
    if not cuda.available:
        raise UserError(f"device {device!r}: Chainer has no CuPy (install requirements-gpu.txt)")
    count = gpu_count()
    if int(index) >= count:
        raise UserError(f"device {device!r}: CuPy sees {count} GPU(s)")
    numerics.set_numerics()
    chainer.config.use_cudnn = "auto"
    chainer.config.cudnn_deterministic = numerics.deterministic()
    try:
        return chainer.get_device(f"@cupy:{int(index)}")
    except (RuntimeError, ValueError) as error:
        raise UserError(f"device {device!r} is not available to Chainer ({error})") from None


def describe() -> dict[str, str]:
    """Chainer's rows of the environment table (parity.environment)."""
    rows = {"chainer CuPy": "available" if cuda.available else "not available",
            "chainer cuDNN": "enabled" if cuda.cudnn_enabled else "not available",
            "chainer cudnn_deterministic": str(chainer.config.cudnn_deterministic)}
    if cuda.available:
        names = [cuda.cupy.cuda.runtime.getDeviceProperties(i)["name"].decode()
                 for i in range(gpu_count())]
        rows["cupy GPUs"] = ", ".join(names) or "none"
    return rows
