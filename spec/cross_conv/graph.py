"""The cross-conv graph as one ordered list of layers: the single source of truth.

Every layer has the seed's TF variable scope as its name (slim's naming: `Conv`, `Conv_1`,
... per scope; `MaxPool2D`, `MaxPool2D_1`, ...), a kind, its input layers, and its output
shape per sample in TF layout (NHWC without the batch axis). Both models are built from this
list and run it in this order (`spec.layer.run_graph`); each returns one tap per layer.

Batch axes: `frames_*` taps have the data batch B; every later tap has B * (L - 1) (the seed's
`SequenceToImageAndDiff` stacks the L - 1 frame pairs pair-major on the batch axis); the three
loss taps are scalars.
"""

from __future__ import annotations

from spec.cross_conv.presets import Preset
from spec.layer import Layer, Variable
from spec.layout import Transpose
from spec.tf_geometry import conv_output_size

FRAMES = "frames"
EPSILON = "epsilon"

Z_MEAN = "motion_encoder/z_mean"
Z_STDDEV_LOG = "motion_encoder/z_stddev_log"
KERNEL_SAMPLE = "motion_encoder/kernel"
LOSS = "loss/loss"
L2_LOSS = "loss/l2_loss"
KL_LOSS = "loss/kl_loss"


class _Builder:
    """Appends layers, inferring each output shape from its input's."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.shapes: dict[str, tuple[int, ...]] = {}

    def add(self, name, kind, inputs, shape, batch="B'", **attrs) -> str:
        self.layers.append(Layer(name, kind, tuple(inputs), tuple(shape), batch, attrs,
                                 slim_variables(name, kind, attrs, tuple(shape))))
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


def slim_variables(name: str, kind: str, attrs: dict, shape: tuple[int, ...]
                   ) -> tuple[Variable, ...]:
    """slim's variables of a conv / conv2d_transpose with BatchNorm (scale off): the kernel
    (xavier uniform for conv2d, truncated normal 0.01 for the seed's conv2d_transpose), beta,
    and the moving statistics; none for the other kinds."""
    if kind not in ("conv", "deconv"):
        return ()
    k, cin, width = attrs["kernel"], attrs["in_channels"], shape[-1]
    kernel = (k, k, cin, width) if kind == "conv" else (k, k, width, cin)
    init = "xavier_uniform" if kind == "conv" else "truncated_normal:0.01"
    return (
        Variable(f"{name}/weights", kernel, Transpose.KERNEL, init),
        Variable(f"{name}/BatchNorm/beta", (width,), init="zeros"),
        Variable(f"{name}/BatchNorm/moving_mean", (width,), init="zeros", trainable=False),
        Variable(f"{name}/BatchNorm/moving_variance", (width,), init="ones", trainable=False),
    )


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
                       batch="B", size=size, scale=preset.scale)
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


def output_name(layers: list[Layer]) -> str:
    """The layer whose output is the prediction (`diff_output` in the seed): the l2's input."""
    return next(layer for layer in layers if layer.kind == "l2_loss").inputs[0]
