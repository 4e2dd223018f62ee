"""The cross-conv graph as one ordered list of layers: the single source of truth.

Every layer has the seed's TF variable scope as its name (slim's naming: `Conv`, `Conv_1`,
... per scope; `MaxPool2D`, `MaxPool2D_1`, ...), a kind, its input layers, and its output
shape per sample in TF layout (NHWC without the batch axis). Both models are built from this
list and run it in this order (`spec.graph.run_graph`); each returns one tap per layer.

Batch axes: `frames_*` taps have the data batch B; every later tap has B * (L - 1) (the seed's
`SequenceToImageAndDiff` stacks the L - 1 frame pairs pair-major on the batch axis); the three
loss taps are scalars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from spec.presets import Preset

FRAMES = "frames"
EPSILON = "epsilon"
SOURCES = (FRAMES, EPSILON)

Z_MEAN = "motion_encoder/z_mean"
Z_STDDEV_LOG = "motion_encoder/z_stddev_log"
KERNEL_SAMPLE = "motion_encoder/kernel"
LOSS = "loss/loss"
L2_LOSS = "loss/l2_loss"
KL_LOSS = "loss/kl_loss"


@dataclass(frozen=True)
class Layer:
    """One node of the graph.

    kind: resize | pair_image | pair_diff | concat | conv | max_pool | z_split |
          sample_kernel | cross_conv | deconv | l2_loss | kl_loss | add
    inputs: names of the layers (or sources `frames`, `epsilon`) it reads, in order.
    shape: output shape per sample, TF layout (NHWC without batch); () for the losses.
    batch: "frames" (B), "pairs" (B * (L - 1)) or None (a scalar).
    attrs: kind-specific settings (kernel, stride, padding, width, size, part, ...).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    batch: str | None = "pairs"
    attrs: Mapping = field(default_factory=dict)

    @property
    def variables(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(TF variable name, TF shape) of every variable this layer owns, slim's names."""
        if self.kind == "conv":
            k, cin, cout = self.attrs["kernel"], self.attrs["in_channels"], self.shape[-1]
            kernel = (k, k, cin, cout)
        elif self.kind == "deconv":
            k, cin, cout = self.attrs["kernel"], self.attrs["in_channels"], self.shape[-1]
            kernel = (k, k, cout, cin)
        else:
            return ()
        width = self.shape[-1]
        return (
            (f"{self.name}/weights", kernel),
            (f"{self.name}/BatchNorm/beta", (width,)),
            (f"{self.name}/BatchNorm/moving_mean", (width,)),
            (f"{self.name}/BatchNorm/moving_variance", (width,)),
        )


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """TF's output size: VALID floor((size - kernel) / stride) + 1, SAME ceil(size / stride)."""
    if padding == "VALID":
        return (size - kernel) // stride + 1
    return math.ceil(size / stride)


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF's SAME padding of one axis: (before, after).

    TF pads so the output has ceil(size / stride) positions:
    pad = max((ceil(size / stride) - 1) * stride + kernel - size, 0), `pad // 2` before and
    the rest after, so an odd total puts the extra pixel at the bottom / right.
    """
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf1_bilinear_sources(in_size: int, out_size: int
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where TF1's legacy bilinear resize reads each output position along one axis:
    align_corners=False, half_pixel_centers=False: src = dst * (in / out) in float32,
    (lower, upper, frac) = (floor(src), min(lower + 1, in - 1), src - lower)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(src).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, src - lower.astype(np.float32)


class _Builder:
    """Appends layers, inferring each output shape from its input's."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.shapes: dict[str, tuple[int, ...]] = {}

    def add(self, name, kind, inputs, shape, batch="pairs", **attrs) -> str:
        self.layers.append(Layer(name, kind, tuple(inputs), tuple(shape), batch, attrs))
        self.shapes[name] = tuple(shape)
        return name

    def conv(self, scope: str, index: int, x: str, kernel: int, width: int, padding: str) -> str:
        h, w, c = self.shapes[x]
        size = (conv_output_size(h, kernel, 1, padding), conv_output_size(w, kernel, 1, padding))
        return self.add(_slim_name(scope, "Conv", index), "conv", [x], (*size, width),
                        kernel=kernel, stride=1, padding=padding, in_channels=c)

    def pool(self, scope: str, index: int, x: str, kernel: int, padding: str) -> str:
        h, w, c = self.shapes[x]
        size = (conv_output_size(h, kernel, 2, padding), conv_output_size(w, kernel, 2, padding))
        return self.add(_slim_name(scope, "MaxPool2D", index), "max_pool", [x], (*size, c),
                        kernel=kernel, stride=2, padding=padding)


def _slim_name(scope: str, base: str, index: int) -> str:
    """slim's unique names in a scope: Conv, Conv_1, Conv_2, ..."""
    name = base if index == 0 else f"{base}_{index}"
    return f"{scope}/{name}" if scope else name


def build_spec(preset: Preset, frame_size: tuple[int, int] = (64, 64), seq_len: int = 2
               ) -> list[Layer]:
    """Every layer of the seed's graph for `preset`, in graph order."""
    b = _Builder()
    c = preset.channels
    images, diffs = [], []
    for size in preset.levels:
        frames = b.add(f"frames_{size}", "resize", [FRAMES], (seq_len, size, size, c),
                       batch="frames", size=size, scale=preset.scale)
        images.append(b.add(f"image_{size}", "pair_image", [frames], (size, size, c)))
        diffs.append(b.add(f"diff_{size}", "pair_diff", [frames], (size, size, c),
                           scale=preset.scale))

    # Motion encoder: VALID convs and pools on the image and its diff at `motion_level`.
    m = preset.motion_level
    x = b.add("motion_input", "concat", [images[m], diffs[m]],
              (preset.levels[m], preset.levels[m], 2 * c))
    convs = pools = 0
    for op in preset.motion_encoder:
        if op[0] == "conv":
            x = b.conv("motion_encoder", convs, x, op[1], op[2], "VALID")
            convs += 1
        else:
            x = b.pool("motion_encoder", pools, x, op[1], "VALID")
            pools += 1
    k, kc = preset.kernel_size, preset.kernel_channels
    if b.shapes[x] != (k, k, 2 * kc):
        raise ValueError(f"preset {preset.name}: motion encoder gives {b.shapes[x]}, "
                         f"the kernel needs {(k, k, 2 * kc)}")
    z_mean = b.add(Z_MEAN, "z_split", [x], (preset.z_dim,), part=0)
    z_log = b.add(Z_STDDEV_LOG, "z_split", [x], (preset.z_dim,), part=1)
    x = b.add(KERNEL_SAMPLE, "sample_kernel", [z_mean, z_log, EPSILON], (k, k, kc))
    for i in range(2):
        x = b.conv("kernel_decoder", i, x, preset.kernel_decoder_kernel, kc, "SAME")
    kernel = x

    # Image encoders, one per pyramid level, SAME convs and pools.
    encoded = []
    for level, image in enumerate(images):
        scope, x = f"image_encoder_{level}", image
        w1, w2, w3, w4 = preset.encoder_convs
        ke, (p1, p2) = preset.encoder_kernel, preset.encoder_pools
        x = b.conv(scope, 0, x, ke, w1, "SAME")
        x = b.conv(scope, 1, x, ke, w2, "SAME")
        x = b.pool(scope, 0, x, p1, "SAME")
        x = b.conv(scope, 2, x, ke, w3, "SAME")
        x = b.conv(scope, 3, x, ke, w4, "SAME")
        encoded.append(b.pool(scope, 1, x, p2, "SAME"))

    # Cross convolution: each level's features with its slice of the per-sample kernel.
    crossed = []
    for level, features in enumerate(encoded):
        crossed.append(b.add(f"cross_conv_{level}", "cross_conv", [features, kernel],
                             b.shapes[features], part=level, parts=len(encoded)))

    # Decoder: per level a transposed conv up to the target size, then three convs.
    target = preset.target_size
    decoded = []
    for level, x in enumerate(crossed):
        h, _, cin = b.shapes[x]
        stride = target // h
        decoded.append(b.add(f"image_decoder_{level}", "deconv", [x],
                             (target, target, preset.deconv_width), kernel=preset.deconv_kernel,
                             stride=stride, in_channels=cin))
    x = b.add("decoder_input", "concat", decoded,
              (target, target, preset.deconv_width * len(decoded)))
    for i, (kernel_size, width) in enumerate(preset.decoder):
        x = b.conv("", i, x, kernel_size, width, "SAME")
    output = x

    l2 = b.add(L2_LOSS, "l2_loss", [output, diffs[preset.target_level]], (), batch=None)
    kl = b.add(KL_LOSS, "kl_loss", [Z_MEAN, Z_STDDEV_LOG], (), batch=None)
    b.add(LOSS, "add", [l2, kl], (), batch=None)
    return b.layers


def graph_order(layers: list[Layer]) -> list[str]:
    return [layer.name for layer in layers]


def output_name(layers: list[Layer]) -> str:
    """The layer whose output is the prediction (`diff_output` in the seed): the l2's input."""
    return next(layer for layer in layers if layer.kind == "l2_loss").inputs[0]
