"""Near-ties: decisions the two sides take differently on values that agree within tolerance.

A max-pool window whose top two values are a rounding step apart can be won by one element in
the reference and by the other in the port; a ReLU input within rounding of 0 can be cut on one
side and passed on the other. The forward agrees either way, but the gradient of that window or
element goes elsewhere, and so does everything upstream of it in the backward pass. Such
elements are no fault of the port.

Found from the training-mode taps both captures already hold (no framework run), traced
backward through the graph to the gradients each decision can change (`reach`), and used to
explain failing gradient elements (`explain`): an item all of whose failing elements lie in
that reach gets the status `tie` (neither pass nor fail) with the decisions named; any failing
element outside it still fails the item. A port that routes a pool's gradient wrongly fails,
since its windows agree with the reference on the forward, so no decision of theirs differs.

The trace follows each layer's local dependence: a conv's receptive field, a pool's window,
the resize's bilinear stencil, a concat's channels, a pair's time steps; a training-mode
BatchNorm also couples every position of a channel through its batch statistics, a change of
order 1/N of the decision's own, which the normal tolerance covers and the trace leaves out.
Kinds without a local rule reach every element of the same samples.

tensorflow/models' spatial transformer (Finn et al.'s STP, kind "stp") has two more such
places. Its neighbours' indices are clipped into the image before the bilinear weights are
computed, so its output jumps (to zero) where a sampling coordinate crosses the first or last
row or column: coordinates that agree to rounding can land on either side (`transformer_flips`,
found from each side's own affine parameters, a tap). Elsewhere it amplifies its parameters'
difference by up to W / 2 times the image's gradient: end to end, where its inputs agree to
their tolerance, its outputs need not, so the port's output is held against TF's transformer
of the port's own inputs instead (`transformer_float64`). And every sample beyond the last row or
column, or before the first, adds two weights that cancel to the edge pixel's gradient: there
the gradient is a difference of large sums, rounding on both sides (`transformer_edges`). A
forward tap failing only at flips is a `tie`, and so is every later end-to-end tap whose layer
passes in isolation (`Comparer.explain_forward_ties`); gradients failing only where the edges
reach are ties too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from parity.diff import FAIL, TIE, TensorDiff, fmt
from spec.layer import Layer
from spec.tf_geometry import same_pads, tf1_bilinear_sources

SHOWN = 3  # decisions named in an item's note


@dataclass(frozen=True)
class Tie:
    """One decision the sides took differently: a pool window, or a ReLU at one element.

    `reference` / `port`: (position, value) of what each side picked (the window's winner;
    for a ReLU the element itself) and the value the other side picked, in that side's tap.
    """

    layer: str
    kind: str  # "max_pool" | "relu"
    index: tuple[int, ...]  # the pool's output element, or the conv's output element
    reference: tuple[tuple[int, ...], float, float]
    port: tuple[tuple[int, ...], float, float]

    def describe(self) -> str:
        (r_at, r_win, r_other), (p_at, p_win, p_other) = self.reference, self.port
        if self.kind == "relu":
            return (f"{self.layer} ReLU at {self.index}: reference {fmt(r_win, 8)}, "
                    f"port {fmt(p_win, 8)}")
        return (f"{self.layer} window {self.index}: reference {fmt(r_win, 8)} at {r_at} over "
                f"{fmt(r_other, 8)} at {p_at}; port {fmt(p_win, 8)} at {p_at} over "
                f"{fmt(p_other, 8)} at {r_at}")


def _within(ref: np.ndarray, port: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    diff = np.abs(port - ref)
    return (diff <= atol) | (diff <= rtol * np.abs(ref))


def _padded_windows(x: np.ndarray, layer: Layer) -> tuple[np.ndarray, tuple[int, int]]:
    """[N, Ho, Wo, C, k*k] windows of NHWC `x` as TF pads them (-inf), and the pads before."""
    k, s = layer.attrs["kernel"], layer.attrs["stride"]
    pads = [same_pads(size, k, s) if layer.attrs["padding"] == "SAME" else (0, 0)
            for size in x.shape[1:3]]
    padded = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-np.inf)
    windows = sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::s, ::s]
    ho, wo = layer.shape[:2]
    windows = windows[:, :ho, :wo]
    return windows.reshape(*windows.shape[:4], k * k), (pads[0][0], pads[1][0])


def pool_ties(layer: Layer, ref_in: np.ndarray, port_in: np.ndarray, atol: float,
              rtol: float) -> list[Tie]:
    """Windows whose winner (first maximum) differs between the sides although both winners'
    values agree within the pool input's tolerance."""
    ref_w, before = _padded_windows(ref_in.astype(np.float64), layer)
    port_w, _ = _padded_windows(port_in.astype(np.float64), layer)
    ref_arg, port_arg = ref_w.argmax(-1), port_w.argmax(-1)
    k, s = layer.attrs["kernel"], layer.attrs["stride"]

    def position(n: int, i: int, j: int, c: int, flat: int) -> tuple[int, int, int, int]:
        """The pool input element at window (n, i, j, c)'s flat index `flat`."""
        return (int(n), int(i * s + flat // k - before[0]), int(j * s + flat % k - before[1]),
                int(c))

    found = []
    for n, i, j, c in zip(*np.nonzero(ref_arg != port_arg), strict=True):
        a, b = ref_arg[n, i, j, c], port_arg[n, i, j, c]
        pair = np.array([a, b])
        if not _within(ref_w[n, i, j, c, pair], port_w[n, i, j, c, pair], atol, rtol).all():
            continue
        at_a, at_b = position(n, i, j, c, a), position(n, i, j, c, b)
        found.append(Tie(layer.name, "max_pool", (int(n), int(i), int(j), int(c)),
                         (at_a, float(ref_w[n, i, j, c, a]), float(ref_w[n, i, j, c, b])),
                         (at_b, float(port_w[n, i, j, c, b]), float(port_w[n, i, j, c, a]))))
    return found


def relu_ties(layer: Layer, ref_out: np.ndarray, port_out: np.ndarray, atol: float,
              rtol: float) -> list[Tie]:
    """Elements of a conv + BatchNorm + ReLU output cut (0) on one side only, the other side's
    value within tolerance of 0."""
    flips = ((ref_out == 0) != (port_out == 0)) & _within(ref_out, port_out, atol, rtol)
    return [Tie(layer.name, "relu", tuple(int(v) for v in at),
                (tuple(int(v) for v in at), float(ref_out[at]), float(port_out[at])),
                (tuple(int(v) for v in at), float(port_out[at]), float(ref_out[at])))
            for at in zip(*np.nonzero(flips), strict=True)]


def find_ties(layers: list[Layer], reference: dict[str, np.ndarray],
              port: dict[str, np.ndarray], atol: float, rtol: float) -> list[Tie]:
    """Every near-tie decision in the training-mode taps (TF layout) of both sides. `atol` is
    in units of each tap's largest |reference| value, as the taps' comparison takes it."""
    found: list[Tie] = []
    for layer in layers:
        name = layer.inputs[0] if layer.kind == "max_pool" else layer.name
        if layer.kind not in ("max_pool", "conv") or name not in reference or name not in port:
            continue
        ref, prt = reference[name], port[name]
        if ref.shape != prt.shape or not np.isfinite(ref).all() or not np.isfinite(prt).all():
            continue
        scaled = atol * float(np.abs(ref).max(initial=0.0))
        finder = pool_ties if layer.kind == "max_pool" else relu_ties
        found.extend(finder(layer, ref, prt, scaled, rtol))
    return found


def transformer_grid(params: np.ndarray, height: int, width: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The spatial transformer's sampling coordinates in pixels, x and y [B, M, H * W], from
    its affine parameters [B, M, 6] (`tf_reference.finn.transformer`), in float64."""
    x_t, y_t = np.meshgrid(np.linspace(-1.0, 1.0, width), np.linspace(-1.0, 1.0, height))
    grid = np.stack([x_t.ravel(), y_t.ravel(), np.ones(height * width)])
    theta = params.astype(np.float64).reshape(*params.shape[:-1], 2, 3)
    source = theta @ grid
    return (source[..., 0, :] + 1.0) * width / 2.0, (source[..., 1, :] + 1.0) * height / 2.0


def transformer_flips(ref_params: np.ndarray, port_params: np.ndarray,
                      shape: tuple[int, ...]) -> np.ndarray:
    """Elements of a spatial transformer's output [B, M, H, W, C] whose sampling coordinate
    lies before the first or beyond the last row or column on one side only."""
    height, width = shape[2:4]

    def regions(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = transformer_grid(params, height, width)
        return ((x >= width - 1).astype(int) - (x < 0), (y >= height - 1).astype(int) - (y < 0))

    (rx, ry), (px, py) = regions(ref_params), regions(port_params)
    flips = ((rx != px) | (ry != py)).reshape(*shape[:4], 1)
    return np.broadcast_to(flips, shape).copy()


def transformer_float64(image: np.ndarray, params: np.ndarray) -> np.ndarray:
    """tensorflow/models' `transformer` in float64: each of the M affine maps [B, M, 6] applied
    to the NHWC image [B, H, W, C], [B, M, H, W, C] (`tf_reference.finn.transformer`)."""
    batch, height, width, _ = image.shape
    x, y = transformer_grid(params, height, width)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x0, x1 = np.clip(x0, 0, width - 1), np.clip(x0 + 1, 0, width - 1)
    y0, y1 = np.clip(y0, 0, height - 1), np.clip(y0 + 1, 0, height - 1)
    sample = np.arange(batch).reshape(-1, 1, 1)
    pixels = image.astype(np.float64)

    def weighted(weight: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        return weight[..., None] * pixels[sample, row, col]

    out = (weighted((x1 - x) * (y1 - y), y0, x0) + weighted((x1 - x) * (y - y0), y1, x0)
           + weighted((x - x0) * (y1 - y), y0, x1) + weighted((x - x0) * (y - y0), y1, x1))
    return out.reshape(*params.shape[:2], height, width, image.shape[-1])


def transformer_edges(shape: tuple[int, ...]) -> np.ndarray:
    """The first and last rows and columns of a spatial transformer's NHWC input image."""
    mask = np.zeros(shape, bool)
    mask[:, [0, -1]] = mask[:, :, [0, -1]] = True
    return mask


def _scatter_windows(out: np.ndarray, shape: tuple[int, ...], kernel: int, stride: int,
                     before: tuple[int, int]) -> np.ndarray:
    """Input elements [N, H, W, ...] that the outputs `out` [N, Ho, Wo, ...] read through a
    kernel x kernel window at `stride`, `before` rows / columns of padding first."""
    n, ho, wo = out.shape[:3]
    height = max(shape[1] + before[0], (ho - 1) * stride + kernel)
    width = max(shape[2] + before[1], (wo - 1) * stride + kernel)
    padded = np.zeros((n, height, width, *out.shape[3:]), bool)
    for di in range(kernel):
        for dj in range(kernel):
            padded[:, di:di + stride * ho:stride, dj:dj + stride * wo:stride] |= out
    return padded[:, before[0]:before[0] + shape[1], before[1]:before[1] + shape[2]]


def _pads_before(layer: Layer, shape: tuple[int, ...]) -> tuple[int, int]:
    if layer.attrs.get("padding") != "SAME":
        return (0, 0)
    k, s = layer.attrs["kernel"], layer.attrs.get("stride", 1)
    return same_pads(shape[1], k, s)[0], same_pads(shape[2], k, s)[0]


def _bilinear_stencil(mask: np.ndarray, axis: int, size: int) -> np.ndarray:
    """The input positions along `axis` (of length `size`) TF1's bilinear resize reads."""
    lower, upper, _ = tf1_bilinear_sources(size, mask.shape[axis])
    shape = list(mask.shape)
    shape[axis] = size
    result = np.zeros(shape, bool)
    moved_result, moved_mask = np.moveaxis(result, axis, 0), np.moveaxis(mask, axis, 0)
    for index in (lower, upper):
        np.logical_or.at(moved_result, index, moved_mask)
    return result


def _input_masks(layer: Layer, out: np.ndarray, shapes: dict[str, tuple[int, ...]]
                 ) -> list[np.ndarray]:
    """Per input of `layer`: the elements whose gradient a change at `out` can reach."""
    shape = [shapes.get(name, ()) for name in layer.inputs]
    if layer.kind == "conv":
        touched = out.any(axis=-1)
        spatial = _scatter_windows(touched, shape[0], layer.attrs["kernel"], 1,
                                   _pads_before(layer, shape[0]))
        return [np.broadcast_to(spatial[..., None], shape[0]).copy()]
    if layer.kind == "max_pool":
        return [_scatter_windows(out, shape[0], layer.attrs["kernel"], layer.attrs["stride"],
                                 _pads_before(layer, shape[0]))]
    if layer.kind == "concat":
        edges = np.cumsum([0] + [s[-1] for s in shape])
        return [out[..., a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if layer.kind in ("pair_image", "pair_diff"):
        batch, length = shape[0][:2]
        masks = np.zeros(shape[0], bool)
        for pair in np.nonzero(out.reshape(out.shape[0], -1).any(axis=1))[0]:
            t, b = divmod(int(pair), batch)
            times = (t, t + 1) if layer.kind == "pair_diff" else (t,)
            for time in times:
                masks[b, time] |= out[pair]
        return [masks]
    if layer.kind == "resize":
        rows = _bilinear_stencil(out, 2, shape[0][2])
        return [_bilinear_stencil(rows, 3, shape[0][3])]
    samples = out.reshape(out.shape[0], -1).any(axis=1) if out.ndim else None
    masks = []
    for size in shape:
        if samples is not None and len(size) and size[0] == samples.size:
            masks.append(np.broadcast_to(samples.reshape(-1, *[1] * (len(size) - 1)), size))
        else:
            masks.append(np.ones(size, bool))
    return masks


def _variable_masks(layer: Layer, out: np.ndarray) -> dict[str, np.ndarray]:
    """The elements of `layer`'s trainable variables' gradients a change at `out` reaches."""
    masks = {}
    for variable in layer.variables:
        name, shape = variable.name, variable.shape
        if not variable.trainable:
            continue
        if layer.kind == "conv":
            channels = out.reshape(-1, out.shape[-1]).any(axis=0)
            masks[name] = np.broadcast_to(channels, shape).copy()
        else:
            masks[name] = np.ones(shape, bool)
    return masks


def reach(layers: list[Layer], ties: list[Tie], shapes: dict[str, tuple[int, ...]]
          ) -> dict[str, np.ndarray]:
    """Gradient elements (by variable name, and by the name of every graph input: a name some
    layer reads that no layer outputs) the decisions, and every spatial transformer's edges,
    can change: boolean masks in TF layout. `shapes`: of every tap, and of the inputs."""
    pending: dict[str, np.ndarray] = {
        layer.inputs[0]: transformer_edges(shapes[layer.inputs[0]])
        for layer in layers if layer.kind == "stp" and layer.inputs[0] in shapes}
    for tie in ties:
        layer = next(layer for layer in layers if layer.name == tie.layer)
        target = layer.inputs[0] if tie.kind == "max_pool" else layer.name
        mask = pending.setdefault(target, np.zeros(shapes[target], bool))
        for position in ((tie.reference[0], tie.port[0]) if tie.kind == "max_pool"
                         else (tie.index,)):
            mask[position] = True
    found: dict[str, np.ndarray] = {}
    for layer in reversed(layers):
        out = pending.pop(layer.name, None)
        if out is None or not out.any():
            continue
        found.update(_variable_masks(layer, out))
        for name, mask in zip(layer.inputs, _input_masks(layer, out, shapes), strict=True):
            if name in shapes:
                pending[name] = pending.get(name, np.zeros(shapes[name], bool)) | mask
    outputs = {layer.name for layer in layers}
    found.update((name, mask) for name, mask in pending.items() if name not in outputs)
    return found


EDGES_REASON = ("where a spatial transformer's edge rows and columns reach (its gradient there "
                "is a difference of large sums that cancel)")


def ties_reason(ties: list[Tie], edges: bool = False) -> str:
    """Where a tie item's failing elements lie: the decisions, the first SHOWN named, and
    (`edges`) the spatial transformers' edges."""
    shown = "; ".join(t.describe() for t in ties[:SHOWN])
    more = f" and {len(ties) - SHOWN} more" if len(ties) > SHOWN else ""
    found = [f"where {len(ties)} near-tie decision(s) reach: {shown}{more}"] if ties else []
    return "; or ".join(found + [EDGES_REASON] * edges)


def explain(diff: TensorDiff, reference: np.ndarray, port: np.ndarray,
            mask: np.ndarray | None, reason: str) -> TensorDiff:
    """`diff` as a `tie` when every element failing its tolerance lies in `mask` (`reason`
    says what the mask is)."""
    if diff.status != FAIL or diff.stat != "elemwise" or mask is None:
        return diff
    ref, prt = reference.astype(np.float64), port.astype(np.float64)
    failing = ~_within(ref, prt, diff.atol, diff.rtol)
    if (failing & ~mask).any():
        return diff
    diff.status = TIE
    diff.n_tie = int(failing.sum())
    diff.note = f"{diff.n_tie} failing elements, all {reason}"
    diff.suggestion = diff.hint = None
    return diff
