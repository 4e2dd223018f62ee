"""Padding and pooling: SAME asymmetry, the SAME max pool, cover_all on the VALID pool."""

from __future__ import annotations

from typing import Any

import chainer
import chainer.functions as F

from chainer_port import tf_compat
from chainer_port.model import CrossConvModel
from spec import Layer
from tests.mutants.base import ShimMutant


class SamePadExtraBefore(ShimMutant):
    """TF SAME's odd padding pixel put before (top/left) instead of after (bottom/right)."""

    target = (tf_compat, "tf_same_pads")

    @staticmethod
    def naive(original: Any) -> Any:
        return lambda size, kernel, stride: original(size, kernel, stride)[::-1]


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
