"""TF's output sizes, SAME padding and legacy bilinear source positions: what both twins and
the harness's tie trace compute the same way."""

from __future__ import annotations

import math

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """TF's output size: VALID floor((size - kernel) / stride) + 1, SAME ceil(size / stride)."""
    if padding == "VALID":
        return (size - kernel) // stride + 1
    return math.ceil(size / stride)


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF's SAME padding of one axis: (before, after).

    TF pads so the output has ceil(size / stride) positions:
    pad = max((ceil(size / stride) - 1) * stride + k - size, 0), with k the dilated kernel's
    extent (kernel - 1) * dilation + 1, `pad // 2` before and the rest after, so an odd total
    puts the extra pixel at the bottom / right (the end of the axis).
    """
    extent = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


def transpose_crop(size: int, kernel: int, stride: int, out: int, padding: str = "SAME"
                   ) -> int:
    """Where TF's transposed convolution crops its full output along one axis: SAME's
    pad_total // 2, pad_total = max((size - 1) * stride + kernel - out, 0) (an odd pixel is
    cropped at the end); VALID crops nothing."""
    if padding != "SAME":
        return 0
    return max((size - 1) * stride + kernel - out, 0) // 2


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


def pixelcnn_mask(kernel: int, in_channels: int, out_channels: int, mask_type: str,
                  channels_masked: int) -> np.ndarray:
    """The mask of a PixelCNN conv kernel [k, k, in, out] (TF layout), as the VPN code's
    `masked_conv2d` builds it: zero right of the centre in the centre row and every row below
    (mask "B" keeps the centre); mask "A" also zeroes the centre for the first
    `channels_masked` input channels."""
    mask = np.ones((kernel, kernel, in_channels, out_channels), np.float32)
    centre = kernel // 2
    mask[centre, centre + 1:] = 0.0
    mask[centre + 1:] = 0.0
    if mask_type == "A":
        mask[centre, centre, :channels_masked] = 0.0
    return mask
