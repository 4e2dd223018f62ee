"""Model sizes. `paper` is the seed's graph exactly; `tiny` keeps every layer kind, small."""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import UserError


@dataclass(frozen=True)
class Preset:
    """The numbers that fix one cross-conv network.

    levels: pyramid sizes every frame is resized to (the seed: 32, 64, 128, 256).
    motion_level / target_level: index into `levels` of the motion encoder's input (the seed's
        `images[-2]`) and of the predicted difference (`diffs[1]`).
    motion_encoder: ("conv", kernel, width) or ("pool", kernel) in order, all VALID.
    kernel_size: spatial size of the motion kernel = the motion encoder's output size.
    cross_channels: channels per pyramid level; the kernel has len(levels) * cross_channels.
    encoder_convs / encoder_pools: per image encoder, conv widths (kernel `encoder_kernel`)
        and max-pool kernels (stride 2, SAME), in the seed's order conv, conv, pool, conv, conv,
        pool.
    deconv_width / deconv_kernel: the per-level conv2d_transpose.
    decoder: (kernel, width) of the three top-level convs after the concat.
    scale: the seed's `scale` flag: frames are multiplied by it, diffs shifted by it.
    """

    name: str
    levels: tuple[int, ...]
    motion_level: int
    target_level: int
    motion_encoder: tuple[tuple, ...]
    kernel_size: int
    cross_channels: int
    kernel_decoder_kernel: int
    encoder_kernel: int
    encoder_convs: tuple[int, int, int, int]
    encoder_pools: tuple[int, int]
    deconv_width: int
    deconv_kernel: int
    decoder: tuple[tuple[int, int], ...]
    scale: float = 10.0
    channels: int = 3

    @property
    def kernel_channels(self) -> int:
        return len(self.levels) * self.cross_channels

    @property
    def z_dim(self) -> int:
        return self.kernel_size * self.kernel_size * self.kernel_channels

    @property
    def target_size(self) -> int:
        return self.levels[self.target_level]


PAPER = Preset(
    name="paper",
    levels=(32, 64, 128, 256),
    motion_level=2,
    target_level=1,
    motion_encoder=(
        ("conv", 5, 96), ("pool", 2), ("conv", 5, 96), ("pool", 2), ("conv", 5, 128),
        ("conv", 5, 128), ("pool", 2), ("conv", 4, 256), ("conv", 3, 256),
    ),
    kernel_size=5,
    cross_channels=32,
    kernel_decoder_kernel=5,
    encoder_kernel=5,
    encoder_convs=(64, 64, 64, 32),
    encoder_pools=(5, 2),
    deconv_width=64,
    deconv_kernel=3,
    decoder=((9, 128), (1, 128), (1, 3)),
)

TINY = Preset(
    name="tiny",
    levels=(16, 32, 64, 128),
    motion_level=2,
    target_level=1,
    motion_encoder=(
        ("conv", 5, 8), ("pool", 2), ("conv", 5, 8), ("pool", 2), ("conv", 3, 16),
        ("conv", 3, 16), ("pool", 2), ("conv", 2, 16), ("conv", 1, 32),
    ),
    kernel_size=3,
    cross_channels=4,
    kernel_decoder_kernel=3,
    encoder_kernel=5,
    encoder_convs=(8, 8, 8, 4),
    encoder_pools=(5, 2),
    deconv_width=8,
    deconv_kernel=3,
    decoder=((5, 16), (1, 16), (1, 3)),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (PAPER, TINY)}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a UserError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})") from None
