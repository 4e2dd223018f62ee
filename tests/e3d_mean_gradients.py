"""The E3D-LSTM pair with a `tiny_mean` preset: the tiny one whose data-parallel runs average
the workers' gradients instead of adding them as the seed's code does (`worker_gradients`).
`--model tests.e3d_mean_gradients:PAIR` (tests/test_distributed.py)."""

import dataclasses

from spec.registry import get_pair

_E3D = get_pair("e3d_lstm")
PAIR = dataclasses.replace(_E3D, presets={
    **_E3D.presets,
    "tiny_mean": dataclasses.replace(_E3D.presets["tiny"], name="tiny_mean",
                                     worker_gradients="mean")})
