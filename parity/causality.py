"""The causality section: does an autoregressive tap see its input only before each pixel?

For every tap a pair declares (`TwinPair.autoregressive`), at a few pixels p in raster order,
each twin runs the forward again with the declared input changed by 1 (up, or down where up
would leave the input's range: a 255 stays a valid intensity) at p and every pixel after it;
the tap at p must not move. Exact, on each twin from the same weights and inputs:
a masked convolution's zeros multiply the change to nothing, any path around the mask moves
the tap. The two twins agreeing is the verdict: both causal passes; both leaking passes too,
as a finding of the model (the note says so: the VPN's mask B on the current frame); one
leaking and not the other fails (a port whose mask is shifted by one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from parity.capture import layout_converters
from parity.diff import FAIL, PASS, TensorDiff, fmt
from spec.pair import Autoregressive

if TYPE_CHECKING:
    from parity.harness import ReferenceRun

LEAK_HINT = "causality"


def pixels(height: int, width: int) -> list[tuple[int, int]]:
    """The pixels checked: the first, the centre, the last of the first row, the last."""
    found = [(0, 0), (height // 2, width // 2), (0, width - 1), (height - 1, width - 1)]
    return list(dict.fromkeys(found))


def tap_moves(model: Any, check: Autoregressive, inputs: Mapping[str, np.ndarray],
              noise: Mapping[str, np.ndarray], base: np.ndarray, pixel: tuple[int, int],
              high: float | None) -> float:
    """How far the tap at `pixel` moves (max abs, all samples and channels) when the input
    changes by 1 at that pixel and every one after it (down where up would pass `high`)."""
    changed = {name: np.array(value) for name, value in inputs.items()}
    plane = changed[check.input][(slice(None), *check.index)]  # [B, H, W, C]
    height, width = plane.shape[-3:-1]
    after = (np.arange(height)[:, None] * width + np.arange(width)) >= (
        pixel[0] * width + pixel[1])
    region = plane[..., after, :]
    plane[..., after, :] = region + np.where(high is None or region + 1 <= high, 1.0, -1.0)
    moved = tap_value(model, check.tap, changed, noise)
    row, col = pixel
    return float(np.abs(moved[..., row, col, :] - base[..., row, col, :]).max())


def tap_value(model: Any, tap: str, inputs: Mapping[str, np.ndarray],
              noise: Mapping[str, np.ndarray]) -> np.ndarray:
    """The tap of an inference forward, TF layout, float64."""
    to_tf, _ = layout_converters(model.layout, model.layers)
    result = model.forward(dict(inputs), dict(noise), training=False)
    return np.asarray(to_tf(tap, model.to_numpy(result.taps[tap])), np.float64)


def causality_diffs(checks: tuple[Autoregressive, ...], reference: Any, port: Any,
                    inputs: Mapping[str, np.ndarray], noise: Mapping[str, np.ndarray],
                    highs: Mapping[str, float | None]) -> list[TensorDiff]:
    """One item per checked tap and pixel, `{tap} @ (h, w)`; both models at the same
    weights; `highs`: each input's largest valid value (None: any)."""
    out = []
    for check in checks:
        high = highs.get(check.input)
        bases = {side: tap_value(model, check.tap, inputs, noise)
                 for side, model in (("reference", reference), ("port", port))}
        height, width = bases["reference"].shape[-3:-1]
        for pixel in pixels(height, width):
            moves = {side: tap_moves(model, check, inputs, noise, bases[side], pixel, high)
                     for side, model in (("reference", reference), ("port", port))}
            leaks = {side: move > 0 for side, move in moves.items()}
            agree = leaks["reference"] == leaks["port"]
            note = (f"changing {check.input}{list(check.index)} at and after {pixel} moves "
                    f"it by {fmt(moves['reference'])} (TF) and {fmt(moves['port'])} (port)")
            if agree and leaks["reference"]:
                note = "finding of the model, on both twins: not causal; " + note
            leaker = "the port" if leaks["port"] else "the reference"
            out.append(TensorDiff(
                name=f"{check.tap} @ {pixel}", status=PASS if agree else FAIL,
                ref_shape=(), port_shape=(), stat="causality", n_elements=1,
                abs_stat=moves["port"], ref_max_abs=moves["reference"],
                port_max_abs=moves["port"], note=note,
                suggestion=None if agree else (
                    f"{leaker} sees {check.input} at or after {pixel} and the other does not: "
                    "a mask (or a path around it) that differs"),
                hint=None if agree else LEAK_HINT))
    return out


def section(reference: ReferenceRun, port: Any) -> list[TensorDiff] | None:
    """Every autoregressive tap of the pair on batch 0; None for a pair without one."""
    pair = reference.pair
    if pair.autoregressive is None:
        return None
    highs = {spec.name: spec.value_range[1] if spec.value_range else None
             for spec in pair.inputs(reference.preset)}
    return causality_diffs(pair.autoregressive(reference.preset), reference.model, port,
                           reference.inputs.batches[0], reference.inputs.noise[0], highs)
