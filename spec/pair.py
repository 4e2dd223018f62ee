"""A twin pair's definition: everything both twins and the harness must agree on, in one record.

The harness (`parity/`) reads a pair only through this record and the port interface
(`spec.twin.TwinModel`), so any network defined this way gets every section, report and check.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import UserError
from data.dataset import WHOLE, Part
from spec.layer import Layer
from spec.layout import Activation
from spec.optimizers import Optimizer
from spec.pitfall import Pitfall


@dataclass(frozen=True)
class InputSpec:
    """One named input, TF layout, batch axis first.

    axes: a label per axis after the batch ("seq_len", "height", ...), for messages.
    shape: the size of each of those axes, None where any size >= `minimum` fits.
    minimum: the smallest size of each axis (default 1).
    differentiable: the harness compares the loss's gradient with respect to it.
    dither: noise in [0, dither) added to it by the harness (breaks exact ties of synthetic
        data; see `parity.inputs`).
    value_range: the values a command's input file may hold (None: any finite value).
    default: the value `twinport predict` fills in when its input file lacks this input
        (None: the file must have it).
    layout: how Chainer takes it (`spec.layout.Activation`, as a layer's output).
    """

    name: str
    axes: tuple[str, ...]
    shape: tuple[int | None, ...]
    minimum: tuple[int, ...] | None = None
    dtype: str = "float32"
    differentiable: bool = True
    dither: float = 0.0
    value_range: tuple[float, float] | None = (0.0, 1.0)
    default: float | None = None
    layout: Activation = Activation.FRAMES

    def problem(self, shape: tuple[int, ...]) -> str | None:
        """Why an array of `shape` does not fit, or None."""
        minimum = self.minimum or (1,) * len(self.shape)
        fits = len(shape) == len(self.shape) + 1 and all(
            (want is None or got == want) and got >= least
            for got, want, least in zip(shape[1:], self.shape, minimum, strict=True))
        if fits:
            return None
        labels = [str(want) if want is not None else
                  (f"{label} >= {least}" if least > 1 else label)
                  for label, want, least in zip(self.axes, self.shape, minimum, strict=True)]
        return f"{self.name} must be [batch, {', '.join(labels)}], got {list(shape)}"


@dataclass(frozen=True)
class Autoregressive:
    """An autoregressive tap: its value at pixel (h, w) (axes -3, -2 of the tap, TF layout)
    may depend on `input`[:, *index] only at the pixels before (h, w) in raster order (the
    VPN's logits of step t and the frame they predict, fed as the PixelCNN's input).

    `given`: the taps that do not change while the input is generated pixel by pixel (the
    VPN's encoder state, through its decoder's unmasked block): sampling computes them once
    and runs only the layers between them (and the input) and the tap per pixel
    (`parity.sampling.chain_names`); empty, the whole graph reads the input per pixel."""

    tap: str
    input: str
    index: tuple[int, ...]
    given: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoiseSpec:
    """Noise both twins must share, drawn by the harness (or by a model given none).

    shape: the array's shape from the preset and the inputs' shapes.
    draw: "normal" (standard normal) or "uniform" ([0, 1): coin flips compare it with a
        probability).
    """

    name: str
    shape: Callable[[Any, Mapping[str, tuple[int, ...]]], tuple[int, ...]]
    draw: str = "normal"


def draw_noise(noise: tuple[NoiseSpec, ...], preset: Any,
               input_shapes: Mapping[str, tuple[int, ...]],
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every noise array of a pair, float32, drawn from `rng` in declared order."""
    out = {}
    for spec in noise:
        shape = spec.shape(preset, input_shapes)
        if spec.draw == "normal":
            out[spec.name] = rng.standard_normal(shape, dtype=np.float32)
        else:
            out[spec.name] = rng.random(shape, dtype=np.float32)
    return out


WORKER_GRADIENTS = ("mean", "sum")
"""How a data-parallel run joins its workers' gradients (`worker_gradients`)."""


def worker_gradients(preset: Any) -> str:
    """The preset's `worker_gradients` field, else "mean": the workers' gradients averaged,
    which gives a one-process run's gradient of the global batch when the pair's loss is a
    mean over the batch; a loss summed over the batch (the E3D-LSTM's) needs "sum"."""
    return getattr(preset, "worker_gradients", "mean")


def noise_at(noise: tuple[NoiseSpec, ...], preset: Any,
             input_shapes: Mapping[str, tuple[int, ...]], seed: int, step: int,
             part: Part = WHOLE) -> dict[str, np.ndarray]:
    """The noise of global step `step` of a run seeded `seed`: a pure function of both, the
    same on every backend and machine, so runs resume exactly. With a `part` (`input_shapes`
    then that worker's share of the batch), the worker's rows of the global batch's noise: each
    sample's noise is the same whatever the number of workers (noise arrays are batch-major,
    the same number of rows for every sample)."""
    rng = np.random.default_rng([seed, step])
    if part.workers == 1:
        return draw_noise(noise, preset, input_shapes, rng)
    whole = {name: (shape[0] * part.workers, *shape[1:]) for name, shape in input_shapes.items()}
    drawn = draw_noise(noise, preset, whole, rng)
    return {name: value[part.rows(len(value))] for name, value in drawn.items()}


@dataclass(frozen=True)
class TwinPair:
    """One network as a twin pair.

    presets: name -> the pair's preset object (its sizes); `build(preset)` its layer graph.
    inputs / noise: from a preset, the named inputs and the named noise of a forward.
    loss: the tap every gradient and training step differentiates.
    losses: step-row label -> scalar tap, reported and compared at every training step.
    batch_sizes: (preset, input shapes) -> the batch size of each `Layer.batch` label, where
        the graph restacks the batch (default: every tap has the inputs' batch).
    named_taps: attribute of `ForwardResult` -> tap ("output", ...).
    step_outputs: train_step result key -> tap, returned as arrays (e.g. a latent's moments).
    twins: backend ("tf", "chainer") -> "module:Class" (or the class) of that twin.
    batches: (data folder, split, batch size, seed, start_step=, preset=) -> an endless
        iterator of input dicts (`stream` calls it); for a data-parallel run (`twinport train
        --workers N`) it also takes `part=` (`data.dataset.Part`: that worker's rows of each
        batch, `Dataset.batches(part=)`); `check_data(folder, split, preset, batch size)`
        refuses, in one line, data the preset cannot read.
    sample: (preset, inputs of batch 0, reference taps, port taps; all TF layout) -> named
        images in [0, 1] for the report (HxWx3 in colour, HxW or HxWx1 in grey; the
        `tf_prediction` and `port_prediction` ones get a |TF - port| panel), or None; optional.
        sample_caption: what the report says under them.
    eval_overrides: (preset, the checkpoint's means of the step outputs, input shapes) -> the
        taps `twinport eval` fixes (cross_conv: its empirical z); optional.
    prediction: (preset, tap name -> that tap in TF layout) -> what `twinport predict`
        writes; default the `output` named tap.
    metrics: (preset, one batch's inputs, its prediction; TF layout) -> named arrays, which
        `twinport eval` averages over its batches and writes beside the losses (e3d_lstm:
        trainer.test's per-frame MSE and PSNR); optional.
    default_data / make_data: the default dataset folder and the command that makes it.
    pitfalls / mutants / suite: the catalogue of porting mistakes, the module of their mutants
        and the parity settings the mutation suite runs them in (`parity.mutation`).
    original: how to run the original TF1 code the reference re-implements and where its
        tensors are (`spec.original.OriginalCode`; `twinport parity original`), or None.
    autoregressive: (preset) -> the taps whose pixels may see their input only before them
        in raster order (`Autoregressive`); the causality and sampling sections check both
        twins, `twinport sample` generates with them.
    bench_preset: the preset `twinport bench` times by default and `make bench` (`--all`)
        reports: the paper's or the seed's, else the largest a 2-core run finishes in minutes;
        empty: the first of `presets`.
    """

    name: str
    title: str
    presets: Mapping[str, Any]
    build: Callable[[Any], list[Layer]]
    inputs: Callable[[Any], tuple[InputSpec, ...]]
    noise: Callable[[Any], tuple[NoiseSpec, ...]]
    loss: str
    losses: Mapping[str, str]
    optimizer: Optimizer
    twins: Mapping[str, Any]
    batches: Callable[..., Iterator[dict[str, np.ndarray]]]
    check_data: Callable[[str, str, Any, int], None] | None = None
    batch_sizes: Callable[[Any, Mapping[str, tuple[int, ...]]], Mapping[str, int]] | None = None
    named_taps: Mapping[str, str] = field(default_factory=dict)
    step_outputs: Mapping[str, str] = field(default_factory=dict)
    sample: Callable[[Any, Mapping, Mapping, Mapping], dict | None] | None = None
    sample_caption: str = ""
    eval_overrides: Callable[[Any, Mapping[str, np.ndarray], Mapping[str, tuple[int, ...]]],
                             dict[str, np.ndarray]] | None = None
    prediction: Callable[[Any, Callable[[str], np.ndarray]], np.ndarray] | None = None
    metrics: Callable[[Any, Mapping[str, np.ndarray], np.ndarray],
                      Mapping[str, np.ndarray]] | None = None
    default_data: str = ""
    make_data: str = ""
    pitfalls: tuple[Pitfall, ...] = ()
    mutants: str = ""
    suite: Mapping[str, Any] = field(default_factory=dict)
    original: Any = None
    autoregressive: Callable[[Any], tuple[Autoregressive, ...]] | None = None
    bench_preset: str = ""

    @property
    def benchmarked_preset(self) -> str:
        """`bench_preset`, else the first preset's name."""
        return self.bench_preset or next(iter(self.presets))

    def get_preset(self, preset: Any) -> Any:
        """A preset by name (a UserError listing the known ones), or the preset itself."""
        if not isinstance(preset, str):
            return preset
        try:
            return self.presets[preset]
        except KeyError:
            raise UserError(f"unknown preset {preset!r} for model {self.name} (known: "
                            f"{', '.join(self.presets)})") from None

    def twin_class(self, backend: str) -> type:
        """The twin class of `backend`, imported on first use."""
        if backend not in self.twins:
            raise UserError(f"unknown backend {backend!r} (known: {', '.join(self.twins)})")
        target = self.twins[backend]
        if not isinstance(target, str):
            return target
        module_name, _, attr = target.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def stream(self, data: Any, split: str, batch_size: int, seed: int, preset: Any,
               start_step: int = 0, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
        """The reader's batches of `split` from global step `start_step`, for `preset` (its
        sizes: a clip's length, a crop); with a `part`, one worker's rows of each (a pair's
        `batches` takes `part=` only for data-parallel runs)."""
        more = {"part": part} if part.workers > 1 else {}
        return self.batches(str(data), split, batch_size, seed, start_step=start_step,
                            preset=self.get_preset(preset), **more)

    def differentiable_inputs(self, preset: Any) -> list[str]:
        return [spec.name for spec in self.inputs(preset) if spec.differentiable]

    def input_layouts(self, preset: Any) -> dict[str, Activation]:
        """Each input's rule to Chainer's layout (`InputSpec.layout`), by name."""
        return {spec.name: spec.layout for spec in self.inputs(preset)}

    def require_data(self, data: str | os.PathLike) -> None:
        """A UserError, naming the command that makes one, when `data` holds no dataset."""
        if not os.path.exists(os.path.join(data, "map.csv")):
            make = f"`{self.make_data} --out {data}`, or " if self.make_data else ""
            raise UserError(f"{data}: no dataset here (make one with {make}pass --data)")


def import_from_cwd(name: str) -> Any:
    """`importlib.import_module(name)`, retried with the current directory on sys.path (the
    `twinport` script does not put it there: `--port tests.mutants:X` from a checkout)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        if os.getcwd() in sys.path or "" in sys.path:
            raise
        sys.path.append(os.getcwd())
        return importlib.import_module(name)
