"""The layer graph of a twin pair: layers, their variables, and the one executor both twins use.

A pair's graph is an ordered list of `Layer`s named by the reference's TF scopes; each twin runs
it with `run_graph`, dispatching every layer on its kind, and returns one tap per layer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.errors import UserError
from spec import initializers
from spec.layout import Activation, Transpose


@dataclass(frozen=True)
class Variable:
    """One TF variable: name (no `:0`), TF shape, how it maps to Chainer's layout, how TF
    initialises it.

    transpose: the one rule between the TF and the Chainer array (`spec.layout.Transpose`).
    init: a TF1 initialiser by name (`spec.initializers`: "xavier_uniform", "he_normal",
        "truncated_normal:STDDEV", "variance_scaling:2.0,fan_in,uniform", "orthogonal", "zeros",
        ...) or "" (zeros, not checked); an unknown name is a one-line error here.
        `parity.init_check` compares each side's own draw with it.
    trainable: False for normalisation statistics (updated by the forward, not trained).
    """

    name: str
    shape: tuple[int, ...]
    transpose: Transpose = Transpose.NONE
    init: str = ""
    trainable: bool = True

    def __post_init__(self) -> None:
        problem = self.transpose.problem(tuple(self.shape))
        if problem:
            raise UserError(f"variable {self.name}: {problem}")
        initializers.parse(self.init, self.shape, self.name)


@dataclass(frozen=True)
class Layer:
    """One node of a pair's graph.

    name: the reference's TF scope (the tap's name on both sides).
    kind: what the twins dispatch on (`_<kind>` methods); shared kinds live in the twins'
        `layers.py`, a pair's own kinds in its model files.
    inputs: names of the layers or of the pair's sources (inputs and noise) it reads, in order.
    shape: output shape per sample, TF layout (NHWC without batch); () for a scalar.
    batch: a label of the output's batch axis (the pair's own vocabulary) or None (a scalar).
    attrs: kind-specific settings (kernel, stride, padding, width, ...).
    variables: the variables this layer owns.
    layout: how the output is laid out in Chainer (`spec.layout.Activation`; by default NHWC
        <-> NCHW and frames [B, L, H, W, C] <-> [B, L, C, H, W]; CHANNELS_FIRST for NDHWC <->
        NCDHW).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    batch: str | None = "batch"
    attrs: Mapping = field(default_factory=dict)
    variables: tuple[Variable, ...] = ()
    layout: Activation = Activation.FRAMES


def graph_order(layers: list[Layer]) -> list[str]:
    return [layer.name for layer in layers]


def run_graph(
    layers: list[Layer],
    apply: Callable[[Layer, list[Any]], Any],
    sources: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> OrderedDict[str, Any]:
    """Evaluate every layer with `apply(layer, inputs)`; return the taps in graph order.

    `overrides` replaces a layer's value by a given one (the cross-conv seed's eval feeds
    its z taps); later layers read the replacement.
    """
    overrides = overrides or {}
    values: dict[str, Any] = dict(sources)
    taps: OrderedDict[str, Any] = OrderedDict()
    for layer in layers:
        if layer.name in overrides:
            value = overrides[layer.name]
        else:
            value = apply(layer, [values[name] for name in layer.inputs])
        values[layer.name] = taps[layer.name] = value
    return taps
