"""`twinport data sprites`: a folder of `image_<character>_<pose>_<frame>.jpg` into frame pairs.

As the seed's sprites_gen: characters with id < 24 form the test split, the train pairs are
shuffled. Unlike its loop (which skips a 0-based first frame and fails past the last one),
every pair of frames (k, k+1) that both exist becomes a sequence.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.atomic import atomic_dir
from common.errors import UserError
from common.progress import progress
from data.schema import ShardRow
from data.writer import ShardWriter

NAME = re.compile(r"image_(\d+)_(\d+)_(\d+)\.jpg")
FIRST_TRAIN_CHARACTER = 24
NORM_SCALE = 255.0
_CHUNK = 512

Pair = tuple[Path, Path]


def find_pairs(src: Path) -> dict[str, list[Pair]]:
    """Consecutive-frame pairs per split, ordered by (character, pose, frame)."""
    if not src.is_dir():
        raise UserError(f"{src}: not a folder")
    frames: dict[tuple[int, int, int], Path] = {}
    for path in src.iterdir():
        match = NAME.fullmatch(path.name)
        if match and path.is_file():
            frames[tuple(int(g) for g in match.groups())] = path
    if not frames:
        raise UserError(f"{src}: no images named image_<character>_<pose>_<frame>.jpg")
    pairs: dict[str, list[Pair]] = {"train": [], "test": []}
    for character, pose, frame in sorted(frames):
        following = frames.get((character, pose, frame + 1))
        if following is not None:
            split = "test" if character < FIRST_TRAIN_CHARACTER else "train"
            pairs[split].append((frames[character, pose, frame], following))
    if not pairs["train"] and not pairs["test"]:
        raise UserError(f"{src}: no pose has two consecutive frames (k, k+1)")
    return pairs


def _read(path: Path, shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise UserError(f"{path}: cannot read image ({error})") from None
    if shape is not None and pixels.shape != shape:
        raise UserError(f"{path}: image is {pixels.shape}, expected {shape} like the others")
    return pixels


def write_sprites(
    src: str | os.PathLike,
    out: str | os.PathLike,
    seed: int = 0,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Imports the frame pairs into `out` (uint8, norm_scale 255); returns the map rows."""
    pairs = find_pairs(Path(src))
    pairs["train"] = [pairs["train"][i] for i in np.random.default_rng(seed).permutation(
        len(pairs["train"]))]
    frame_shape = _read((pairs["test"] + pairs["train"])[0][0], None).shape
    with atomic_dir(out, overwrite) as tmp:
        writer = ShardWriter(tmp, (2, *frame_shape), "uint8", NORM_SCALE, shard_size)
        total = len(pairs["train"]) + len(pairs["test"])
        with progress(total=total, desc="sprites", unit="seq") as bar:
            for split, split_pairs in pairs.items():
                for start in range(0, len(split_pairs), _CHUNK):
                    chunk = split_pairs[start : start + _CHUNK]
                    writer.add(split, np.stack(
                        [[_read(path, frame_shape) for path in pair] for pair in chunk]))
                    bar.update(len(chunk))
        return writer.close()
