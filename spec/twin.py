"""The port interface every twin of every pair offers (docs/port-interface.md).

`TwinModel` does the checks once for both twins and any outside port (Polygraphy's `infer()`
calling `infer_impl()`): each public method checks its arguments against the pair's spec, then
calls the twin's `*_impl`, then shapes the result. A twin only computes.

Inputs and noise cross the interface as dicts by name, TF layout, numpy or the twin's own
arrays; a pair with one input (or one noise) also takes the bare array.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from common.errors import UserError
from spec.layer import Layer, run_graph
from spec.pair import TwinPair, draw_noise
from spec.result import ForwardResult
from spec.weights import (
    STEP,
    check_optimizer_state,
    check_weights,
    load_weights,
    optimizer_state_shapes,
    save_weights,
    variable_shapes,
)


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in np.shape(value))


GRADIENT_NORM = "gradient_norm"
"""A train step's result key (and its `train_step_impl` tap): the L2 norm of all the trainable
variables' gradients together, as the update applied them (a data-parallel run's: after the
workers' reduction)."""


class TwinModel:
    """The base of both twins. A subclass sets `pair` and `layout`, calls `setup_twin` in its
    constructor, and implements `forward_impl`, `run_layer_impl`, `layer_gradients_impl`,
    `gradients_impl`, `train_step_impl`, `get_weights` and `set_weights_impl`, and for an
    optimizer with state (Adam) `get_optimizer_state_impl` and `set_optimizer_state_impl`."""

    pair: ClassVar[TwinPair]
    layout: ClassVar[str] = "NCHW"

    def setup_twin(self, preset: Any, seed: int) -> None:
        self.preset = self.pair.get_preset(preset)
        self.layers: list[Layer] = self.build_layers()
        self.layer_by_name = {layer.name: layer for layer in self.layers}
        self.noise_rng = np.random.default_rng(seed)
        self.optimizer_shapes = optimizer_state_shapes(self.layers, self.pair.optimizer.slots)

    def build_layers(self) -> list[Layer]:
        """The graph this twin computes: the pair's (a mistake both twins share, a
        `spec.pitfall.SharedMistake`, changes it here)."""
        return self.pair.build(self.preset)

    # -- the interface --------------------------------------------------------------------

    def forward(self, inputs: Any, noise: Any = None, training: bool = False,
                overrides: Mapping[str, Any] | None = None) -> ForwardResult:
        """Every tap of the graph (native layout). `noise`: drawn from the model's seeded
        generator when None. `overrides`: tap name -> value replacing that layer's output
        (the cross-conv seed's eval feeds its z this way)."""
        inputs = self.check_inputs(inputs)
        noise = self.check_noise(noise, inputs)
        overrides = dict(overrides or {})
        for name, value in overrides.items():
            self._check_override(name, value, inputs)
        taps = self.forward_impl(inputs, noise, bool(training), overrides)
        return ForwardResult(taps, self.pair.named_taps)

    def run_layer(self, name: str, inputs: Sequence[Any], training: bool = False) -> Any:
        """One spec layer on the given native-layout inputs (isolated parity)."""
        return self.run_layer_impl(self._checked_layer(name, inputs), list(inputs),
                                   bool(training))

    def run_chain(self, names: Sequence[str], sources: Mapping[str, Any],
                  training: bool = False) -> Any:
        """The named layers in graph order, each reading `sources` (native layout, by tap or
        input name) or an earlier one's output: the last one's output (sampling runs the
        VPN's masked decoder this way once a pixel, its encoder state a source)."""
        unknown = [name for name in names if name not in self.layer_by_name]
        if unknown or not names:
            raise UserError(f"run_chain: no layer named {unknown[0]!r} in the {self.pair.name} "
                            "graph" if unknown else "run_chain: no layers")
        layers = [self.layer_by_name[name] for name in names]
        missing = sorted({i for layer in layers for i in layer.inputs} - {*sources, *names})
        if missing:
            raise UserError(f"run_chain: no value for {', '.join(missing)}")
        return self.run_chain_impl(layers, dict(sources), bool(training))

    def gradients(self, inputs: Any, noise: Any = None, training: bool = True
                  ) -> tuple[ForwardResult, OrderedDict[str, np.ndarray],
                             OrderedDict[str, np.ndarray]]:
        """d loss by every variable (TF names and layout, float32; zeros where a variable does
        not reach the loss, e.g. every normalisation statistic) and by every differentiable
        input (TF layout). A training-mode forward updates the statistics, as every training
        forward does."""
        inputs = self.check_inputs(inputs)
        noise = self.check_noise(noise, inputs)
        taps, grads, input_grads = self.gradients_impl(inputs, noise, bool(training))
        shapes = variable_shapes(self.layers)
        named = OrderedDict(
            (name, np.zeros(shape, np.float32) if grads.get(name) is None
             else np.asarray(self.to_numpy(grads[name]), np.float32))
            for name, shape in shapes.items())
        wanted = self.pair.differentiable_inputs(self.preset)
        return (ForwardResult(taps, self.pair.named_taps), named,
                OrderedDict((name, np.asarray(input_grads[name], np.float32))
                            for name in wanted))

    def layer_gradients(self, name: str, inputs: Sequence[Any], upstream: Any,
                        training: bool = True
                        ) -> tuple[list[np.ndarray], OrderedDict[str, np.ndarray]]:
        """One spec layer's backward (isolated backward parity): the layer run on the given
        native-layout inputs, its output's gradient set to `upstream` (native layout).
        Returns d/d each input (native layout, float32; zeros where an input does not reach
        the output) and d/d each trainable variable of the layer (TF name and layout)."""
        layer = self._checked_layer(name, inputs)
        input_grads, grads = self.layer_gradients_impl(layer, list(inputs), upstream,
                                                       bool(training))
        return ([np.zeros(_shape(x), np.float32) if g is None
                 else np.asarray(self.to_numpy(g), np.float32)
                 for x, g in zip(inputs, input_grads, strict=True)],
                OrderedDict((v.name, np.zeros(v.shape, np.float32) if grads.get(v.name) is None
                             else np.asarray(self.to_numpy(grads[v.name]), np.float32))
                            for v in layer.variables if v.trainable))

    def train_step(self, inputs: Any, noise: Any, step: int | float,
                   lr: float | None = None) -> dict[str, Any]:
        """One step of the pair's optimizer at `lr` (default: its schedule at `step`), in
        training mode. Returns `lr`, every loss of `pair.losses` as a float, every
        `pair.step_outputs` as a float32 array and, where the twin gives it (both of
        twinport's), `GRADIENT_NORM`: the global L2 norm of the gradient the update applied."""
        lr = self.pair.optimizer.learning_rate(float(step)) if lr is None else float(lr)
        inputs = self.check_inputs(inputs)
        noise = self.check_noise(noise, inputs)
        taps = self.train_step_impl(inputs, noise, lr)
        out: dict[str, Any] = {label: float(self.to_numpy(taps[tap]))
                               for label, tap in self.pair.losses.items()}
        out["lr"] = lr
        out.update((key, self.to_numpy(taps[tap])) for key, tap in
                   self.pair.step_outputs.items())
        if GRADIENT_NORM in taps:
            out[GRADIENT_NORM] = float(self.to_numpy(taps[GRADIENT_NORM]))
        return out

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Copy TF-named, TF-layout weights in (checked first: one UserError for all)."""
        check_weights(weights, self.layers, "set_weights")
        self.set_weights_impl(weights)

    def get_optimizer_state(self) -> OrderedDict[str, np.ndarray]:
        """The optimizer's state by TF1's names, TF layout, float32 copies: each trainable
        variable's slots in graph order (Adam: `{var}/Adam` m, `{var}/Adam_1` v), then `step`,
        the updates done (a scalar). Empty for SGD, which keeps none."""
        if not self.optimizer_shapes:
            return OrderedDict()
        state = self.get_optimizer_state_impl()
        return OrderedDict((name, np.array(state[name], np.float32))
                           for name in self.optimizer_shapes)

    def set_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy a state in, as `get_optimizer_state` gives it (checked first: one UserError for
        all). The weights stay, as `set_weights` leaves the optimizer's state."""
        check_optimizer_state(state, self.optimizer_shapes, "set_optimizer_state")
        if self.optimizer_shapes:
            self.set_optimizer_state_impl(state)

    def optimizer_settings(self) -> dict[str, Any]:
        """The settings the twin's optimizer runs with (decay, epsilon, ...): the pair's,
        unless a twin keeps an optimizer of its own (the Chainer twins: the one they built)."""
        return dict(self.pair.optimizer.settings)

    def reset_optimizer_state(self) -> None:
        """The state of a fresh optimizer: each slot at its first value (`Slot.start`: TF1's
        RMSProp starts its mean square at ones, a moving average at the variable), step 0."""
        weights, fresh = self.get_weights(), OrderedDict()
        for name, shape in self.optimizer_shapes.items():
            variable, _, slot = name.rpartition("/")
            fresh[name] = (np.zeros(shape, np.float32) if name == STEP
                           else self.pair.optimizer.first_value(slot, weights[variable]))
        self.set_optimizer_state(fresh)

    def load(self, path: str | os.PathLike) -> None:
        self.set_weights(load_weights(path, self.layers))

    def save(self, path: str | os.PathLike) -> None:
        save_weights(path, self.get_weights())

    # -- the checks -------------------------------------------------------------------------

    def check_inputs(self, inputs: Any) -> dict[str, Any]:
        """The pair's inputs by name (a bare array for a one-input pair), shapes checked."""
        specs = self.pair.inputs(self.preset)
        inputs = self._named(inputs, [spec.name for spec in specs], "inputs")
        batch = None
        for spec in specs:
            shape = _shape(inputs[spec.name])
            problem = spec.problem(shape)
            if problem:
                raise UserError(problem)
            if batch is not None and shape[0] != batch:
                raise UserError(f"{spec.name} has batch {shape[0]}, the other inputs {batch}")
            batch = shape[0]
        return inputs

    def check_noise(self, noise: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The pair's noise by name, shapes checked; drawn from the model's generator when
        None."""
        specs = self.pair.noise(self.preset)
        shapes = {name: _shape(value) for name, value in inputs.items()}
        if noise is None:
            return draw_noise(specs, self.preset, shapes, self.noise_rng)
        noise = self._named(noise, [spec.name for spec in specs], "noise")
        for spec in specs:
            want, got = list(spec.shape(self.preset, shapes)), list(_shape(noise[spec.name]))
            if got != want:
                raise UserError(f"{spec.name} must be {want}, got {got}")
        return noise

    def _checked_layer(self, name: str, inputs: Sequence[Any]) -> Layer:
        layer = self.layer_by_name.get(name)
        if layer is None:
            raise UserError(f"no layer named {name!r} in the {self.pair.name} graph")
        if len(inputs) != len(layer.inputs):
            raise UserError(f"layer {name} takes {len(layer.inputs)} inputs "
                            f"({', '.join(layer.inputs)}), got {len(inputs)}")
        return layer

    def _check_override(self, name: str, value: Any, inputs: Mapping[str, Any]) -> None:
        layer = self.layer_by_name.get(name)
        if layer is None:
            raise UserError(f"override {name!r}: no such layer in the {self.pair.name} graph")
        shapes = {key: _shape(v) for key, v in inputs.items()}
        sizes = self.pair.batch_sizes(self.preset, shapes) if self.pair.batch_sizes else {}
        want = [sizes.get(layer.batch, next(iter(shapes.values()))[0]), *layer.shape]
        if list(_shape(value)) != want:
            raise UserError(f"{name} must be {want}, got {list(_shape(value))}")

    def _named(self, value: Any, names: list[str], what: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            if len(names) != 1:
                raise UserError(f"{what}: give a dict of {', '.join(names)}")
            return {names[0]: value}
        missing = [name for name in names if name not in value]
        unexpected = [name for name in value if name not in names]
        if missing or unexpected:
            raise UserError(f"{what}: expected {', '.join(names) or 'none'}"
                            + (f"; missing {', '.join(missing)}" if missing else "")
                            + (f"; unexpected {', '.join(unexpected)}" if unexpected else ""))
        return dict(value)

    # -- what a twin implements ---------------------------------------------------------------

    def forward_impl(self, inputs: dict[str, Any], noise: dict[str, Any], training: bool,
                     overrides: dict[str, Any]) -> OrderedDict[str, Any]:
        raise NotImplementedError

    def run_layer_impl(self, layer: Layer, inputs: list[Any], training: bool) -> Any:
        raise NotImplementedError

    def run_chain_impl(self, layers: list[Layer], sources: dict[str, Any], training: bool
                       ) -> Any:
        """Layer by layer through `run_layer_impl`; a twin may fuse them (TF: one
        `tf.function` per chain)."""
        taps = run_graph(layers, lambda layer, x: self.run_layer_impl(layer, x, training),
                         sources)
        return taps[layers[-1].name]

    def gradients_impl(self, inputs: dict[str, Any], noise: dict[str, Any], training: bool
                       ) -> tuple[OrderedDict[str, Any], Mapping[str, Any],
                                  Mapping[str, np.ndarray]]:
        """(taps, {variable: gradient in TF layout}, {input: gradient in TF layout})."""
        raise NotImplementedError

    def layer_gradients_impl(self, layer: Layer, inputs: list[Any], upstream: Any,
                             training: bool) -> tuple[list[Any], Mapping[str, Any]]:
        """([d/d input or None], {variable: gradient in TF layout or None})."""
        raise NotImplementedError

    def train_step_impl(self, inputs: dict[str, Any], noise: dict[str, Any], lr: float
                        ) -> Mapping[str, Any]:
        """One optimizer step; returns at least the taps of `pair.losses` and
        `pair.step_outputs`."""
        raise NotImplementedError

    def get_weights(self) -> OrderedDict[str, np.ndarray]:
        raise NotImplementedError

    def set_weights_impl(self, weights: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_optimizer_state_impl(self) -> Mapping[str, Any]:
        """Every name of `optimizer_shapes`: slots in TF layout, `step` a number."""
        raise NotImplementedError

    def set_optimizer_state_impl(self, state: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        raise NotImplementedError
