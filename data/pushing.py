"""`twinport data pushing`: a synthetic pushing set for action-conditioned video prediction.

A pusher (a dark disc) moves over a 64x64x3 table on a smooth random walk and pushes 1-3
coloured squares and discs. Per frame t, the **state** is the pusher's centre (row, col) in
pixels and the **action** is its commanded motion (d_row, d_col) from frame t to t + 1, so
`state[t + 1] = state[t] + action[t]`; the last frame's action is the next step of the walk.
Pushing rule: an object that overlaps the pusher's new position is displaced by the pusher's
motion, then kept inside the table; objects do not push each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from common.errors import UserError
from data.moving_objects import bounce
from data.schema import ShardRow
from data.writer import write_generated

IMAGE_SIZE = 64
SEQ_LEN = 12
MIN_SEQ_LEN = 10
DEFAULT_COUNT = 2_000
MAX_OBJECTS = 3
PUSHER_RADIUS = 4
OBJECT_RADIUS = (4, 6)  # half-size of a square, radius of a disc, inclusive range
MAX_SPEED = 3.0  # px per frame
SMOOTHING = 0.9  # velocity[t + 1] = SMOOTHING * velocity[t] + noise
NOISE = 0.5
NORM_SCALE = 255.0
START_DISTANCE = (12.0, 28.0)  # the pusher starts this far from object 0's centre
TABLE = np.array([196, 176, 140], np.uint8)
PUSHER = np.array([40, 40, 48], np.uint8)
PALETTE = np.array([[220, 40, 40], [40, 160, 60], [50, 80, 220], [235, 200, 30]], np.uint8)
_BLOCK = 256  # sequences per random stream and per rendered chunk


@dataclass(frozen=True)
class Scene:
    """Per sequence: `start` `[N, 2]` (START_DISTANCE from object 0) and `noise` `[N, L, 2]`
    of the pusher's walk, whose first velocity points at object 0; per object `[N, K]`:
    `active`, `disc` (else square), `radius`, `colour` (PALETTE index), `centre` `[N, K, 2]`.
    """

    start: np.ndarray
    noise: np.ndarray
    active: np.ndarray
    disc: np.ndarray
    radius: np.ndarray
    colour: np.ndarray
    centre: np.ndarray

    def __getitem__(self, index: slice) -> Scene:
        return Scene(*(getattr(self, f.name)[index] for f in fields(self)))


def draw(seed: int, block: int, seq_len: int = SEQ_LEN, count: int = _BLOCK) -> Scene:
    """The first `count` scenes of block `block` (of `_BLOCK`), from `default_rng([seed,
    block])`; a whole block is always drawn, so a smaller count gives a prefix."""
    rng = np.random.default_rng([seed, block])
    shape = (_BLOCK, MAX_OBJECTS)
    radius = rng.integers(OBJECT_RADIUS[0], OBJECT_RADIUS[1] + 1, size=shape)
    centre = rng.uniform(radius[..., None], IMAGE_SIZE - 1 - radius[..., None])
    angle = rng.uniform(0, 2 * np.pi, size=_BLOCK)
    distance = rng.uniform(*START_DISTANCE, size=(_BLOCK, 1))
    start = centre[:, 0] + distance * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    scene = Scene(
        start=np.clip(start, PUSHER_RADIUS, IMAGE_SIZE - 1 - PUSHER_RADIUS),
        noise=rng.normal(0, NOISE, size=(_BLOCK, seq_len, 2)),
        active=np.arange(MAX_OBJECTS) < rng.integers(1, MAX_OBJECTS + 1, size=(_BLOCK, 1)),
        disc=rng.random(shape) < 0.5,
        radius=radius,
        colour=rng.integers(0, len(PALETTE), size=shape),
        centre=centre,
    )
    return scene[:count]


def walk(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(states `[N, L, 2]`, actions `[N, L, 2]`) float32: the pusher's smoothed random walk,
    at most MAX_SPEED px per frame, reflected at the table's edges."""
    count, seq_len, _ = scene.noise.shape
    heading = scene.centre[:, 0] - scene.start
    velocity = MAX_SPEED * heading / np.maximum(np.linalg.norm(heading, axis=1, keepdims=True),
                                                1e-6)
    steps = np.empty_like(scene.noise)
    for t in range(seq_len):
        velocity = SMOOTHING * velocity + scene.noise[:, t]
        speed = np.linalg.norm(velocity, axis=1, keepdims=True)
        velocity *= np.minimum(1, MAX_SPEED / np.maximum(speed, 1e-6))
        steps[:, t] = velocity
    # Unreflected path of the disc's top-left corner, then folded into the table: `bounce`
    # with no motion reflects each point into [0, 64 - size], size 2 * radius + 1 pixels.
    corner = scene.start[:, None] - PUSHER_RADIUS + np.concatenate(
        [np.zeros((count, 1, 2)), np.cumsum(steps, axis=1)], axis=1)  # [N, L + 1, 2]
    flat = corner.reshape(-1)
    folded = bounce(flat, np.zeros_like(flat), np.full(len(flat), 2 * PUSHER_RADIUS + 1), 1)
    path = (folded.reshape(corner.shape) + PUSHER_RADIUS).astype(np.float32)
    return path[:, :-1], np.diff(path, axis=1)


def push(scene: Scene, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """`[N, L, K, 2]` object centres: at each step an active object overlapping the pusher's
    new position moves by the action, then is clipped to stay inside the table."""
    seq_len = states.shape[1]
    centres = np.empty((len(states), seq_len, MAX_OBJECTS, 2), np.float32)
    centres[:, 0] = scene.centre
    low = scene.radius[..., None]
    for t in range(seq_len - 1):
        pusher = (states[:, t] + actions[:, t])[:, None]  # [N, 1, 2]
        touching = overlaps(scene, centres[:, t], pusher) & scene.active
        moved = centres[:, t] + touching[..., None] * actions[:, t, None]
        centres[:, t + 1] = np.clip(moved, low, IMAGE_SIZE - 1 - low)
    return centres


def overlaps(scene: Scene, centres: np.ndarray, pusher: np.ndarray) -> np.ndarray:
    """`[N, K]`: the pusher disc at `pusher` `[N, 1, 2]` meets each object at `centres`."""
    offset = np.abs(pusher - centres)
    radius = scene.radius.astype(np.float32)
    disc = np.hypot(offset[..., 0], offset[..., 1]) < radius + PUSHER_RADIUS
    # Square: the distance from the pusher's centre to the square is below its radius.
    gap = np.maximum(offset - radius[..., None], 0)
    square = np.hypot(gap[..., 0], gap[..., 1]) < PUSHER_RADIUS
    return np.where(scene.disc, disc, square)


def shape_masks(centres: np.ndarray, radius: np.ndarray, disc: np.ndarray) -> np.ndarray:
    """`[..., 64, 64]` bool: squares or discs at `centres` `[..., 2]` with `radius` `[...]`."""
    pixels = np.arange(IMAGE_SIZE, dtype=np.float32)
    dr = np.abs(pixels - centres[..., 0, None])[..., :, None]
    dc = np.abs(pixels - centres[..., 1, None])[..., None, :]
    r = radius[..., None, None]
    return np.where(disc[..., None, None], dr**2 + dc**2 <= r**2, (dr <= r) & (dc <= r))


def render(scene: Scene, states: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """`[N, L, 64, 64, 3]` uint8: the table, the active objects in order, the pusher on top."""
    count, seq_len = states.shape[:2]
    frames = np.broadcast_to(TABLE, (count, seq_len, IMAGE_SIZE, IMAGE_SIZE, 3)).copy()
    still = (count, seq_len)
    for k in range(MAX_OBJECTS):
        mask = shape_masks(centres[:, :, k], np.broadcast_to(scene.radius[:, None, k], still),
                           np.broadcast_to(scene.disc[:, None, k], still))
        mask &= scene.active[:, None, k, None, None]
        colour = PALETTE[scene.colour[:, k]][:, None, None, None]
        frames = np.where(mask[..., None], colour, frames)
    pusher = shape_masks(states, np.full(still, PUSHER_RADIUS), np.ones(still, bool))
    return np.where(pusher[..., None], PUSHER, frames)


def simulate(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames, actions, states) of `scene`."""
    states, actions = walk(scene)
    return render(scene, states, push(scene, states, actions)), actions, states


def write_pushing(
    out: str | os.PathLike,
    seed: int = 0,
    count: int = DEFAULT_COUNT,
    seq_len: int = SEQ_LEN,
    overwrite: bool = False,
    shard_size: int | None = None,
) -> list[ShardRow]:
    """Generates `count` sequences into `out`: uint8 frames (norm_scale 255) with float32
    `[N, L, 2]` actions and states; returns the map rows."""
    if count < 1 or seq_len < MIN_SEQ_LEN:
        raise UserError(f"need --count >= 1 and --seq-len >= {MIN_SEQ_LEN}, "
                        f"got {count} and {seq_len}")

    def make(block: int, size: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        frames, actions, states = simulate(draw(seed, block, seq_len, size))
        return frames, {"actions": actions, "states": states}

    return write_generated(out, overwrite, (seq_len, IMAGE_SIZE, IMAGE_SIZE, 3), NORM_SCALE,
                           shard_size, count, _BLOCK, "pushing", make,
                           vector_dims={"actions": 2, "states": 2})
