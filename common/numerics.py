"""The GPU numerics both twins compute under: one switch each, read from the environment so a
capture made in another process (or on another machine) runs under the same ones.

- TensorFloat-32: TF enables it by default on Ampere and later and cuBLAS/cuDNN may pick it on
  their own; against a float32 side it costs ~1e-3 relative error, which fails the 1e-4
  inference tolerance for no fault of the port. Off unless `TWINPORT_ALLOW_TF32=1`
  (`--allow-tf32`): then `NVIDIA_TF32_OVERRIDE=0` (the CUDA libraries' global off switch) and
  `CUPY_TF32=0` are set before either framework starts, and TF's own switch is turned off.
- Determinism: TF's op determinism and `chainer.config.cudnn_deterministic`, on a GPU, unless
  `TWINPORT_DETERMINISTIC=0`; a CPU run is deterministic already and is left as it is.
"""

from __future__ import annotations

import os

ALLOW_TF32 = "TWINPORT_ALLOW_TF32"
DETERMINISTIC = "TWINPORT_DETERMINISTIC"
# Set to "0" (off) before a framework loads, unless TF32 is allowed.
TF32_OFF = {"NVIDIA_TF32_OVERRIDE": "0", "CUPY_TF32": "0"}


def tf32_allowed() -> bool:
    return os.environ.get(ALLOW_TF32, "0") == "1"


def deterministic() -> bool:
    return os.environ.get(DETERMINISTIC, "1") != "0"


def set_numerics(allow_tf32: bool | None = None) -> None:
    """Fix the switches for this process (and its children) before TF or CuPy loads:
    `allow_tf32` (None: as the environment says) and the TF32 off-switches that follow."""
    if allow_tf32 is not None:
        os.environ[ALLOW_TF32] = "1" if allow_tf32 else "0"
    if not tf32_allowed():
        for name, value in TF32_OFF.items():
            os.environ.setdefault(name, value)


def numerics() -> dict[str, str]:
    """The switches in force, for the environment table and a capture's meta."""
    return {"tf32": "allowed" if tf32_allowed() else "off",
            "deterministic": "on" if deterministic() else "off",
            **{name: os.environ.get(name, "unset") for name in TF32_OFF}}
