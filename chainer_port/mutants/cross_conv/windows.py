"""Padding and pooling: SAME asymmetry, the SAME max pool, cover_all on the VALID pool, the
pool's gradient routed to the wrong element."""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from chainer_port.cross_conv import CrossConvModel
from chainer_port.mutants.cross_conv.base import compat_mutant
from spec.layer import Layer
from spec.tf_geometry import same_pads


class MaxPoolSameCoverAll(CrossConvModel):
    """SAME max pool as `F.max_pooling_2d(x, k, s, pad=k // 2)`: symmetric, cover_all=True."""

    def _max_pool(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        kernel, stride = layer.attrs["kernel"], layer.attrs["stride"]
        if layer.attrs["padding"] != "SAME":
            return super()._max_pool(layer, x, training)
        return F.max_pooling_2d(x, kernel, stride, pad=kernel // 2)


class ValidPoolCoverAll(CrossConvModel):
    """VALID max pool as `F.max_pooling_2d(x, k, s)`: Chainer's cover_all=True rounds up."""

    def _max_pool(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        if layer.attrs["padding"] != "VALID":
            return super()._max_pool(layer, x, training)
        return F.max_pooling_2d(x, layer.attrs["kernel"], layer.attrs["stride"])


class MaxPoolGradMirrored(CrossConvModel):
    """A max pool whose forward is right and whose backward routes each window's gradient to
    the mirrored position of its maximum ((di, dj) -> (k-1-di, k-1-dj); kept where that is
    padding): the wrong routing a hand-written pool backward makes when it counts the window
    index from the wrong end."""

    def _max_pool(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        pooled = super()._max_pool(layer, x, training)
        kernel, stride = layer.attrs["kernel"], layer.attrs["stride"]
        n, c, h, w = x.shape
        pads = [same_pads(size, kernel, stride) if layer.attrs["padding"] == "SAME" else (0, 0)
                for size in (h, w)]
        padded = np.pad(x.array, ((0, 0), (0, 0), *pads), constant_values=-np.inf)
        ho, wo = pooled.shape[2:]
        windows = sliding_window_view(padded, (kernel, kernel), axis=(2, 3))
        windows = windows[:, :, ::stride, ::stride][:, :, :ho, :wo].reshape(n, c, ho, wo, -1)
        di, dj = np.divmod(windows.argmax(-1), kernel)
        top = np.arange(ho)[:, None] * stride - pads[0][0]
        left = np.arange(wo)[None, :] * stride - pads[1][0]
        rows, cols = top + kernel - 1 - di, left + kernel - 1 - dj
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        rows, cols = np.where(inside, rows, top + di), np.where(inside, cols, left + dj)
        flat = ((np.arange(n)[:, None, None, None] * c + np.arange(c)[None, :, None, None]) * h
                + rows) * w + cols
        picked = F.get_item(F.reshape(x, (-1,)), flat)
        return picked + (pooled.array - picked.array)


SamePadExtraBefore = compat_mutant(
    "SamePadExtraBefore", "TF SAME's odd padding pixel put before (top/left) instead of after "
    "(bottom/right).", same_pad_extra="before")
