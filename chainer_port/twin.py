"""What every Chainer twin shares: the port interface over a pair's graph
(`spec.twin.TwinModel`), on NCHW Chainer arrays (NumPy or CuPy).

A pair's Chainer twin subclasses `ChainerTwin`, sets `pair` and writes one `_<kind>` method
per layer kind, reading its variables by TF name (`variable`); a twin with link classes of its
own registers them in `build_links` by TF scope (`add_scoped_link`).

Links are nested like the TF scopes (`motion_encoder/Conv_3`), so Chainer's own paths are the
TF variable names: the parameter `/motion_encoder/Conv_3/BatchNorm/beta` is
`motion_encoder/Conv_3/BatchNorm/beta`. Weights cross the interface by that rule plus each
variable's `spec.layout.Transpose`; there is no list of names. Chainer 7.8.1 has no
`namedpersistent()`, so the variables including the normalisation statistics are read and
written through Chainer's serializer protocol (`DictionarySerializer` / `NpzDeserializer`),
whose keys are the same paths; so is the optimizer's state (`{TF name}/{slot key}`, `t`).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import chainer
import chainer.functions as F
import numpy as np
from chainer.backends import cuda
from chainer.serializers import DictionarySerializer, NpzDeserializer

from chainer_port.device import resolve_device
from chainer_port.initializers import spec_initializer
from chainer_port.optimizer import SpecOptimizer
from chainer_port.tf_compat import (
    GATES,
    TFCompat,
    nhwc_to_nchw,
    tf_concat,
    tf_conv2d,
    tf_lstm_cell,
    tf_split,
)
from spec.layer import Layer, run_graph
from spec.layout import Activation
from spec.twin import GRADIENT_NORM, TwinModel
from spec.weights import STEP, check_weights, variables


class ChainerTwin(TwinModel, chainer.Chain):
    """preset: a preset name or the pair's preset object. seed: seeds the initialisers and the
    noise drawn when none is given. device: "cpu" or a GPU id.

    dtype "float64" runs the same code in double precision: the harness's yardstick for the
    float32 noise floor (`twinport parity noise-floor`). Weights still cross the interface
    as float32. tf_compat: TF's behaviours, or naive Chainer ones (`TFCompat`; a mutant sets
    one).
    """

    layout = "NCHW"
    # Joins the gradients of a data-parallel run's workers before each update: averages them,
    # or adds them where the preset's `worker_gradients` says "sum"
    # (`chainer_port.distributed.ChainerWorld.attach`); None in a run of one process.
    gradient_mean: Callable[[], None] | None = None

    def __init__(self, preset: Any = "paper", seed: int = 0, device: str = "cpu",
                 dtype: str = "float32", tf_compat: TFCompat | None = None) -> None:
        super().__init__()
        self.setup_twin(preset, seed)
        self.tf_compat = tf_compat or TFCompat()
        self.build_links(np.random.default_rng(seed))
        check_weights(self._tf_variables(), self.layers, f"{type(self).__name__} link tree")
        self._variable_names = set(variables(self.layers))
        self.dtype = np.dtype(dtype)
        if self.dtype != np.float32:
            self._cast_variables(self.dtype)
        self.to_device(resolve_device(device))
        self.optimizer = SpecOptimizer(self.pair.optimizer)
        self.optimizer.setup(self)

    def build_links(self, rng: np.random.Generator) -> None:
        """Every variable of the spec as a Parameter (a persistent array when not trainable)
        at its TF name, in Chainer's layout, drawn from `rng` in graph order
        (`chainer_port.initializers.spec_initializer`). A twin with link classes of its own
        overrides this and registers them with `add_scoped_link`."""
        for layer in self.layers:
            for variable in layer.variables:
                *scopes, leaf = variable.name.split("/")
                parent = self._scope(scopes)
                shape = variable.transpose.to_chainer(np.empty(variable.shape)).shape
                initializer = spec_initializer(variable, rng)
                if variable.trainable:
                    with parent.init_scope():
                        setattr(parent, leaf, chainer.Parameter(initializer, shape))
                else:
                    value = np.empty(shape, np.float32)
                    initializer(value)
                    parent.add_persistent(leaf, value)

    # -- the interface (checked by TwinModel) -------------------------------------------------

    def forward_impl(self, inputs: dict, noise: dict, training: bool, overrides: dict
                     ) -> OrderedDict[str, chainer.Variable]:
        """The graph on TF-layout inputs; taps in Chainer's layout (no backprop graph)."""
        with chainer.no_backprop_mode():
            return self._run(inputs, noise, overrides, training)

    def run_layer_impl(self, layer: Layer, inputs: list[Any], training: bool
                       ) -> chainer.Variable:
        with chainer.using_config("train", training):
            return self.apply(layer, [self._input(value) for value in inputs], training)

    def run_chain_impl(self, layers: list[Layer], sources: dict[str, Any], training: bool
                       ) -> chainer.Variable:
        """Layer by layer, without the backprop graph (a pixel loop needs none)."""
        with chainer.no_backprop_mode():
            return super().run_chain_impl(layers, sources, training)

    def layer_gradients_impl(self, layer: Layer, inputs: list[Any], upstream: Any,
                             training: bool) -> tuple[list[Any], dict]:
        """One spec layer's backward from `upstream` (NCHW); variable gradients in TF
        layout."""
        xs = [chainer.Variable(self._input(value).array) for value in inputs]
        with chainer.using_config("train", training):
            y = self.apply(layer, xs, training)
        self.cleargrads()
        y.grad = self._input(upstream).array
        y.backward()
        own = [v for v in layer.variables if v.trainable]
        return ([x.grad for x in xs],
                {v.name: None if self.variable(v.name).grad is None else
                 v.transpose.to_tf(self.to_numpy(self.variable(v.name).grad)) for v in own})

    def gradients_impl(self, inputs: dict, noise: dict, training: bool
                       ) -> tuple[OrderedDict[str, chainer.Variable], dict, dict]:
        """Every variable's gradient in TF layout; each differentiable input's, TF layout (the
        input is a Variable before its layout changes, so its gradient comes out NHWC)."""
        watched = {name: chainer.Variable(self._input(inputs[name]).array)
                   for name in self.pair.differentiable_inputs(self.preset)}
        taps = self._run({**inputs, **watched}, noise, {}, training)
        self.cleargrads()
        taps[self.pair.loss].backward()
        grads = {path.lstrip("/"): param.grad for path, param in self.namedparams()}
        return (taps,
                {name: np.ascontiguousarray(var.transpose.to_tf(self.to_numpy(grads[name])))
                 for name, var in variables(self.layers).items()
                 if grads.get(name) is not None},
                {name: self.to_numpy(value.grad) for name, value in watched.items()})

    def train_step_impl(self, inputs: dict, noise: dict, lr: float
                        ) -> OrderedDict[str, chainer.Variable]:
        """One step of the pair's optimizer at `lr`, training mode: TF1's rule of its kind
        (`chainer_port.optimizer.SpecOptimizer`), the learning rate set before the update."""
        taps = self._run(inputs, noise, {}, training=True)
        # Only the loss and what the step returns, as TF's step: the other taps' arrays, which
        # the backward does not read, are freed before it (a third of the VPN's activations at
        # `micro`).
        wanted = {self.pair.loss, *self.pair.losses.values(), *self.pair.step_outputs.values()}
        taps = OrderedDict((name, taps[name]) for name in taps if name in wanted)
        self.cleargrads()
        taps[self.pair.loss].backward()
        self._update(lr)
        taps[GRADIENT_NORM] = self._gradient_norm()
        return taps

    def _gradient_norm(self) -> float:
        """The L2 norm of every gradient the update applied, together."""
        return float(np.sqrt(sum(float((param.grad.astype(np.float64) ** 2).sum())
                                 for param in self.params() if param.grad is not None)))

    def _update(self, lr: float) -> None:
        """One update as TF1 applies gradients: a parameter without a gradient is left alone
        with its state, and Adam's bias correction counts the optimizer's updates."""
        if self.gradient_mean is not None:
            self.gradient_mean()
        # `GradientMethod.update` gives such a parameter a zero gradient, which a momentum
        # would still move; a disabled rule skips it, and each rule's own count (which Adam's
        # bias correction reads) is set to the optimizer's, which skipping would hold back.
        for param in self.params():
            param.update_rule.enabled = param.grad is not None
            param.update_rule.t = self.optimizer.t
        self.optimizer.lr = lr
        self.optimizer.update()

    def get_weights(self) -> OrderedDict[str, np.ndarray]:
        """Every variable: TF name, TF layout, float32 host copies, graph order."""
        found = self._tf_variables()
        return OrderedDict((name, found[name]) for name in variables(self.layers))

    def set_weights_impl(self, weights: Mapping[str, np.ndarray]) -> None:
        """Copy TF-named, TF-layout weights in place."""
        chainer_layout = {name: np.ascontiguousarray(var.transpose.to_chainer(weights[name]))
                          for name, var in variables(self.layers).items()}
        NpzDeserializer(chainer_layout).load(self)

    def optimizer_settings(self) -> dict[str, Any]:
        return dict(self.optimizer.spec.settings)

    def get_optimizer_state_impl(self) -> dict[str, Any]:
        """Every slot of every trainable variable in TF layout (before the first update
        creates it, at the first value of the port's own optimizer: a fresh port's state is
        what its optimizer starts from), and the optimizer's update count."""
        serializer = DictionarySerializer()
        serializer.save(self.optimizer)
        saved = serializer.target
        state: dict[str, Any] = {STEP: saved["t"]}
        optimizer, weights = self.optimizer.spec, None
        for name, var in self._trainable_variables().items():
            for slot, key in zip(optimizer.slots, optimizer.keys, strict=True):
                value = saved.get(f"{name}/{key}")
                if value is None:
                    weights = self.get_weights() if weights is None else weights
                    state[f"{name}/{slot}"] = optimizer.first_value(slot, weights[name])
                else:
                    state[f"{name}/{slot}"] = var.transpose.to_tf(value)
        return state

    def set_optimizer_state_impl(self, state: Mapping[str, np.ndarray]) -> None:
        """Through Chainer's deserializer: every rule's slots (copies, Chainer layout, the
        model's dtype) and count, and the optimizer's."""
        step = np.asarray(int(state[STEP]))
        target: dict[str, np.ndarray] = {"t": step, "epoch": np.asarray(self.optimizer.epoch)}
        for name, var in self._trainable_variables().items():
            target[f"{name}/t"] = step
            for slot, key in zip(self.pair.optimizer.slots, self.pair.optimizer.keys,
                                 strict=True):
                target[f"{name}/{key}"] = np.array(var.transpose.to_chainer(
                    state[f"{name}/{slot}"]), dtype=self.dtype, order="C")
        NpzDeserializer(target).load(self.optimizer)

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        """A tap, output, loss or gradient as a host float32 NumPy copy (native layout)."""
        array = value.array if isinstance(value, chainer.Variable) else value
        return np.array(cuda.to_cpu(array), dtype=np.float32)

    def apply(self, layer: Layer, inputs: Sequence[chainer.Variable], training: bool
              ) -> chainer.Variable:
        """Dispatch `layer` on its kind to `_<kind>(layer, *inputs, training=...)`."""
        method = getattr(self, f"_{layer.kind}", None)
        if method is None:
            raise ValueError(f"{layer.name}: unknown layer kind {layer.kind!r}")
        return method(layer, *inputs, training=training)

    # -- layer kinds every pair may use (`docs/port-interface.md`) ----------------------------

    def _dense(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        """A dense layer on the input flattened in TF's order (its layout rule undone first):
        `{layer}/kernel` (Chainer's (out, in)) and `{layer}/bias` when declared."""
        axes = self.layout_of(layer.inputs[0]).axes(x.ndim)
        if axes:
            x = F.transpose(x, tuple(int(i) for i in np.argsort(axes)))
        bias = f"{layer.name}/bias"
        return F.linear(F.reshape(x, (len(x), -1)), self.variable(f"{layer.name}/kernel"),
                        self.variable(bias) if bias in self._variable_names else None)

    def _mse(self, layer: Layer, y: chainer.Variable, target: chainer.Variable,
             training: bool) -> chainer.Variable:
        """The mean squared error, a scalar."""
        return F.mean(F.square(y - target))

    # The order of the halves of a ConvLSTM state concat(c, h) and of its four gates' blocks
    # (a mutant reads them otherwise).
    STATE_SPLIT = ("c", "h")
    GATE_SPLIT = GATES

    def _basic_conv_lstm(self, layer: Layer, x: chainer.Variable, *state: chainer.Variable,
                         training: bool) -> chainer.Variable:
        """The TF twin's ConvLSTM cell on NCHW: state concat(c, h) on the channel axis."""
        a = layer.attrs
        if state:
            halves = dict(zip(self.STATE_SPLIT, tf_split(state[0], 2, axis=1), strict=True))
            c, h = halves["c"], halves["h"]
        else:
            xp = chainer.backend.get_array_module(x)
            c = h = chainer.Variable(xp.zeros((x.shape[0], a["width"], *x.shape[2:]), x.dtype))
        gates = tf_conv2d(tf_concat([x, h], axis=1), self.variable(a["kernel"]), "SAME",
                          bias=self.variable(a["bias"]))
        return tf_lstm_cell(gates, c, a["forget_bias"], self.GATE_SPLIT)

    def layout_of(self, name: str) -> Activation:
        """The layout rule of a tap or an input (`Layer.layout`, `InputSpec.layout`)."""
        if name in self.layer_by_name:
            return self.layer_by_name[name].layout
        return self.pair.input_layouts(self.preset).get(name, Activation.FRAMES)

    # -- links ---------------------------------------------------------------------------------

    def add_scoped_link(self, name: str, link: chainer.Link) -> None:
        """Register `link` under its TF scope path, creating the scope chains on the way."""
        *scopes, leaf = name.split("/")
        self._scope(scopes).add_link(leaf, link)

    def link(self, name: str) -> chainer.Link:
        """The link registered under the TF scope `name`."""
        return functools.reduce(lambda link, scope: link[scope], name.split("/"), self)

    def variable(self, name: str) -> Any:
        """The Parameter (or persistent array) at the TF variable name `name`, Chainer
        layout."""
        *scopes, leaf = name.split("/")
        return getattr(self.link("/".join(scopes)) if scopes else self, leaf)

    def _scope(self, scopes: list[str]) -> chainer.Chain:
        """The chain at the scope path, created on the way."""
        parent: chainer.Chain = self
        for scope in scopes:
            if not hasattr(parent, scope):
                parent.add_link(scope, chainer.Chain())
            parent = parent[scope]
        return parent

    # -- helpers -------------------------------------------------------------------------------

    def _run(self, inputs: dict, noise: dict, overrides: Mapping[str, Any], training: bool
             ) -> OrderedDict[str, chainer.Variable]:
        """The graph on TF-layout inputs, recording the backprop graph when enabled."""
        # Inputs and noise both cross the interface in TF layout (the harness's isolated
        # replay converts both the same way).
        sources = {name: nhwc_to_nchw(self._input(value), self.layout_of(name))
                   for name, value in {**inputs, **noise}.items()}
        overrides = {name: self._input(value) for name, value in overrides.items()}
        with chainer.using_config("train", training):
            return run_graph(self.layers, lambda layer, x: self.apply(layer, x, training),
                             sources, overrides)

    def _input(self, value: Any) -> chainer.Variable:
        """A value as a Variable of the model's dtype on its device (Variables pass through)."""
        if isinstance(value, chainer.Variable):
            return value
        xp = chainer.backend.get_array_module(value)
        array = xp.asarray(value, dtype=self.dtype)
        return chainer.Variable(self.device.send(array), requires_grad=False)

    def _cast_variables(self, dtype: np.dtype) -> None:
        """Every parameter and persistent array in `dtype` (float64 measures the noise floor)."""
        for param in self.params():
            param.array = param.array.astype(dtype)
        for link in self.links():
            for name in link._persistent:
                value = getattr(link, name)
                if hasattr(value, "astype"):
                    setattr(link, name, value.astype(dtype))

    def _trainable_variables(self) -> OrderedDict[str, Any]:
        return OrderedDict((name, var) for name, var in variables(self.layers).items()
                           if var.trainable)

    def _tf_variables(self) -> dict[str, np.ndarray]:
        """Every parameter and persistent by its path (= TF name), TF layout, host copies."""
        serializer = DictionarySerializer()
        serializer.save(self)
        transposes = {name: var.transpose for name, var in variables(self.layers).items()}
        return {name: np.array(transposes[name].to_tf(value) if name in transposes else value,
                               dtype=np.float32, order="C")
                for name, value in serializer.target.items()}
