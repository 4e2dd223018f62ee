"""o-tawab/Video-Pixel-Networks' VPN (seed 004) in Chainer: the spec's graph, the same methods
and layer names as the TF twin (`tf_reference/vpn.py`). NCHW; a block's variables are read by
its TF scope, so every step shares them.
"""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np

from chainer_port.tf_compat import (
    multiplicative_unit,
    tf_concat,
    tf_conv,
    tf_gate_convs,
    tf_softmax_cross_entropy,
    tf_split,
)
from chainer_port.twin import ChainerTwin
from spec.layer import Layer
from spec.layout import Transpose
from spec.tf_geometry import pixelcnn_mask
from spec.vpn import PAIR
from spec.vpn.graph import UNIT_GATES


class VPNModel(ChainerTwin):
    """The VPN on NCHW Chainer arrays (NumPy or CuPy); the interface is `ChainerTwin`'s
    (docs/port-interface.md)."""

    pair = PAIR

    def conv(self, x: chainer.Variable, scope: str, dilation: int = 1, mask: str | None = None,
             masked_channels: int = 0) -> chainer.Variable:
        """TF's SAME conv (dilated: `tf_conv`) and its bias (`kernel_and_bias`)."""
        kernel, bias = self.kernel_and_bias(scope, mask, masked_channels)
        return tf_conv(x, kernel, "SAME", dilation=dilation, bias=bias)

    def kernel_and_bias(self, scope: str, mask: str | None = None, masked_channels: int = 0
                        ) -> tuple[chainer.Variable, chainer.Variable]:
        """A conv's kernel (out, in, k, k) and bias; a masked conv's kernel times the PixelCNN
        mask moved to (out, in, k, k) by `Transpose.KERNEL`."""
        if mask is None:
            return self.variable(f"{scope}/kernel"), self.variable(f"{scope}/bias")
        kernel, bias = self.variable(f"{scope}/weights"), self.variable(f"{scope}/biases")
        cout, cin, k, _ = kernel.shape
        pattern = Transpose.KERNEL.to_chainer(self.mask(k, cin, cout, mask, masked_channels))
        return kernel * self.device.send(np.ascontiguousarray(pattern, kernel.dtype)), bias

    def mask(self, k: int, cin: int, cout: int, mask: str, masked_channels: int
             ) -> np.ndarray:
        """The PixelCNN mask, TF layout (`spec.tf_geometry.pixelcnn_mask`)."""
        return pixelcnn_mask(k, cin, cout, mask, masked_channels)

    def unit(self, h: chainer.Variable, scope: str, dilation: int = 1, mask: str | None = None,
             masked_channels: int = 0, g2_times_h: bool = True) -> chainer.Variable:
        """A multiplicative unit on its four convolutions of h (`tf_gate_convs`,
        `multiplicative_unit`)."""
        kernels, biases = zip(*(self.kernel_and_bias(f"{scope}/{gate}", mask, masked_channels)
                                for gate in UNIT_GATES), strict=True)
        gates = tf_gate_convs([h], [[kernel] for kernel in kernels], "SAME", biases=biases,
                              dilation=dilation)
        return multiplicative_unit(gates, h if g2_times_h else None)

    # -- the graph -----------------------------------------------------------------------------

    def _input_conv(self, layer: Layer, frames: chainer.Variable, training: bool
                    ) -> chainer.Variable:
        return self.conv(frames[:, layer.attrs["frame"]], layer.attrs["scope"])

    def _rmb(self, layer: Layer, h: chainer.Variable, training: bool) -> chainer.Variable:
        scope, dilation = layer.attrs["scope"], layer.attrs["dilation"]
        x = self.conv(h, f"{scope}/h1")
        for number in (1, 2):
            x = self.unit(x, f"{scope}/multiplicative_unit_without_mask_{number}", dilation)
        return h + self.conv(x, f"{scope}/h4")

    def _masked_rmb(self, layer: Layer, h: chainer.Variable, *frames: chainer.Variable,
                    training: bool) -> chainer.Variable:
        a = layer.attrs
        scope = a["scope"]
        x = self.conv(h, f"{scope}/h1")
        unit = f"{scope}/multiplicative_unit_with_mask"
        if a["first"]:
            x = tf_concat([frames[0][:, a["frame"]], x], axis=1)
            mask = a["first_mask"]
            x = self.unit(x, f"{unit}_1", mask=mask, masked_channels=1,
                          g2_times_h=mask == "B" or a["mask_a_gate"] == "g2_h")
        else:
            x = self.unit(x, f"{unit}_1", mask="B", masked_channels=x.shape[1])
        x = self.unit(x, f"{unit}_2", mask="B", masked_channels=x.shape[1])
        out = self.conv(x, f"{scope}/h4")
        return out if a["last"] else h + out

    def _stop_gradient(self, layer: Layer, state: chainer.Variable, training: bool
                       ) -> chainer.Variable:
        return chainer.Variable(chainer.as_array(state))

    def _hidden(self, layer: Layer, state: chainer.Variable, training: bool
                ) -> chainer.Variable:
        return tf_split(state, [layer.attrs["width"]], axis=1)[1]

    def _pixel_cross_entropy(self, layer: Layer, frames: chainer.Variable,
                             *logits: chainer.Variable, training: bool) -> chainer.Variable:
        """Softmax cross-entropy over the class axis (`tf_softmax_cross_entropy`), averaged
        over every pixel of every step; the labels the frames' values truncated to int32 (TF's
        cast)."""
        first = layer.attrs["first"]
        targets = chainer.as_array(frames)[:, first:first + len(logits), 0].astype(np.int32)
        stacked = F.stack(logits, axis=2)  # [B, 256, T, H, W]
        return tf_softmax_cross_entropy(stacked, targets)
