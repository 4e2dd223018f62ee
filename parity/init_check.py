"""Each backend's OWN initial weights against the closed form of TF's initialisers.

The parity run transfers the reference's weights into the port, so a port whose initialisers
differ (Chainer's default LeCunNormal for xavier-uniform, a plain normal for the truncated
one) passes every other section and only shows when someone trains it from scratch. This
check looks at the weights each side draws itself, one variable at a time, against the
initialiser the spec names for it (`spec.layer.Variable.init`, `spec.initializers`):

* uniform U(a, b) (`xavier_uniform`, `he_uniform`, `random_uniform:a,b`, ...): mean (a + b) / 2,
  std (b - a) / sqrt(12), kurtosis 1.8, no |w| above max(|a|, |b|);
* truncated normal of stddev S (`truncated_normal:S`, `he_normal`, `glorot_normal`, ...):
  std 0.8796 * S, no |w| beyond 2 S of the mean; a normal N(m, S): std S, kurtosis 3;
* constants exactly; `orthogonal`: Q^T Q = gain^2 I to float32 rounding; "" is not checked.

Statistics: z_std = (std / expected - 1) / SE, SE = sqrt((kurtosis - 1) / (4 n)) (the sample
std's relative standard error), and z_of_mean = mean / (expected std / sqrt(n)). A variable fails
when |z| > Z_MAX on either side, a value lies beyond the distribution's bound, or a constant
is not exact. Z_MAX was measured (`twinport parity init-z --seeds 40`): see its value.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity.diff import FAIL, PASS, TensorDiff, fmt
from spec import initializers
from spec.initializers import TRUNCATION
from spec.layer import Layer, Variable
from spec.optimizers import Optimizer
from spec.registry import get_pair
from spec.weights import STEP

# Worst |z| over 40 seeds x 65 random variables x 2 backends, tiny and paper: 3.6 (tiny) and
# 3.4 (paper), as a N(0, 1) statistic over ~5000 draws would give. 6 leaves room for more
# seeds and presets; the mutants are at 9 to several hundred, or break a bound.
Z_MAX = 6.0
INIT_HINT = "initialiser"  # the hint's name, scored by `twinport pitfalls --check`
OPTIMIZER_HINT = "optimizer_state"
BOUND_SLACK = 1e-6  # float32 rounding of the bound itself
ORTHOGONAL_TOLERANCE = 1e-4  # float32 rounding of Q^T Q over a few hundred terms, with room


def _truncated_normal_moments(a: float) -> tuple[float, float]:
    """(std, kurtosis) of N(0, 1) truncated to [-a, a]."""
    mass = math.erf(a / math.sqrt(2.0))
    density = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    m2 = 1 - 2 * a * density / mass
    m4 = 3 * m2 - 2 * a ** 3 * density / mass
    return math.sqrt(m2), m4 / m2 ** 2


TRUNCATED_STD, TRUNCATED_KURTOSIS = _truncated_normal_moments(TRUNCATION)


@dataclass(frozen=True)
class Expected:
    """One variable's initial distribution: `name` (for messages), mean, std, kurtosis and
    bound of |w| for a random one; `value` for a constant; `gain` for an orthogonal matrix
    (checked in closed form: its columns, or rows when wider, orthonormal times gain)."""

    name: str
    std: float = 0.0
    kurtosis: float = 0.0
    bound: float = 0.0
    value: float | None = None
    mean: float = 0.0
    gain: float | None = None


def expected_distribution(variable: Variable) -> Expected | None:
    """What TF draws for `variable` (`spec.initializers`); None when not checked."""
    d = initializers.parse(variable.init, variable.shape, variable.name)
    if d is None:
        return None
    if d.kind == "constant":
        return Expected(d.name, value=d.a)
    if d.kind == "orthogonal":
        return Expected(d.name, gain=d.a)
    if d.kind == "uniform":
        return Expected(f"{d.name}({fmt(d.a)}, {fmt(d.b)})", (d.b - d.a) / math.sqrt(12), 1.8,
                        max(abs(d.a), abs(d.b)), mean=(d.a + d.b) / 2)
    if d.kind == "normal":
        return Expected(f"{d.name}({fmt(d.b)})", d.b, 3.0, math.inf, mean=d.a)
    return Expected(f"{d.name}({fmt(d.b)})", d.b * TRUNCATED_STD, TRUNCATED_KURTOSIS,
                    abs(d.a) + TRUNCATION * d.b, mean=d.a)


def orthogonality_error(values: np.ndarray, gain: float) -> float:
    """The largest |entry| of Q^T Q / gain^2 - I (Q the [prod(shape[:-1]), shape[-1]] matrix,
    or its transpose when wider than tall)."""
    q = np.asarray(values, np.float64).reshape(-1, values.shape[-1])
    if q.shape[0] < q.shape[1]:
        q = q.T
    return float(np.abs(q.T @ q / gain ** 2 - np.eye(q.shape[1])).max())


@dataclass(frozen=True)
class SideStats:
    """One side's draw of one variable against its Expected."""

    mean: float
    std: float
    max_abs: float
    z_std: float
    z_of_mean: float
    problems: tuple[str, ...]

    @property
    def z(self) -> float:
        return max(abs(self.z_std), abs(self.z_of_mean))


def side_stats(values: np.ndarray, expected: Expected, z_max: float = Z_MAX) -> SideStats:
    """Mean, std, max |w|, the z statistics and what is wrong (empty when nothing)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    mean, std, top = float(x.mean()), float(x.std()), float(np.abs(x).max())
    if expected.value is not None:
        wrong = int(np.count_nonzero(x != np.float32(expected.value)))  # stored as float32
        problems = (f"{wrong} of {x.size} values are not {expected.value:g}",) if wrong else ()
        return SideStats(mean, std, top, 0.0, 0.0, problems)
    if expected.gain is not None:
        error = orthogonality_error(np.asarray(values), expected.gain)
        problems = ((f"not orthogonal: Q^T Q / gain^2 differs from I by up to {fmt(error)}",)
                    if error > ORTHOGONAL_TOLERANCE else ())
        return SideStats(mean, std, top, 0.0, 0.0, problems)
    relative_se = math.sqrt((expected.kurtosis - 1) / (4 * x.size))
    z_std = (std / expected.std - 1) / relative_se
    z_of_mean = (mean - expected.mean) / (expected.std / math.sqrt(x.size))
    problems = []
    if abs(z_std) > z_max:
        problems.append(f"std {fmt(std)} = {fmt(std / expected.std)} x {fmt(expected.std)} "
                        f"(z {z_std:+.1f})")
    if abs(z_of_mean) > z_max:
        problems.append(f"mean {fmt(mean)} (z {z_of_mean:+.1f})")
    if top > expected.bound * (1 + BOUND_SLACK):
        problems.append(f"|w| up to {fmt(top)} > bound {fmt(expected.bound)}")
    return SideStats(mean, std, top, z_std, z_of_mean, tuple(problems))


def optimizer_start_diffs(state: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray],
                          optimizer: Optimizer, settings: Mapping[str, Any]
                          ) -> list[TensorDiff]:
    """The port's OWN optimizer before any step against the pair's: each setting it runs
    with (`optimizer/{setting}`: Chainer's RMSprop decay 0.99 where TF1's is 0.9 changes a
    synced step's mean square by less than the section's tolerance), and where each slot of
    its fresh state starts, given the port's own weights (Chainer's RMSprop: the mean square
    from zeros, not TF1's ones, which the synced steps never see: they hand the port TF's
    state). Exact, stat "init"."""
    out = []
    for key, want in optimizer.settings.items():
        found = settings.get(key)
        same = found == want
        out.append(TensorDiff(
            name=f"optimizer/{key}", status=PASS if same else FAIL, ref_shape=(),
            port_shape=(), stat="init", n_elements=1, note=f"{key}: TF {want!r}, port "
            f"{found!r}", suggestion=None if same else (
                f"the port's {optimizer.kind.tf_name} {key} is {found!r}, the pair's "
                f"{want!r}: {optimizer.kind.advice}"),
            hint=None if same else OPTIMIZER_HINT))
    for name, value in state.items():
        if name == STEP:
            continue
        variable, _, slot = name.rpartition("/")
        want = optimizer.first_value(slot, weights[variable])
        found = np.asarray(value, np.float32)
        same = found.shape == want.shape and np.array_equal(found, want)
        out.append(TensorDiff(
            name=name, status=PASS if same else FAIL, ref_shape=want.shape,
            port_shape=found.shape, stat="init", n_elements=int(want.size),
            abs_stat=0.0 if same else float(np.abs(found - want).max()),
            note=f"a fresh optimizer's {slot}",
            suggestion=None if same else (
                f"the port's optimizer starts {name} at {fmt(float(found.flat[0]))}, "
                f"{optimizer.kind.tf_name} at {fmt(float(want.flat[0]))}: "
                f"{optimizer.kind.advice}"),
            hint=None if same else OPTIMIZER_HINT))
    return out


def init_diffs(reference: Mapping[str, np.ndarray], port: Mapping[str, np.ndarray],
               layers: list[Layer], z_max: float = Z_MAX) -> list[TensorDiff]:
    """One TensorDiff per variable with an initialiser (stat "init"): fails when either
    side's own draw is not TF's. abs_stat is the port's worst |z| (atol: z_max), rel_stat its
    |std / expected - 1|; `note` gives both sides' figures, `suggestion` what is wrong.
    """
    out = []
    for layer in layers:
        for variable in layer.variables:
            name, shape, expected = variable.name, variable.shape, expected_distribution(variable)
            if expected is None:
                continue
            sides = {side: side_stats(values[name], expected, z_max)
                     for side, values in (("reference", reference), ("port", port))}
            prt = sides["port"]
            problems = [f"{side}: {'; '.join(stats.problems)}"
                        for side, stats in sides.items() if stats.problems]
            note = "; ".join(f"{side} mean {fmt(s.mean)} std {fmt(s.std)} max|w| {fmt(s.max_abs)}"
                             for side, s in sides.items())
            out.append(TensorDiff(
                name=name, status=FAIL if problems else PASS, ref_shape=tuple(shape),
                port_shape=tuple(np.shape(port[name])), stat="init", atol=z_max,
                n_elements=int(np.prod(shape)), abs_stat=prt.z,
                rel_stat=abs(prt.std / expected.std - 1) if expected.std else None,
                ref_max_abs=sides["reference"].max_abs, port_max_abs=prt.max_abs,
                note=f"expected {expected.name}; {note}",
                suggestion=(f"not TF's {expected.name}: " + "; ".join(problems)
                            if problems else None),
                hint=INIT_HINT if problems else None))
    return out


def measure(model: str, preset_name: str, seeds: int) -> dict[str, tuple[float, str]]:
    """The worst |z| of each backend's own draws over `seeds` seeds: {backend: (z, where)}."""
    pair = get_pair(model)
    layers = pair.build(pair.get_preset(preset_name))
    worst = {"tf": (0.0, ""), "chainer": (0.0, "")}
    for seed in range(seeds):
        for backend in worst:
            cls = pair.twin_class(backend)
            weights = cls(preset_name, seed=seed).get_weights()
            for diff in init_diffs(weights, weights, layers, z_max=math.inf):
                if diff.max_abs > worst[backend][0]:
                    worst[backend] = (diff.max_abs, f"{diff.name} seed {seed}")
    return worst


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seeds", type=int, default=40)


def run(args: argparse.Namespace) -> int:
    for backend, (z, where) in measure(args.model, args.preset, args.seeds).items():
        print(f"{backend:8s} worst |z| {z:.2f} at {where} (preset {args.preset}, "
              f"{args.seeds} seeds; Z_MAX {Z_MAX})")

    return 0
