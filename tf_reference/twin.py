"""What every TF twin shares: the port interface over a pair's graph (`spec.twin.TwinModel`).

A pair's TF twin subclasses `TFTwin`, sets `pair` and writes one `_<kind>` method per layer
kind (reading its variables from `named_variables` by TF name); the graph, gradients,
optimizer step and the exchange of weights and optimizer state are here. NHWC throughout.
`forward`, `gradients` and `train_step` run through `tf.function`, traced once per input shape
(and training flag / overrides given). The optimizers are TF1's kernels
(`spec.optimizers`, `tf_reference.optimizers`), their state in explicit variables.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from spec.layer import Layer, run_graph
from spec.optimizers import resolve
from spec.pair import worker_gradients
from spec.twin import GRADIENT_NORM, TwinModel
from spec.weights import STEP, check_weights, trainable_names
from tf_reference.device import tf_device
from tf_reference.layers import spec_variable
from tf_reference.optimizers import by_rule

ArrayLike = np.ndarray | tf.Tensor


class TFTwin(TwinModel, tf.Module):
    """preset: a preset name or the pair's preset object. seed: seeds the initialisers and the
    noise drawn when none is given. device: "cpu" or a GPU id ("0", "gpu:0")."""

    layout = "NHWC"
    # A data-parallel run's `tf.distribute` strategy (`tf_reference.distributed.TFWorld`):
    # train steps run as its replicas and average their gradients; None in one process.
    strategy: tf.distribute.Strategy | None = None

    def __init__(self, preset: Any = "paper", seed: int = 0, device: str = "cpu") -> None:
        super().__init__(name=self.pair.name)
        self.setup_twin(preset, seed)
        self.device = tf_device(device)
        with tf.device(self.device):
            self.named_variables: OrderedDict[str, tf.Variable] = OrderedDict(
                self.build_variables(seed))
            self._build_optimizer()
        check_weights(self.get_weights(), self.layers, f"{type(self).__name__} variables")
        self._trainable_names = trainable_names(self.layers)
        self._trainable = [self.named_variables[name] for name in self._trainable_names]
        self._differentiable = self.pair.differentiable_inputs(self.preset)

    def build_variables(self, seed: int) -> Iterable[tuple[str, tf.Variable]]:
        """Every variable of the spec, (TF name, tf.Variable), drawn as TF draws its `init`
        from one seeded generator in graph order (`tf_reference.layers.spec_variable`). A
        twin whose reference draws otherwise overrides this."""
        rng = tf.random.Generator.from_seed(seed)
        return [(variable.name, spec_variable(variable, rng))
                for layer in self.layers for variable in layer.variables]

    # The interface (checked by TwinModel) ------------------------------------------------

    def forward_impl(self, inputs: dict, noise: dict, training: bool, overrides: dict
                     ) -> OrderedDict[str, tf.Tensor]:
        with tf.device(self.device):
            return self._taps(_tensors(inputs), _tensors(noise), _tensors(overrides), training)

    def run_layer_impl(self, layer: Layer, inputs: list[ArrayLike], training: bool
                       ) -> tf.Tensor:
        """One spec layer, eagerly, on the given inputs (NHWC)."""
        with tf.device(self.device):
            return self.apply(layer, [_float32(x) for x in inputs], training)

    def run_chain_impl(self, layers: list[Layer], sources: dict[str, ArrayLike],
                       training: bool) -> tf.Tensor:
        """The chain as one `tf.function` (traced once per chain and shapes: a pixel loop's
        calls run one graph, as the code's `sess.run` of its decoder does)."""
        with tf.device(self.device):
            return self._chain(tuple(layer.name for layer in layers), _tensors(sources),
                               training)

    def layer_gradients_impl(self, layer: Layer, inputs: list[ArrayLike], upstream: ArrayLike,
                             training: bool) -> tuple[list[tf.Tensor | None], dict]:
        """One spec layer's vector-Jacobian product, eagerly (NHWC)."""
        own = [self.named_variables[v.name] for v in layer.variables if v.trainable]
        with tf.device(self.device):
            xs = [_float32(x) for x in inputs]
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = self.apply(layer, xs, training)
            grads = [None if grad is None else tf.convert_to_tensor(grad)  # gathers: sparse
                     for grad in tape.gradient(y, [*xs, *own],
                                               output_gradients=_float32(upstream))]
        return (grads[:len(xs)],
                {variable.name: grad for variable, grad in
                 zip([v for v in layer.variables if v.trainable], grads[len(xs):], strict=True)})

    def gradients_impl(self, inputs: dict, noise: dict, training: bool
                       ) -> tuple[OrderedDict[str, tf.Tensor], dict, dict]:
        with tf.device(self.device):
            taps, input_grads, grads = self._gradients(_tensors(inputs), _tensors(noise),
                                                       training)
        return (taps, dict(zip(self._trainable_names, grads, strict=True)),
                {name: self.to_numpy(grad)
                 for name, grad in zip(self._differentiable, input_grads, strict=True)})

    def train_step_impl(self, inputs: dict, noise: dict, lr: float) -> dict[str, tf.Tensor]:
        args = (_tensors(inputs), _tensors(noise), tf.constant(lr, tf.float32))
        with tf.device(self.device):
            if self.strategy is None:
                return self._train(*args)
            return self._train_distributed(*args)

    @tf.function
    def _train_distributed(self, inputs: dict[str, tf.Tensor], noise: dict[str, tf.Tensor],
                           lr: tf.Tensor) -> dict[str, tf.Tensor]:
        """`_train` as each worker's replica of `strategy` (one a worker)."""
        return self.strategy.run(self._train, args=(inputs, noise, lr))

    def get_weights(self) -> OrderedDict[str, np.ndarray]:
        return OrderedDict((name, variable.numpy().astype(np.float32))
                           for name, variable in self.named_variables.items())

    def set_weights_impl(self, weights: Mapping[str, np.ndarray]) -> None:
        for name, variable in self.named_variables.items():
            variable.assign(weights[name])

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        return np.asarray(value, dtype=np.float32)

    def variable(self, name: str) -> tf.Variable:
        """The variable of TF name `name` (as `ChainerTwin.variable`)."""
        return self.named_variables[name]

    def get_optimizer_state_impl(self) -> OrderedDict[str, Any]:
        state: OrderedDict[str, Any] = OrderedDict(
            (name, slot.numpy()) for name, slot in self.slots.items())
        state[STEP] = self.updates.numpy()
        return state

    def set_optimizer_state_impl(self, state: Mapping[str, np.ndarray]) -> None:
        for name, slot in self.slots.items():
            slot.assign(state[name])
        self.updates.assign(int(state[STEP]))

    def apply(self, layer: Layer, inputs: list[tf.Tensor], training: bool) -> tf.Tensor:
        """Dispatch `layer` on its kind to `_<kind>(layer, *inputs, training=...)`."""
        method = getattr(self, f"_{layer.kind}", None)
        if method is None:
            raise ValueError(f"{layer.name}: unknown layer kind {layer.kind!r}")
        return method(layer, *inputs, training=training)

    # Layer kinds every pair may use (`docs/port-interface.md`) ----------------------------

    def _dense(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        """A dense layer on the input flattened after its batch axis (TF's order): @
        `{layer}/kernel` [in, out] (`Transpose.MATRIX`), + `{layer}/bias` when declared."""
        y = tf.reshape(x, [tf.shape(x)[0], -1]) @ self.variable(f"{layer.name}/kernel")
        bias = self.named_variables.get(f"{layer.name}/bias")
        return y if bias is None else y + bias

    def _mse(self, layer: Layer, y: tf.Tensor, target: tf.Tensor, training: bool
             ) -> tf.Tensor:
        """The mean squared error, a scalar."""
        return tf.reduce_mean(tf.square(y - target))

    def _basic_conv_lstm(self, layer: Layer, x: tf.Tensor, *state: tf.Tensor, training: bool
                         ) -> tf.Tensor:
        """The ConvLSTM cell TF1 video code copies (Finn et al.'s basic_conv_lstm_cell,
        loliverhennigh's BasicConvLSTMCell): state concat(c, h) (zeros when not given); one
        SAME conv of concat(x, h) by `attrs["kernel"]` plus `attrs["bias"]`, split i, j, f, o;
        c' = c sigm(f + forget_bias) + sigm(i) tanh(j), h' = tanh(c') sigm(o); returns
        concat(c', h')."""
        a = layer.attrs
        if state:
            c, h = tf.split(state[0], 2, axis=3)
        else:
            c = h = tf.zeros([tf.shape(x)[0], *x.shape[1:3], a["width"]])
        gates = tf.nn.bias_add(tf.nn.conv2d(tf.concat([x, h], axis=3),
                                            self.variable(a["kernel"]), 1, "SAME"),
                               self.variable(a["bias"]))
        i, j, f, o = tf.split(gates, 4, axis=3)
        new_c = c * tf.sigmoid(f + a["forget_bias"]) + tf.sigmoid(i) * tf.tanh(j)
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return tf.concat([new_c, new_h], axis=3)

    # Traced bodies -------------------------------------------------------------------------

    def _run(self, inputs: dict[str, tf.Tensor], noise: dict[str, tf.Tensor],
             overrides: Mapping[str, tf.Tensor], training: bool) -> OrderedDict[str, tf.Tensor]:
        return run_graph(self.layers, lambda layer, x: self.apply(layer, x, training),
                         sources={**inputs, **noise}, overrides=overrides)

    @tf.function
    def _taps(self, inputs: dict[str, tf.Tensor], noise: dict[str, tf.Tensor],
              overrides: dict[str, tf.Tensor], training: bool) -> OrderedDict[str, tf.Tensor]:
        return self._run(inputs, noise, overrides, training)

    @tf.function
    def _chain(self, names: tuple[str, ...], sources: dict[str, tf.Tensor], training: bool
               ) -> tf.Tensor:
        layers = [self.layer_by_name[name] for name in names]
        return run_graph(layers, lambda layer, x: self.apply(layer, x, training),
                         sources)[names[-1]]

    @tf.function
    def _gradients(self, inputs: dict[str, tf.Tensor], noise: dict[str, tf.Tensor],
                   training: bool
                   ) -> tuple[OrderedDict[str, tf.Tensor], list[tf.Tensor], list[tf.Tensor]]:
        sources = [inputs[name] for name in self._differentiable]
        with tf.GradientTape() as tape:
            for source in sources:
                tape.watch(source)
            taps = self._run(inputs, noise, {}, training)
        grads = tape.gradient(taps[self.pair.loss], [*sources, *self._trainable],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return taps, grads[:len(sources)], grads[len(sources):]

    @tf.function
    def _train(self, inputs: dict[str, tf.Tensor], noise: dict[str, tf.Tensor],
               lr: tf.Tensor) -> dict[str, tf.Tensor]:
        """One step of the pair's optimizer (TF1's apply_gradients, as slim's create_train_op
        runs it): variables without a gradient are left alone."""
        with tf.GradientTape() as tape:
            taps = self._run(inputs, noise, {}, True)
        grads = tape.gradient(taps[self.pair.loss], self._trainable)
        if self.strategy is not None:
            grads = _replica_reduce(grads, worker_gradients(self.preset))
        self._apply(grads, lr)
        wanted = {*self.pair.losses.values(), *self.pair.step_outputs.values()}
        return {**{name: taps[name] for name in wanted},
                GRADIENT_NORM: tf.linalg.global_norm([g for g in grads if g is not None])}

    def _apply(self, grads: list[tf.Tensor | None], lr: tf.Tensor) -> None:
        """The pair's optimizer kind's TF1 kernel (`tf_reference.optimizers`) on each variable
        with a gradient and its slots; then the update count advances (TF1's `_finish`)."""
        optimizer, update = self.pair.optimizer, self._update
        t = tf.cast(self.updates + 1, tf.float32)
        for name, variable, grad in zip(self._trainable_names, self._trainable, grads,
                                        strict=True):
            if grad is not None:
                slots = {key: self.slots[f"{name}/{slot}"]
                         for key, slot in zip(optimizer.keys, optimizer.slots, strict=True)}
                update(optimizer, variable, grad, slots, lr, t)
        self.updates.assign_add(1)

    def _build_optimizer(self) -> None:
        """The optimizer's state as TF1 keeps it: each slot at its first value, and the update
        count `step` that crosses the interface."""
        optimizer = self.pair.optimizer
        self.slots = OrderedDict()
        for name in self.optimizer_shapes:
            if name != STEP:
                variable, _, slot = name.rpartition("/")
                self.slots[name] = tf.Variable(optimizer.first_value(
                    slot, self.named_variables[variable].numpy()), trainable=False)
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._update = resolve(optimizer.kind.tf_update or by_rule)


def _replica_reduce(grads: list[tf.Tensor | None], how: str) -> list[tf.Tensor | None]:
    """Each gradient averaged ("mean") or added ("sum") over the replicas in sync (one
    all-reduce for all of them; `spec.pair.worker_gradients`); a variable without one stays
    without (every replica runs the same graph)."""
    present = [grad for grad in grads if grad is not None]
    op = tf.distribute.ReduceOp.SUM if how == "sum" else tf.distribute.ReduceOp.MEAN
    reduced = iter(tf.distribute.get_replica_context().all_reduce(op, present))
    return [None if grad is None else next(reduced) for grad in grads]


def _float32(value: ArrayLike) -> tf.Tensor:
    return tf.cast(value, tf.float32)


def _tensors(values: Mapping[str, ArrayLike]) -> dict[str, tf.Tensor]:
    return {name: _float32(value) for name, value in values.items()}
