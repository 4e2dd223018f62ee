"""Run the spec's layers in order: the one executor both backends use."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from spec.layers import Layer


def run_graph(
    layers: list[Layer],
    apply: Callable[[Layer, list[Any]], Any],
    sources: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
) -> OrderedDict[str, Any]:
    """Evaluate every layer with `apply(layer, inputs)`; return the taps in graph order.

    `overrides` replaces a layer's value by a given one (the seed's eval feeds
    `z_mean` / `z_stddev_log`); later layers read the replacement.
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
