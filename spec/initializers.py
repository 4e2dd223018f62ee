"""TF1's initialisers, framework-free: a variable's `init` string parsed into the distribution
TF draws for its TF shape, drawn the same way on either twin, and read by the initialisation
check (`parity.init_check`) as a closed form.

Names (`spec.layer.Variable.init`; an unknown one is a one-line error when the pair is built),
each as TF1 draws it:
- `zeros`, `ones`, `constant:V`: the value.
- `random_uniform:MIN,MAX`: U(MIN, MAX). `random_normal:[MEAN,]STDDEV`: N(MEAN, STDDEV).
- `truncated_normal:[MEAN,]STDDEV`: N(MEAN, STDDEV), values beyond 2 STDDEV redrawn.
- `variance_scaling:SCALE,MODE,DIST` (`variance_scaling_initializer`): n = fan_in, fan_out or
  their mean (MODE); DIST `uniform`: U(+-sqrt(3 SCALE / n)); `truncated_normal`, or `normal`
  (TF1's name for it): truncated, stddev sqrt(SCALE / n) / 0.8796; `untruncated_normal`:
  N(0, sqrt(SCALE / n)).
- `xavier_uniform`, `glorot_uniform` (contrib's `xavier_initializer()`,
  `glorot_uniform_initializer`): variance scaling 1, fan_avg, uniform. `glorot_normal`: 1,
  fan_avg, truncated_normal. `xavier_normal` (contrib's `xavier_initializer(uniform=False)`,
  its own rule): truncated, stddev sqrt(1.3 / fan_avg).
- `he_uniform`, `he_normal`: 2, fan_in; `lecun_uniform`, `lecun_normal`: 1, fan_in (uniform /
  truncated_normal).
- `orthogonal[:GAIN]`: Q of the QR of a standard normal [prod(shape[:-1]), shape[-1]] matrix
  (transposed when wider than tall), each column's sign by R's diagonal, times GAIN.

Fans come from the TF shape (TF1's `_compute_fans`): a vector [n] has n and n, a matrix
[in, out] in and out, a kernel [..., in, out] the receptive field (the product of the leading
axes) times in and out. A conv2d_transpose kernel [kh, kw, out, in] gets TF's fans of that
shape too, so a twin whose layout differs draws in the TF shape and transposes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.errors import UserError

TRUNCATION = 2.0
# The stddev of N(0, 1) truncated to [-2, 2]: variance_scaling divides by it.
TRUNCATED_STD = 0.87962566103423978


@dataclass(frozen=True)
class Distribution:
    """What TF draws: `kind` "uniform" U(a, b), "normal" N(a, b), "truncated_normal" N(a, b)
    redrawn beyond a +- 2 b, "constant" a, or "orthogonal" with gain a; `name` for messages."""

    kind: str
    a: float
    b: float = 0.0
    name: str = ""


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a TF-shaped variable, as TF1's `_compute_fans`."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


SCALED = {  # name: (scale, mode, distribution)
    "xavier_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
MODES = ("fan_in", "fan_out", "fan_avg")
SCALED_DISTRIBUTIONS = ("uniform", "truncated_normal", "normal", "untruncated_normal")
NAMES = ("zeros", "ones", "constant", "random_uniform", "random_normal", "truncated_normal",
         "variance_scaling", "xavier_normal", "orthogonal", *SCALED)


def variance_scaling(shape: tuple[int, ...], scale: float, mode: str, distribution: str,
                     name: str) -> Distribution:
    fan_in, fan_out = fans(shape)
    n = max(1.0, {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode])
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        return Distribution("uniform", -limit, limit, name)
    if distribution == "untruncated_normal":
        return Distribution("normal", 0.0, math.sqrt(scale / n), name)
    return Distribution("truncated_normal", 0.0, math.sqrt(scale / n) / TRUNCATED_STD, name)


def _numbers(init: str, argument: str, count: tuple[int, ...]) -> list[float]:
    try:
        values = [float(part) for part in argument.split(",")] if argument else []
    except ValueError:
        values = None
    if values is None or len(values) not in count:
        raise UserError(f"initialiser {init!r}: expected {' or '.join(map(str, count))} "
                        "number(s) after ':'")
    return values


def parse(init: str, shape: tuple[int, ...], variable: str = "") -> Distribution | None:
    """The distribution of `init` for a variable of TF shape `shape`; None for "" (not
    checked, zeros). An unknown name or bad arguments: a UserError naming the variable."""
    if not init:
        return None
    kind, _, argument = init.partition(":")
    try:
        return _parse(init, kind, argument, tuple(shape))
    except UserError as error:
        where = f"variable {variable}: " if variable else ""
        raise UserError(f"{where}{error}") from None


def _parse(init: str, kind: str, argument: str, shape: tuple[int, ...]) -> Distribution:
    if kind in ("zeros", "ones") and not argument:
        return Distribution("constant", 1.0 if kind == "ones" else 0.0, name=f"constant {kind}")
    if kind == "constant":
        (value,) = _numbers(init, argument, (1,))
        return Distribution("constant", value, name=f"constant {value:g}")
    if kind == "random_uniform":
        low, high = _numbers(init, argument, (2,))
        return Distribution("uniform", low, high, f"uniform({low:g}, {high:g})")
    if kind in ("random_normal", "truncated_normal"):
        values = _numbers(init, argument, (1, 2))
        mean, stddev = values if len(values) == 2 else (0.0, values[0])
        return Distribution("normal" if kind == "random_normal" else "truncated_normal", mean,
                            stddev, f"{kind.replace('_', '-')}({stddev:g})")
    if kind in SCALED and not argument:
        scale, mode, distribution = SCALED[kind]
        return variance_scaling(shape, scale, mode, distribution, kind.replace("_", "-"))
    if kind == "xavier_normal" and not argument:
        fan_in, fan_out = fans(shape)
        return Distribution("truncated_normal", 0.0, math.sqrt(1.3 * 2 / (fan_in + fan_out)),
                            "xavier-normal")
    if kind == "variance_scaling":
        parts = argument.split(",")
        if (len(parts) != 3 or parts[1] not in MODES or parts[2] not in SCALED_DISTRIBUTIONS):
            raise UserError(f"initialiser {init!r}: expected variance_scaling:SCALE,MODE,DIST "
                            f"(MODE one of {', '.join(MODES)}; DIST one of "
                            f"{', '.join(SCALED_DISTRIBUTIONS)})")
        (scale,) = _numbers(init, parts[0], (1,))
        return variance_scaling(shape, scale, parts[1], parts[2], init)
    if kind == "orthogonal":
        (gain,) = _numbers(init, argument, (1,)) if argument else (1.0,)
        if len(shape) < 2:
            raise UserError(f"initialiser {init!r}: orthogonal needs a shape of rank 2 or "
                            f"more, not {list(shape)}")
        return Distribution("orthogonal", gain, name=f"orthogonal({gain:g})")
    known = ", ".join(NAMES)
    raise UserError(f"unknown initialiser {init!r} (known: {known}; spec/initializers.py)")


@dataclass(frozen=True)
class Source:
    """A generator's draws in a given shape: `uniform(shape, low, high)`, `normal(shape, mean,
    stddev)` and `truncated_normal(shape, mean, stddev)` (redrawn beyond 2 stddev)."""

    uniform: Callable[[tuple[int, ...], float, float], np.ndarray]
    normal: Callable[[tuple[int, ...], float, float], np.ndarray]
    truncated_normal: Callable[[tuple[int, ...], float, float], np.ndarray]


def numpy_source(rng: np.random.Generator) -> Source:
    def truncated(shape: tuple[int, ...], mean: float, stddev: float) -> np.ndarray:
        values = rng.standard_normal(shape)
        outside = np.abs(values) > TRUNCATION
        while outside.any():
            values[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > TRUNCATION
        return mean + stddev * values

    return Source(lambda shape, low, high: rng.uniform(low, high, shape),
                  lambda shape, mean, stddev: rng.normal(mean, stddev, shape), truncated)


def draw(distribution: Distribution | None, shape: tuple[int, ...], source: Source
         ) -> np.ndarray:
    """One draw in TF shape, float32 (zeros for None)."""
    d = distribution
    if d is None:
        return np.zeros(shape, np.float32)
    if d.kind == "constant":
        return np.full(shape, d.a, np.float32)
    if d.kind == "uniform":
        values = source.uniform(shape, d.a, d.b)
    elif d.kind == "normal":
        values = source.normal(shape, d.a, d.b)
    elif d.kind == "truncated_normal":
        values = source.truncated_normal(shape, d.a, d.b)
    else:
        values = orthogonal(shape, d.a, source)
    return np.asarray(values, np.float32)


def orthogonal(shape: tuple[int, ...], gain: float, source: Source) -> np.ndarray:
    """TF1's `orthogonal_initializer`: the [prod(shape[:-1]), shape[-1]] matrix (its
    transpose when it has fewer rows than columns) of a standard normal draw, Q of its QR
    with each column's sign by R's diagonal, times gain."""
    rows, cols = math.prod(shape[:-1]), shape[-1]
    flat = (cols, rows) if rows < cols else (rows, cols)
    q, r = np.linalg.qr(np.asarray(source.normal(flat, 0.0, 1.0), np.float64))
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)
