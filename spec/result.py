"""What a forward pass returns, on either backend."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from spec.layers import (
    KERNEL_SAMPLE,
    KL_LOSS,
    L2_LOSS,
    LOSS,
    Z_MEAN,
    Z_STDDEV_LOG,
    Layer,
    output_name,
)


@dataclass
class ForwardResult:
    """The prediction, every tap (graph order, backend-native layout) and the named values.

    output: the seed's `diff_output` (TF: NHWC, Chainer: NCHW), in the shifted diff space.
    kernel: the sampled motion kernel `z_mean + exp(z_stddev_log) * epsilon`, reshaped.
    """

    output: Any
    taps: OrderedDict[str, Any]
    z_mean: Any
    z_stddev_log: Any
    kernel: Any
    loss: Any
    l2_loss: Any
    kl_loss: Any

    @classmethod
    def from_taps(cls, layers: list[Layer], taps: OrderedDict[str, Any]) -> ForwardResult:
        return cls(
            output=taps[output_name(layers)],
            taps=taps,
            z_mean=taps[Z_MEAN],
            z_stddev_log=taps[Z_STDDEV_LOG],
            kernel=taps[KERNEL_SAMPLE],
            loss=taps[LOSS],
            l2_loss=taps[L2_LOSS],
            kl_loss=taps[KL_LOSS],
        )
