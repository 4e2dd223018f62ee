"""The constructor's `device` string as a Chainer device."""

from __future__ import annotations

import chainer

from twinport.errors import UserError


def resolve_device(device: str) -> chainer.backend.Device:
    """"cpu" -> NumPy; "N", "gpu:N" or "cuda:N" -> CuPy on GPU N (as the TF twin reads it)."""
    text = str(device).strip().lower()
    index = text.removeprefix("gpu:").removeprefix("cuda:")
    if text != "cpu" and not index.isdigit():
        raise UserError(f"device {device!r}: use 'cpu' or a GPU id such as '0' or 'gpu:0'")
    specifier = "@numpy" if text == "cpu" else f"@cupy:{int(index)}"
    try:
        return chainer.get_device(specifier)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"device {device!r} is not available to Chainer ({error})") from None
