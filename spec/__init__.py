"""What both twins of a pair must agree on: the pair's definition, its layer graph, variable
names and layouts, the port interface. Framework-free; one package per pair
(`spec.cross_conv`)."""

from spec.layer import Layer, Variable, graph_order, run_graph
from spec.pair import InputSpec, NoiseSpec, Optimizer, TwinPair
from spec.registry import DEFAULT_MODEL, MODELS, get_pair
from spec.result import ForwardResult

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ForwardResult",
    "InputSpec",
    "Layer",
    "NoiseSpec",
    "Optimizer",
    "TwinPair",
    "Variable",
    "get_pair",
    "graph_order",
    "run_graph",
]
