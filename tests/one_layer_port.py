"""A port that differs from the built-in one in one layer, for `twinport parity --port`.

`image_encoder_0/MaxPool2D` (5x5, stride 2, SAME) pads symmetrically (2 on every side) as a
naive Chainer call would; TF puts the odd padding pixel at the bottom/right.
"""

import chainer.functions as F

from chainer_port.cross_conv import CrossConvModel

WRONG_LAYER = "image_encoder_0/MaxPool2D"


class SymmetricPoolPort(CrossConvModel):
    def _max_pool(self, layer, x, training):
        if layer.name != WRONG_LAYER:
            return super()._max_pool(layer, x, training)
        return F.max_pooling_2d(x, layer.attrs["kernel"], 2, pad=2, cover_all=False)


def symmetric_pool_port(preset, seed=0, device="cpu"):
    return SymmetricPoolPort(preset, seed=seed, device=device)


def not_a_port(preset, seed=0, device="cpu"):
    return object()
