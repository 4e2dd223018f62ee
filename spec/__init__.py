"""What both models must agree on: presets, the layer graph, variable names, layouts."""

from spec.graph import run_graph
from spec.layers import Layer, build_spec, graph_order
from spec.presets import PRESETS, Preset, get_preset
from spec.result import ForwardResult
from spec.schedule import learning_rate

__all__ = [
    "PRESETS",
    "ForwardResult",
    "Layer",
    "Preset",
    "build_spec",
    "get_preset",
    "graph_order",
    "learning_rate",
    "run_graph",
]
