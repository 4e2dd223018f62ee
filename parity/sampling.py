"""Sampling parity: an autoregressive tap's frame generated pixel by pixel on both twins.

A pair declares its autoregressive taps (`TwinPair.autoregressive`: the VPN's logits of each
step, the frame they predict, and the taps `given` per frame: its encoder state). The given
taps come from one forward; then, pixel by pixel in raster order, only the layers between them
and the tap (`chain_names`: the masked decoder) run again on the frame generated so far
(`TwinModel.run_chain`), and the pixel's value is drawn from the softmax of its logits: the
inverse CDF at a uniform draw, or the argmax (`greedy`, as trainer.py's test does).

Both twins draw from the same uniforms, and the port from the reference's frame (synced, as
the training steps are): one differing pixel does not make every later one differ. A pixel
whose draws differ is a tie when the two sides' CDFs bracket the uniform within tolerance
(greedy: the two classes' probabilities within tolerance on both sides): rounding decided it,
not the port. The tolerance is what the inference tolerance allows the logits (atol times
their largest magnitude), doubled: a softmax moves a CDF by at most twice its logits' change.
Each side's time for the frame is in the item's note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from parity.capture import layout_converters
from parity.diff import FAIL, PASS, TIE, TensorDiff, fmt
from spec.layer import Layer
from spec.pair import Autoregressive

if TYPE_CHECKING:
    from parity.harness import ReferenceRun

SHOWN = 3  # differing pixels named in a note


def chain_names(layers: Sequence[Layer], check: Autoregressive) -> list[str]:
    """The layers run once a pixel, in graph order: those that read the check's input and
    reach its tap, neither through a given tap."""
    by_name, given = {layer.name: layer for layer in layers}, set(check.given)
    reaching, stack = set(), [check.tap]
    while stack:
        name = stack.pop()
        if name in reaching or name in given or name not in by_name:
            continue
        reaching.add(name)
        stack.extend(by_name[name].inputs)
    fed: set[str] = set()
    for layer in layers:
        if layer.name not in given and any(i == check.input or i in fed for i in layer.inputs):
            fed.add(layer.name)
    return [layer.name for layer in layers if layer.name in reaching & fed]


def raster(height: int, width: int, limit: int | None) -> list[tuple[int, int]]:
    """The pixels in raster order, the first `limit` of them (None or 0: all)."""
    found = [(row, col) for row in range(height) for col in range(width)]
    return found[:limit] if limit else found


def softmax(logits: np.ndarray) -> np.ndarray:
    """Float64 probabilities over the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def draw(probabilities: np.ndarray, uniforms: np.ndarray, greedy: bool) -> np.ndarray:
    """Each row's class [B]: the argmax, or the first class whose CDF exceeds its uniform."""
    if greedy:
        return probabilities.argmax(axis=-1)
    cdf = np.cumsum(probabilities, axis=-1)
    classes = (cdf <= uniforms[:, None]).sum(axis=-1)
    return np.minimum(classes, probabilities.shape[-1] - 1)


def tie_gap(reference: np.ndarray, port: np.ndarray, drawn: tuple[int, int], greedy: bool
            ) -> float:
    """How far the two sides' distributions are apart where their draws split (one row each):
    the largest CDF difference at the class boundaries between the two draws (inverse CDF:
    the uniform lies between the two CDFs at each of them), or (greedy) the larger of the two
    sides' margins between the two classes."""
    a, b = drawn
    if greedy:
        return float(max(abs(reference[a] - reference[b]), abs(port[a] - port[b])))
    low, high = sorted(drawn)
    gaps = np.cumsum(reference)[low:high] - np.cumsum(port)[low:high]
    return float(np.abs(gaps).max())


@dataclass
class PixelChain:
    """One model's per-pixel run of one autoregressive tap: the given taps computed once
    (native layout), the chain's other sources (the input) converted per call."""

    model: Any
    check: Autoregressive
    names: list[str]
    given: dict[str, Any]
    fed: tuple[str, ...]
    to_tf: Callable[[str, Any], Any]
    from_tf: Callable[[str, Any], Any]
    seconds: float = 0.0

    @classmethod
    def prepare(cls, model: Any, check: Autoregressive, inputs: Mapping[str, np.ndarray],
                noise: Mapping[str, np.ndarray]) -> PixelChain:
        """The given taps of one inference forward on `inputs` and `noise` (TF layout)."""
        names = chain_names(model.layers, check)
        reads = {i for name in names for i in model.layer_by_name[name].inputs} - set(names)
        to_tf, from_tf = layout_converters(model.layout, model.layers,
                                           model.pair.input_layouts(model.preset))
        began = time.perf_counter()
        taps = model.forward(dict(inputs), dict(noise), training=False).taps
        given = {name: taps[name] for name in reads if name in taps}
        return cls(model, check, names, given, tuple(sorted(reads - set(given))), to_tf,
                   from_tf, time.perf_counter() - began)

    def logits(self, sources: Mapping[str, np.ndarray]) -> np.ndarray:
        """The tap on the current inputs and noise (TF layout, by name): TF layout
        [B, ..., H, W, K], float64."""
        began = time.perf_counter()
        feed = {**self.given, **{name: self.from_tf(name, sources[name]) for name in self.fed}}
        value = self.model.to_numpy(self.model.run_chain(self.names, feed))
        self.seconds += time.perf_counter() - began
        return np.asarray(self.to_tf(self.check.tap, value), np.float64)


def generate(chains: Sequence[PixelChain], sources: dict[str, np.ndarray],
             uniforms: np.ndarray, greedy: bool, limit: int | None = None
             ) -> Iterator[tuple[tuple[int, int], list[np.ndarray], list[np.ndarray]]]:
    """Fill the check's frame of `sources` (inputs and noise, TF layout; changed in place)
    pixel by pixel with the first chain's draws; per pixel yields (pixel, each chain's logits
    [B, K] there, each chain's draws [B]). `uniforms`: [B, H, W] in [0, 1)."""
    check = chains[0].check
    plane = sources[check.input][(slice(None), *check.index)]  # [B, H, W, C], a view
    height, width = plane.shape[-3:-1]
    for row, col in raster(height, width, limit):
        logits = [chain.logits(sources)[..., row, col, :] for chain in chains]
        draws = [draw(softmax(value), uniforms[:, row, col], greedy) for value in logits]
        plane[:, row, col, :] = draws[0][:, None]
        yield (row, col), logits, draws


def sampling_diffs(check: Autoregressive, reference: Any, port: Any,
                   inputs: Mapping[str, np.ndarray], noise: Mapping[str, np.ndarray],
                   seed: int, atol: float, greedy: bool = False, limit: int | None = None
                   ) -> list[TensorDiff]:
    """One item: the check's frame sampled on both models (the first `limit` pixels), the
    pixels whose draws differ, each a tie or a failure, and the port's logits against the
    reference's (`atol` times their largest magnitude at the pixel)."""
    inputs = {name: np.array(value) for name, value in inputs.items()}
    plane_shape = inputs[check.input][(slice(None), *check.index)].shape[:-1]
    uniforms = np.random.default_rng(seed).random(plane_shape)
    chains = [PixelChain.prepare(model, check, inputs, noise) for model in (reference, port)]
    frames = {**inputs, **noise}
    differ: list[str] = []
    ties, failures, worst, headroom, count = 0, 0, 0.0, 0.0, 0
    for pixel, (ref, out), (ref_draw, out_draw) in generate(chains, frames, uniforms, greedy,
                                                            limit):
        count += len(ref)
        allowed = atol * max(float(np.abs(ref).max()), 1e-30)
        error = float(np.abs(ref - out).max())
        worst, headroom = max(worst, error), max(headroom, error / allowed)
        for sample in np.flatnonzero(ref_draw != out_draw):
            gap = tie_gap(softmax(ref[sample]), softmax(out[sample]),
                          (int(ref_draw[sample]), int(out_draw[sample])), greedy)
            tie = gap <= 2 * allowed
            ties, failures = ties + tie, failures + (not tie)
            differ.append(f"{pixel} of sample {sample}: {ref_draw[sample]} (TF) vs "
                          f"{out_draw[sample]} (port), CDFs {fmt(gap)} apart"
                          + (" (tie)" if tie else ""))
    status = FAIL if failures or headroom > 1 else (TIE if ties else PASS)
    how = "argmax" if greedy else "inverse CDF of the same uniforms"
    pixels = count // max(len(uniforms), 1)
    times = f"{fmt(chains[0].seconds)} s (TF) and {fmt(chains[1].seconds)} s (port)"
    note = (f"{count} draws ({how}), the port's on the reference's frame: "
            f"{len(differ)} differ ({ties} ties); {times} for {pixels} pixels of "
            f"{uniforms[0].size}")
    if differ:
        note += "; " + "; ".join(differ[:SHOWN]) + ("; ..." if len(differ) > SHOWN else "")
    return [TensorDiff(
        name=f"{check.tap} sampled", status=status, ref_shape=(), port_shape=(),
        stat="sampling", atol=atol, n_elements=count, n_compared=count,
        n_mismatched=failures, n_tie=ties, max_abs=worst, abs_stat=worst, headroom=headroom,
        note=note,
        suggestion=None if status != FAIL else (
            "the port draws other values than TF from the same uniforms, not explained by "
            "rounding: its logits differ where the frame is partly generated (a mask, or "
            "the decoder's input, differs once the frame is not the true one)"),
        hint=None if status != FAIL else "sampling")]


def section(reference: ReferenceRun, port: Any) -> list[TensorDiff] | None:
    """The next frame (the pair's first autoregressive tap) sampled from batch 0 and the
    settings' seed; None for a pair without one."""
    if reference.pair.autoregressive is None:
        return None
    s = reference.settings
    return sampling_diffs(reference.pair.autoregressive(reference.preset)[0], reference.model,
                          port, reference.inputs.batches[0], reference.inputs.noise[0], s.seed,
                          reference.comparer.tolerances.inference[0], s.greedy, s.sample_pixels)
