"""`twinport data moving-mnist`: two handwritten digits bouncing in 64x64 frames, 20 per sequence.

Srivastava et al. 2015's recipe: each 28x28 digit's top-left corner starts at a uniform
position in the 36x36 square where the digit fits, moves in a uniform direction by 0.1 of
that range per frame (3.6 px, their step length) and bounces off the edges; the digits are
combined with a per-pixel max. The digits are scikit-learn's bundled 8x8 handwritten digits,
upscaled bicubically into MNIST's 20x20 box centred in 28x28, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from common.errors import UserError
from data.moving_objects import bounce
from data.schema import ShardRow
from data.writer import write_generated

IMAGE_SIZE = 64
DIGIT_SIZE = 28
DIGIT_BOX = 20  # MNIST's digits fill a 20x20 box centred in their 28x28 image
NUM_DIGITS = 2
SEQ_LEN = 20
DEFAULT_COUNT = 10_000
SPAN = IMAGE_SIZE - DIGIT_SIZE  # the top-left corner stays in [0, SPAN]
STEP = 0.1 * SPAN
NORM_SCALE = 255.0
_BLOCK = 512  # sequences per random stream and per rendered chunk


@functools.lru_cache(maxsize=1)
def digit_bank() -> np.ndarray:
    """`[1797, 28, 28]` uint8: scikit-learn's 8x8 digits (0..16) upscaled to MNIST's layout."""
    from sklearn.datasets import load_digits

    small = load_digits().images.astype(np.float32) / 16
    box = np.stack([
        np.asarray(Image.fromarray(image).resize(
            (DIGIT_BOX, DIGIT_BOX), Image.Resampling.BICUBIC))
        for image in small
    ])
    bank = np.zeros((len(small), DIGIT_SIZE, DIGIT_SIZE), np.uint8)
    pad = (DIGIT_SIZE - DIGIT_BOX) // 2
    # Bicubic overshoots a little around the strokes: clip back to [0, 1].
    bank[:, pad : pad + DIGIT_BOX, pad : pad + DIGIT_BOX] = np.rint(
        np.clip(box, 0, 1) * NORM_SCALE)
    return bank


@dataclass(frozen=True)
class Motion:
    """Per sequence and digit: `digit` `[N, D]` bank index, `start` `[N, D, 2]` (row, col) of
    the top-left corner in [0, SPAN], `angle` `[N, D]` direction in radians."""

    digit: np.ndarray
    start: np.ndarray
    angle: np.ndarray


def draw(seed: int, block: int, count: int = _BLOCK) -> Motion:
    """The first `count` sequences of block `block` (of `_BLOCK`).

    Each block has its own stream, `default_rng([seed, block])`, and always draws a whole
    block, so a smaller `--count` gives a prefix of a larger one.
    """
    rng = np.random.default_rng([seed, block])
    digit = rng.integers(0, len(digit_bank()), size=(_BLOCK, NUM_DIGITS))
    start = rng.uniform(0, SPAN, size=(_BLOCK, NUM_DIGITS, 2))
    angle = rng.uniform(0, 2 * np.pi, size=(_BLOCK, NUM_DIGITS))
    return Motion(digit[:count], start[:count], angle[:count])


def corners(motion: Motion, seq_len: int) -> np.ndarray:
    """`[N, D, L, 2]` int top-left corners: STEP px per frame, reflected at 0 and SPAN."""
    velocity = STEP * np.stack([np.sin(motion.angle), np.cos(motion.angle)], axis=-1)
    start, move = motion.start.reshape(-1), velocity.reshape(-1)
    path = bounce(start, move, np.full(len(start), DIGIT_SIZE), seq_len)
    return np.rint(path).astype(np.int64).reshape(*motion.start.shape, seq_len).swapaxes(-1, -2)


def render(motion: Motion, seq_len: int) -> np.ndarray:
    """`[N, seq_len, 64, 64, 1]` uint8 frames: the digits pasted at their corners, max-combined."""
    count = len(motion.digit)
    frames = np.zeros((count, seq_len, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    flat = frames.reshape(-1)
    # Flat index of every digit pixel: frame offset + corner offset + the pixel's own offset.
    frame_start = np.arange(count * seq_len).reshape(count, seq_len) * IMAGE_SIZE**2
    pixel = np.arange(DIGIT_SIZE)[:, None] * IMAGE_SIZE + np.arange(DIGIT_SIZE)
    where = corners(motion, seq_len)
    digits = digit_bank()[motion.digit]
    for d in range(NUM_DIGITS):
        corner = frame_start + where[:, d, :, 0] * IMAGE_SIZE + where[:, d, :, 1]
        index = corner[..., None, None] + pixel
        flat[index] = np.maximum(flat[index], digits[:, d, None])
    return frames[..., None]


def write_moving_mnist(
    out: str | os.PathLike,
    seed: int = 0,
    count: int = DEFAULT_COUNT,
    seq_len: int = SEQ_LEN,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Generates `count` sequences into `out` (uint8, norm_scale 255); returns the map rows."""
    if count < 1 or seq_len < 2:
        raise UserError(f"need --count >= 1 and --seq-len >= 2, got {count} and {seq_len}")
    return write_generated(
        out, overwrite, (seq_len, IMAGE_SIZE, IMAGE_SIZE, 1), NORM_SCALE, shard_size, count,
        _BLOCK, "moving-mnist", lambda block, size: (render(draw(seed, block, size), seq_len), {}))
