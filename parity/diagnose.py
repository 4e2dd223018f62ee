"""Guess what a failing diff means: named heuristics, each simple and tested on a hand-made case.

`diagnose(reference, port, diff, layout)` runs `HEURISTICS` in order and returns the first
one's name and suggestion (a short sentence: the pattern, then what it usually points at), or
None; `suggest` the suggestion alone. A failing item keeps both (`TensorDiff.hint`,
`.suggestion`), and `twinport pitfalls --check` scores each hint over the mutants. The
heuristics that explain the port as a transform of the reference (sign, affine, transpose,
flip, permutation) accept a match within a loose tolerance (10 x the user's atol/rtol plus
1e-6 of the reference's scale) when the plain difference is beyond it, and within the user's
own tolerance when it is not (`_Ctx.fits`: a small failure the transform explains entirely,
e.g. BatchNorm's eps, or a gradient, whose tolerance is 10% of its range), so float noise
never reads as a pattern.

Layouts: "nchw" (channel axis -3, spatial -2, -1; batch 0 for rank >= 4), "nhwc" (channel -1,
spatial -3, -2), "hwio" (a TF kernel: spatial 0, 1, output channels 3, no batch), "flat"
(batch 0 for rank >= 2, no channel or spatial axes). None: "nchw" for rank >= 4 (the harness
compares rank-4 taps in NCHW), else "flat".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from parity.diff import NONFINITE, PASS, SHAPE, TensorDiff, fmt

LAYOUTS = ("nchw", "nhwc", "hwio", "flat")
MAX_TRANSPOSE_RANK = 4  # 23 candidate axis orders; rank 5 would be 119
MAX_PERIOD = 8
MIN_FIT_ELEMENTS = 8  # elements per fitted (scale, offset) pair
RELU_MISMATCH = 0.01  # elements zero on one side only, at most, for a fit after a ReLU
SAMPLE_SIZE = 4096  # elements checked first before a full pass on large arrays
NORMALISED_TOLERANCE = 1e-5  # |sum - 1| per summed element: float32 rounding of a softmax
STANDARDISED_TOLERANCE = 1e-2  # |mean|, |var - 1| of a norm (its epsilon shrinks var a little)


@dataclass(frozen=True)
class Axes:
    """Where the batch, channel and spatial (H, W) axes are, for one array and layout."""

    layout: str
    batch: int | None
    channel: int | None
    spatial: tuple[int, int] | None


def resolve_axes(ndim: int, layout: str | None = None) -> Axes:
    """The axes of a rank-`ndim` array in `layout` (see the module docstring)."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if layout is None:
        layout = "nchw" if ndim >= 4 else "flat"
    if layout == "hwio" and ndim == 4:
        return Axes(layout, None, 3, (0, 1))
    if layout == "hwio" and ndim >= 3:  # conv1d [w, in, out], conv3d [d, h, w, in, out]
        return Axes(layout, None, ndim - 1, None)
    if layout in ("nchw", "nhwc") and ndim >= 3:
        batch = 0 if ndim >= 4 else None
        if layout == "nchw":
            return Axes(layout, batch, ndim - 3, (ndim - 2, ndim - 1))
        return Axes(layout, batch, ndim - 1, (ndim - 3, ndim - 2))
    return Axes("flat", 0 if ndim >= 2 else None, None, None)


class _Ctx:
    """Float64 copies with agreed non-finite values zeroed, the axes and the match rule."""

    def __init__(self, reference, port, diff: TensorDiff, layout: str | None):
        self.diff = diff
        self.ref_raw = np.asarray(reference)
        self.port_raw = np.asarray(port)
        self.axes = resolve_axes(self.ref_raw.ndim, layout)
        self.same_shape = self.ref_raw.shape == self.port_raw.shape
        if self.same_shape:
            ref = self.ref_raw.astype(np.float64)
            prt = self.port_raw.astype(np.float64)
            ok = np.isfinite(ref) & np.isfinite(prt)
            self.ref = np.where(ok, ref, 0.0)
            self.port = np.where(ok, prt, 0.0)
            self.absdiff = np.abs(self.port - self.ref)
            self.scale = float(np.abs(self.ref).max()) if self.ref.size else 0.0
            self.identity_close = self.close(self.ref, self.port)

    def close(self, candidate: np.ndarray, port: np.ndarray) -> bool:
        """`port` matches `candidate` (a transform of the reference) within the loose rule.

        Large arrays are first checked on a fixed sample of elements, so the transforms that
        do not match are rejected without a full pass."""
        if candidate.shape != port.shape:
            return False
        if candidate.size > SAMPLE_SIZE * 4:
            picks = np.random.default_rng(0).integers(0, candidate.size, SAMPLE_SIZE)
            index = np.unravel_index(picks, candidate.shape)
            if not self._within(candidate[index], port[index]):
                return False
        return self._within(candidate, port)

    def fits(self, candidate: np.ndarray, port: np.ndarray) -> bool:
        """`close` when the plain difference is beyond the loose rule; else `port` within the
        user's own tolerances of `candidate` (a small failure a fit explains entirely)."""
        if not self.identity_close:
            return self.close(candidate, port)
        d = np.abs(port - candidate)
        return bool(np.all(d <= self.diff.atol + self.diff.rtol * np.abs(candidate)))

    def _within(self, candidate: np.ndarray, port: np.ndarray) -> bool:
        d = np.abs(port - candidate)
        bound = 10 * self.diff.atol + 10 * self.diff.rtol * np.abs(candidate) + 1e-6 * self.scale
        return bool(np.all(d <= bound))

    def elem_fail(self) -> np.ndarray:
        """The elementwise failure mask with the user's tolerances (finite elements)."""
        rel = self.absdiff / np.where(self.ref == 0, 2.2e-16, np.abs(self.ref))
        return (self.absdiff > self.diff.atol) & (rel > self.diff.rtol)


def _axis_name(ctx: _Ctx, axis: int) -> str:
    ax = ctx.axes
    if ax.spatial is not None and axis in ax.spatial:
        return "H" if axis == ax.spatial[0] else "W"
    if axis == ax.channel:
        return "C"
    if axis == ax.batch:
        return "N"
    return f"axis {axis}"


# --- heuristics: each (ctx) -> str | None ---------------------------------------------------


def nonfinite_here(ctx: _Ctx) -> str | None:
    """NaN/inf on one side where the other is finite."""
    d = ctx.diff
    if d.status != NONFINITE:
        return None
    ref, prt = ctx.ref_raw.astype(np.float64), ctx.port_raw.astype(np.float64)
    port_only = int((~np.isfinite(prt) & np.isfinite(ref)).sum())
    ref_only = int((np.isfinite(prt) & ~np.isfinite(ref)).sum())
    if port_only and not ref_only:
        side = f"{port_only} NaN/inf in the port where the reference is finite"
    elif ref_only and not port_only:
        side = f"{ref_only} NaN/inf in the reference where the port is finite"
    else:
        side = f"{d.n_nonfinite_mismatch} non-finite values that differ between the sides"
    return (f"NaN/inf appears here: {side} (first at {d.worst_index}); look for log/exp/"
            "division or a zero variance in this layer")


def shape_mismatch(ctx: _Ctx) -> str | None:
    """Off by one in a spatial axis; a permuted shape; the same size in another shape."""
    if ctx.diff.status != SHAPE:
        return None
    rs, ps = ctx.ref_raw.shape, ctx.port_raw.shape
    if len(rs) == len(ps):
        differ = [i for i in range(len(rs)) if rs[i] != ps[i]]
        spatial = ctx.axes.spatial or ()
        if differ and all(abs(rs[i] - ps[i]) == 1 and i in spatial for i in differ):
            where = ", ".join(f"{_axis_name(ctx, i)}: reference {rs[i]}, port {ps[i]}"
                              for i in differ)
            return (f"shape differs by one in a spatial axis ({where}): pooling cover_all "
                    "(Chainer's max_pooling_2d defaults to cover_all=True, TF VALID floors) "
                    "or SAME vs VALID output size")
        if sorted(rs) == sorted(ps):
            return (f"shape {rs} (port {ps}) is a permutation of the reference's: layout not "
                    "converted (NHWC vs NCHW) or a transpose with the wrong axis order")
    if int(np.prod(rs)) == int(np.prod(ps)):
        return (f"same number of elements in another shape (reference {rs}, port {ps}): "
                "reshape / flatten order")
    return None


def port_zero(ctx: _Ctx) -> str | None:
    """The port all zeros where the reference is not."""
    if ctx.scale > 0 and not ctx.port.any():
        return ("the port's values are all zero: nothing reaches this output on the port's "
                "side (a zero or previous-step state read, a disconnected gradient, a mask)")
    return None


def port_constant(ctx: _Ctx) -> str | None:
    """The port one value everywhere (not zero) where the reference's vary."""
    if ctx.port.size < 2 or not ctx.port.any():
        return None
    value = float(ctx.port.flat[0])
    spread = float(np.abs(ctx.ref - ctx.ref.mean()).max())
    if spread > ctx.diff.atol and np.all(np.abs(ctx.port - value) <= 1e-6 * abs(value)):
        return (f"the port's values are all {value:.6g} where the reference's vary: a constant "
                "swamping them (a typo in an epsilon or a shift, 1e+12 for 1e-12), or a "
                "saturated or normalised-away input")
    return None


def sign_flipped(ctx: _Ctx) -> str | None:
    """port = -reference."""
    if ctx.scale > 0 and ctx.fits(-ctx.ref, ctx.port):
        return "sign flipped (port = -reference): a subtraction the wrong way round"
    return None


def constant_offset_scale(ctx: _Ctx) -> str | None:
    """port = a * reference + b with one (a, b) for the whole tensor."""
    x, y = ctx.ref.ravel(), ctx.port.ravel()
    if x.size < MIN_FIT_ELEMENTS:  # two points always fit a line
        return None
    var = x.var()
    if var == 0:
        a, b = 1.0, float((y - x).mean())
    else:
        a = float(((x - x.mean()) * (y - y.mean())).mean() / var)
        b = float(y.mean() - a * x.mean())
    if not ctx.fits(a * ctx.ref + b, ctx.port):
        return None
    if ctx.fits(ctx.ref + b, ctx.port):
        return (f"constant offset: port = reference + {fmt(b)}: a bias, BatchNorm beta or a "
                "shift such as the diff's (d + scale) / 2")
    if ctx.fits(a * ctx.ref, ctx.port):
        return (f"constant scale: port = {a:.6g} x reference: a scale factor, a mean vs sum, "
                "or normalisation (BatchNorm eps, variance rule)")
    return (f"constant offset / scale: port = {a:.6g} x reference + {fmt(b)}: "
            "normalisation or a shift/scale of the data")


def integer_ratio(ctx: _Ctx) -> str | None:
    """port = N x reference (or reference / N) for a whole number N >= 2: on a scalar or a
    handful of values, where no scale can be fitted, the count a sum and a mean differ by."""
    nonzero = ctx.ref != 0
    if not nonzero.any():
        return None
    ratio = float(np.median(ctx.port[nonzero] / ctx.ref[nonzero]))
    for factor, text in ((ratio, "x reference"), (1 / ratio if ratio else 0.0, "reference /")):
        n = round(factor)
        if n >= 2 and abs(factor - n) <= 1e-4 * n and ctx.fits(
                ctx.ref * (n if text == "x reference" else 1 / n), ctx.port):
            shown = f"{n} x reference" if text == "x reference" else f"reference / {n}"
            return (f"port = {shown}: a sum where a mean was meant (or the reverse) over {n} "
                    "elements (pixels x channels, the batch, the time steps)")
    return None


def transposed_hw(ctx: _Ctx) -> str | None:
    """H and W swapped (square spatial axes) of an activation (a kernel's are
    `kernel_axes_swapped`)."""
    sp = ctx.axes.spatial
    if ctx.axes.layout == "hwio":
        return None
    if sp is None or ctx.ref.shape[sp[0]] != ctx.ref.shape[sp[1]] or ctx.ref.shape[sp[0]] < 2:
        return None
    if ctx.fits(np.swapaxes(ctx.ref, sp[0], sp[1]), ctx.port):
        return ("values transposed (H and W swapped): a transpose with the wrong axis order, "
                "e.g. (0, 3, 2, 1) where (0, 3, 1, 2) was meant")
    return None


def spatially_flipped(ctx: _Ctx) -> str | None:
    """Reversed along both spatial axes (a kernel: convolution vs correlation) or one."""
    sp = ctx.axes.spatial
    if sp is None or max(ctx.ref.shape[sp[0]], ctx.ref.shape[sp[1]]) < 2:
        return None
    if ctx.fits(np.flip(ctx.ref, axis=sp), ctx.port):
        if ctx.axes.layout == "hwio":
            return ("kernel flipped in both spatial axes: convolution vs correlation "
                    "(TF and Chainer both correlate: do not flip the kernel)")
        return ("values flipped in both spatial axes (rotated 180 degrees): a flipped kernel "
                "(convolution vs correlation) or a flipped image")
    for axis, how in ((sp[0], "vertically (H reversed)"), (sp[1], "horizontally (W reversed)")):
        if ctx.ref.shape[axis] > 1 and ctx.fits(np.flip(ctx.ref, axis=axis), ctx.port):
            return f"values flipped {how}: a reversed axis or image loaded upside down"
    return None


def _find_permutation(ctx: _Ctx, axis: int) -> list[int] | None:
    """p with port[..., i, ...] == reference[..., p[i], ...] along `axis`, or None."""
    n = ctx.ref.shape[axis]
    if n < 2:
        return None
    ref = np.moveaxis(ctx.ref, axis, 0).reshape(n, -1)
    prt = np.moveaxis(ctx.port, axis, 0).reshape(n, -1)

    def signature(a):
        return np.stack([a.mean(1), np.abs(a).mean(1), a.max(1), a.min(1)], axis=1)

    sig_r, sig_p = signature(ref), signature(prt)
    perm = []
    for i in range(n):
        order = np.argsort(np.abs(sig_r - sig_p[i]).sum(1))
        match = next((int(j) for j in order[:3] if ctx.fits(ref[j], prt[i])), None)
        if match is None:
            return None
        perm.append(match)
    if perm == list(range(n)):
        return None
    return perm


def _perm_text(perm: list[int]) -> str:
    shown = ", ".join(str(p) for p in perm[:12])
    return f"[{shown}{', ...' if len(perm) > 12 else ''}]"


def batch_permuted(ctx: _Ctx) -> str | None:
    """The samples of the batch in another order."""
    if ctx.axes.batch is None:
        return None
    perm = _find_permutation(ctx, ctx.axes.batch)
    if perm is None:
        return None
    return (f"samples permuted on the batch axis (port sample i = reference sample "
            f"{_perm_text(perm)}[i]): pair/frame stacking order (the seed stacks the frame "
            "pairs pair-major) or data order")


def channels_permuted(ctx: _Ctx) -> str | None:
    """The channels in another order."""
    if ctx.axes.channel is None:
        return None
    perm = _find_permutation(ctx, ctx.axes.channel)
    if perm is None:
        return None
    return (f"channels permuted (port channel i = reference channel {_perm_text(perm)}[i]): "
            "layout / flatten order, concat or split order, or a kernel with in/out swapped")


def same_values_reordered(ctx: _Ctx) -> str | None:
    """The same multiset of values per sample (or overall) in another order."""
    b = ctx.axes.batch
    if b is not None and ctx.ref.shape[b] > 0:
        ref = np.moveaxis(ctx.ref, b, 0).reshape(ctx.ref.shape[b], -1)
        prt = np.moveaxis(ctx.port, b, 0).reshape(ctx.ref.shape[b], -1)
    else:
        ref, prt = ctx.ref.reshape(1, -1), ctx.port.reshape(1, -1)
    if ref.size < 2:
        return None
    # cheap necessary conditions first: the same min and max per sample
    for reduce in (np.min, np.max):
        if not ctx.fits(reduce(ref, axis=1), reduce(prt, axis=1)):
            return None
    if not ctx.fits(np.sort(ref, axis=1), np.sort(prt, axis=1)):
        return None
    return ("same values in a different order (the sorted values match): layout / flatten "
            "order, e.g. flattened in NCHW instead of NHWC order before a reshape or split; in "
            "a gradient, routed to the wrong element (a pooling or gather backward)")


def per_channel_affine(ctx: _Ctx) -> str | None:
    """port = a_c * reference + b_c with one (a, b) per channel; after a ReLU (both sides
    non-negative), fitted where both are positive."""
    c = ctx.axes.channel
    if c is None or ctx.ref.shape[c] < 2:
        return None
    n = ctx.ref.shape[c]
    x = np.moveaxis(ctx.ref, c, 0).reshape(n, -1)
    y = np.moveaxis(ctx.port, c, 0).reshape(n, -1)
    if x.shape[1] < MIN_FIT_ELEMENTS:
        return None
    a, b = _channel_fit(x, y, np.ones_like(x, dtype=bool))
    after = ""
    if not ctx.fits(a * x + b, y):
        both = (x > 0) & (y > 0)
        if x.min() < 0 or y.min() < 0 or not both.any() or (
                np.mean((x > 0) != (y > 0)) > RELU_MISMATCH):
            return None
        a, b = _channel_fit(x, y, both)
        if not ctx.fits((a * x + b)[both], y[both]):
            return None
        after = ", after a ReLU"
    return (f"per-channel scale/offset{after} (scale {fmt(float(a.min()))}.."
            f"{fmt(float(a.max()))}, offset {fmt(float(b.min()))}..{fmt(float(b.max()))}): "
            "BatchNorm (eps, batch vs moving statistics, moving-variance rule, gamma) or a "
            "per-channel bias")


def _channel_fit(x: np.ndarray, y: np.ndarray, use: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Least squares (a, b) per row of y ~ a x + b over the elements `use` marks."""
    count = np.maximum(use.sum(1, keepdims=True), 1)
    xm = np.where(use, x, 0).sum(1, keepdims=True) / count
    ym = np.where(use, y, 0).sum(1, keepdims=True) / count
    var = np.where(use, (x - xm) ** 2, 0).sum(1, keepdims=True) / count
    cov = np.where(use, (x - xm) * (y - ym), 0).sum(1, keepdims=True) / count
    a = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 1.0)
    return a, ym - a * xm


def border_only(ctx: _Ctx) -> str | None:
    """Error mass in the outer rows/columns only: padding (which sides: SAME asymmetry)."""
    sp = ctx.axes.spatial
    if sp is None:
        return None
    h, w = ctx.ref.shape[sp[0]], ctx.ref.shape[sp[1]]
    other = tuple(i for i in range(ctx.ref.ndim) if i not in sp)
    m = np.transpose(ctx.absdiff.sum(axis=other) if other else ctx.absdiff,
                     (0, 1) if sp[0] < sp[1] else (1, 0))
    total = float(m.sum())
    if total == 0:
        return None
    fail = ctx.elem_fail()
    fail_map = np.transpose(fail.any(axis=other) if other else fail,
                            (0, 1) if sp[0] < sp[1] else (1, 0))
    for width in (1, 2):
        if h < 2 * width + 2 or w < 2 * width + 2:
            return None
        inner = m[width:h - width, width:w - width]
        inner_fail = fail_map[width:h - width, width:w - width]
        if float(inner.sum()) <= 1e-3 * total or not inner_fail.any():
            break
    else:
        return None
    inner_cols = slice(width, w - width)  # sides without the corners
    sides = {
        "top": float(m[:width, inner_cols].sum()),
        "bottom": float(m[h - width:, inner_cols].sum()),
        "left": float(m[width:h - width, :width].sum()),
        "right": float(m[width:h - width, w - width:].sum()),
    }
    hit = [s for s, v in sides.items() if v > 0.05 * total]
    if not hit:
        corners = {
            "top-left": float(m[:width, :width].sum()),
            "top-right": float(m[:width, w - width:].sum()),
            "bottom-left": float(m[h - width:, :width].sum()),
            "bottom-right": float(m[h - width:, w - width:].sum()),
        }
        hit_corners = [c for c, v in corners.items() if v > 0.05 * total]
        if hit_corners == ["bottom-right"]:
            hit = ["bottom", "right"]
        elif hit_corners == ["top-left"]:
            hit = ["top", "left"]
        else:
            return (f"error only at the corners ({', '.join(hit_corners)}): padding amount or "
                    "value")
    rows = "outermost row/column" if width == 1 else f"{width} outermost rows/columns"
    if hit and set(hit) <= {"bottom", "right"}:
        return (f"error only at the {'/'.join(hit)} border ({rows}): SAME padding asymmetry; "
                "TF puts the extra pad pixel at the bottom/right (stride 2 or even kernel): "
                "pad asymmetrically, e.g. F.pad then pad=0")
    if hit and set(hit) <= {"top", "left"}:
        return (f"error only at the {'/'.join(hit)} border ({rows}): SAME padding asymmetry; "
                "the port pads top/left where TF pads bottom/right")
    return (f"error only at the border ({', '.join(hit)}; {rows}): padding amount or value "
            "(zero vs -inf for max pooling, pad width)")


def channels_only(ctx: _Ctx) -> str | None:
    """The error lives in a few channels; the others agree."""
    c = ctx.axes.channel
    if c is None or ctx.ref.shape[c] < 4:
        return None
    n = ctx.ref.shape[c]
    fail = np.moveaxis(ctx.elem_fail(), c, 0).reshape(n, -1).any(axis=1)
    mass = np.moveaxis(ctx.absdiff, c, 0).reshape(n, -1).sum(axis=1)
    bad = np.flatnonzero(fail)
    if not 0 < bad.size <= n // 4:
        return None
    per_channel = np.moveaxis(ctx.elem_fail(), c, 0).reshape(n, -1)[bad]
    if per_channel.mean() < 0.25:  # a few stray elements, not "this channel is wrong"
        return None
    if float(mass[~fail].sum()) > 1e-3 * float(mass.sum()):
        return None
    shown = ", ".join(str(i) for i in bad[:8]) + (", ..." if bad.size > 8 else "")
    return (f"error only in channel{'s' if bad.size > 1 else ''} {shown} of {n}: a per-channel "
            "parameter of those channels (BatchNorm beta, moving statistics) or concat order")


KERNEL_AXES = {3: ("W",), 4: ("H", "W"), 5: ("D", "H", "W")}


def kernel_axes_swapped(ctx: _Ctx) -> str | None:
    """A kernel (its value or gradient; TF layout [..spatial.., in, out], any rank) with two
    or more of its axes in another order: its spatial axes among themselves, or in and out.
    Says which, and the transpose that undoes it."""
    if ctx.axes.layout != "hwio" or ctx.ref.ndim not in KERNEL_AXES:
        return None
    names = (*KERNEL_AXES[ctx.ref.ndim], "in", "out")
    spatial = len(names) - 2
    for order in itertools.permutations(range(spatial)):
        for io in ((spatial, spatial + 1), (spatial + 1, spatial)):
            perm = (*order, *io)
            if perm == tuple(range(len(names))):
                continue
            moved = np.transpose(ctx.ref, perm)
            if moved.shape == ctx.port.shape and _exact(ctx, moved):
                undo = tuple(int(i) for i in np.argsort(perm))
                swapped = [names[i] for i in range(len(names)) if perm[i] != i]
                return (f"kernel axes swapped ({', '.join(swapped)}): the port's kernel is "
                        f"the reference's [{', '.join(names)}] read as "
                        f"[{', '.join(names[i] for i in perm)}], a kernel read or reshaped "
                        f"in another axis order; the fix: its transpose {undo}")
    return None


def _exact(ctx: _Ctx, candidate: np.ndarray) -> bool:
    """`port` matches `candidate` within the diff's own tolerances, not the loose rule: a
    kernel's gradient in another axis order is exact, and a smooth gradient nearly matches
    many orders."""
    bound = ctx.diff.atol + ctx.diff.rtol * np.abs(candidate)
    return bool(np.all(np.abs(ctx.port - candidate) <= bound))


def axes_transposed(ctx: _Ctx) -> str | None:
    """The reference's axes in another order (or its values read in another axis order and
    reshaped, a reshape where a transpose was meant); says the transpose that undoes it."""
    ndim = ctx.ref.ndim
    if not 2 <= ndim <= MAX_TRANSPOSE_RANK:
        return None
    for perm in itertools.permutations(range(ndim)):
        if list(perm) == list(range(ndim)):
            continue
        moved = np.transpose(ctx.ref, perm)
        undo = tuple(int(i) for i in np.argsort(perm))
        if moved.shape == ctx.port.shape and ctx.fits(moved, ctx.port):
            return (f"port = reference.transpose{perm}: an axis order mixed up (a kernel or "
                    f"tap in the other layout); the fix: np.transpose(port, {undo})")
        if moved.shape != ctx.port.shape and ctx.fits(moved.reshape(ctx.port.shape),
                                                        ctx.port):
            return (f"port = reference.transpose{perm}.reshape{ctx.port.shape}: a reshape "
                    f"where a transpose was meant; the fix: "
                    f"port.reshape{moved.shape}.transpose{undo}")
    return None


def _normalised_sets(x: np.ndarray) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """The axis sets over which `x` sums to one with no negative value (a softmax, a division
    by a sum), and those over which it has zero mean and unit variance (a norm before its
    scale and offset), smallest sets first."""
    sums, standard = [], []
    nonnegative = x.size > 0 and x.min() >= -NORMALISED_TOLERANCE
    for size in range(1, x.ndim + 1):
        for axes in itertools.combinations(range(x.ndim), size):
            count = math.prod(x.shape[a] for a in axes)
            if count < 2:
                continue
            if nonnegative and np.all(np.abs(x.sum(axis=axes) - 1)
                                      <= NORMALISED_TOLERANCE * count):
                sums.append(axes)
            if (np.all(np.abs(x.mean(axis=axes)) <= STANDARDISED_TOLERANCE)
                    and np.all(np.abs(x.var(axis=axes) - 1) <= STANDARDISED_TOLERANCE)):
                standard.append(axes)
    return sums, standard


def normalised_over_another_axis(ctx: _Ctx) -> str | None:
    """Both sides normalised, over other axes: the reference sums to one (or is standardised)
    over one set of axes, the port over another and not over the reference's: a softmax, a
    division by a sum or a norm taken over the wrong axis."""
    if not 2 <= ctx.ref.ndim <= MAX_TRANSPOSE_RANK + 1:
        return None
    for (ref_sets, port_sets), what in zip(
            zip(_normalised_sets(ctx.ref), _normalised_sets(ctx.port), strict=True),
            ("sums to one (a softmax or a division by a sum)",
             "has zero mean and unit variance (a norm)"), strict=True):
        if ref_sets and port_sets and ref_sets[0] != port_sets[0] and (
                ref_sets[0] not in port_sets or port_sets[0] not in ref_sets):
            names = [", ".join(_axis_name(ctx, a) for a in axes)
                     for axes in (port_sets[0], ref_sets[0])]
            return (f"normalised over another axis: the port {what} over {names[0]}, the "
                    f"reference over {names[1]}; the op's axis argument (after a layout "
                    "change, the channel axis moves)")
    return None


def periodic_error(ctx: _Ctx) -> str | None:
    """The failing elements sit on a sub-grid of H or W (period 2..MAX_PERIOD, over at least
    two periods and half of them): a stride, e.g. a transposed conv's kernel, padding or
    offset, or SAME's odd pixel at stride 2. The period that confines them most is named."""
    sp = ctx.axes.spatial
    if sp is None:
        return None
    fail = ctx.elem_fail()
    if not fail.any():
        return None
    best = None
    for axis in sp:
        size = ctx.ref.shape[axis]
        rows = np.flatnonzero(np.moveaxis(fail, axis, 0).reshape(size, -1).any(axis=1))
        for period in range(2, min(MAX_PERIOD, size // 2) + 1):
            phases = sorted({int(r) % period for r in rows})
            cycles = {int(r) // period for r in rows}
            if (len(phases) < period and len(cycles) >= max(2, size // period / 2)
                    and (best is None or len(phases) / period < best[0])):
                best = (len(phases) / period, axis, period, phases)
    if best is None:
        return None
    _, axis, period, phases = best
    name = _axis_name(ctx, axis)
    return (f"error periodic in {name} with period {period} (only {name} % {period} in "
            f"{{{', '.join(map(str, phases))}}} fails): a stride; a strided or transposed "
            "conv's kernel, padding or output offset, or SAME's odd pixel at stride 2")


TRANSFORMS: tuple[Callable[[_Ctx], str | None], ...] = (
    port_zero,
    port_constant,
    sign_flipped,
    transposed_hw,
    spatially_flipped,
    kernel_axes_swapped,
    axes_transposed,
    normalised_over_another_axis,
    batch_permuted,
    channels_permuted,
)
# Fitted transforms, after the exact ones: a fit has more freedom.
FITS: tuple[Callable[[_Ctx], str | None], ...] = (
    constant_offset_scale,
    integer_ratio,
    per_channel_affine,
)
LOCATIONS: tuple[Callable[[_Ctx], str | None], ...] = (border_only, periodic_error,
                                                        channels_only)
# The weakest transform: the same values in any order. After the locations, so a stride's
# periodic error (a deconv kernel flipped moves values within each output patch) is named first.
REORDERINGS: tuple[Callable[[_Ctx], str | None], ...] = (same_values_reordered,)
HEURISTICS = (nonfinite_here, shape_mismatch) + TRANSFORMS + FITS + LOCATIONS + REORDERINGS


def suggest(reference, port, diff: TensorDiff, layout: str | None = None) -> str | None:
    """The first heuristic's suggestion for a failing `diff` of `reference` vs `port`, or None.

    Returns None for a passing diff, for arrays the heuristics cannot explain, and for plain
    noise.
    """
    found = diagnose(reference, port, diff, layout)
    return found[1] if found else None


def diagnose(reference, port, diff: TensorDiff, layout: str | None = None
             ) -> tuple[str, str] | None:
    """(the heuristic's name, its suggestion) for a failing diff, or None (see `suggest`);
    the name is what `twinport pitfalls --check` scores the hints by."""
    if diff.status == PASS:
        return None
    with np.errstate(all="ignore"):
        return _diagnose(_Ctx(reference, port, diff, layout), diff)


def _first(heuristics, ctx: _Ctx) -> tuple[str, str] | None:
    for heuristic in heuristics:
        found = heuristic(ctx)
        if found:
            return heuristic.__name__, found
    return None


def _diagnose(ctx: _Ctx, diff: TensorDiff) -> tuple[str, str] | None:
    found = _first((nonfinite_here, shape_mismatch), ctx)
    if found or not ctx.same_shape or diff.status == NONFINITE or ctx.ref.size == 0:
        return found
    return (_first(TRANSFORMS, ctx) or _first(FITS, ctx) or _first(LOCATIONS, ctx)
            or _first(REORDERINGS, ctx))
