"""The cross-conv model in Chainer: the spec's graph, the same methods and names as the TF twin.

Links are nested like the seed's TF scopes (`motion_encoder/Conv_3`, `image_decoder_0`, the
top-level `Conv`), so Chainer's own paths are the TF variable names: the parameter
`/motion_encoder/Conv_3/BatchNorm/beta` is `motion_encoder/Conv_3/BatchNorm/beta`. Weights
cross the interface by that rule plus one transpose per kernel (`spec.layout`); there is no
list of names here. Chainer 7.8.1 has no `namedpersistent()`, so the variables including the
moving statistics are read and written through Chainer's serializer protocol
(`DictionarySerializer` / `NpzDeserializer`), whose keys are the same paths.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import chainer
import chainer.functions as F
import numpy as np
from chainer import optimizers
from chainer.backends import cuda
from chainer.serializers import DictionarySerializer, NpzDeserializer

from chainer_port.device import resolve_device
from chainer_port.layers import LINKS
from chainer_port.tf_compat import (
    batched_cross_conv,
    frames_to_nchw,
    nhwc_flatten,
    nhwc_unflatten,
    tf1_bilinear_resize,
    tf_max_pool,
)
from common.errors import UserError
from spec import ForwardResult, Layer, Preset, build_spec, get_preset, learning_rate, run_graph
from spec.layers import EPSILON, FRAMES, Z_MEAN, Z_STDDEV_LOG
from spec.layout import weight_to_chainer, weight_to_tf
from spec.weights import InterchangeFile, check_weights, variable_shapes


def _pair_major(x: chainer.Variable) -> chainer.Variable:
    """[B, P, C, H, W] -> [P * B, C, H, W]: all samples' pair 0, then pair 1 (the seed's concat)."""
    return F.reshape(F.swapaxes(x, 0, 1), (-1, *x.shape[2:]))


class CrossConvModel(InterchangeFile, chainer.Chain):
    """The seed's CrossConvModel on NCHW Chainer arrays (NumPy or CuPy).

    dtype "float64" runs the same code in double precision: the harness's yardstick for the
    float32 noise floor (`python -m parity.noise_floor`). Weights still cross the interface
    as float32.
    """

    layout = "NCHW"

    def __init__(self, preset: str | Preset = "paper", seed: int = 0, device: str = "cpu",
                 dtype: str = "float32") -> None:
        super().__init__()
        self.preset = preset if isinstance(preset, Preset) else get_preset(preset)
        self.layers = build_spec(self.preset)
        self._layer_by_name = {layer.name: layer for layer in self.layers}
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            if layer.kind in LINKS:
                self._add_scoped_link(layer.name, LINKS[layer.kind](layer, rng))
        check_weights(self._tf_variables(), self.layers, "chainer_port link tree")
        self.dtype = np.dtype(dtype)
        if self.dtype != np.float32:
            self._cast_variables(self.dtype)
        self.to_device(resolve_device(device))
        with chainer.using_device(self.device):
            self.epsilon_rng = self.xp.random.RandomState(seed)
        self.optimizer = optimizers.SGD()
        self.optimizer.setup(self)

    # -- the interface -------------------------------------------------------------------------

    def forward(self, frames: Any, epsilon: Any = None, z_mean: Any = None,
                z_stddev_log: Any = None, training: bool = False) -> ForwardResult:
        """Run the graph on NHWC frames [B, L, H, W, C]; taps NCHW Variables (no backprop graph)."""
        overrides = {name: self._input(value)
                     for name, value in ((Z_MEAN, z_mean), (Z_STDDEV_LOG, z_stddev_log))
                     if value is not None}
        frames = self._frames(frames)
        with chainer.no_backprop_mode():
            return self._run(frames, self._epsilon(frames, epsilon), overrides, training)

    def run_layer(self, name: str, inputs: Sequence[Any], training: bool = False
                  ) -> chainer.Variable:
        """One spec layer on the given native-layout inputs (isolated parity)."""
        layer = self._layer_by_name.get(name)
        if layer is None:
            raise UserError(f"no layer named {name!r} in the {self.preset.name} graph")
        if len(inputs) != len(layer.inputs):
            raise UserError(f"layer {name} takes {len(layer.inputs)} inputs "
                            f"({', '.join(layer.inputs)}), got {len(inputs)}")
        with chainer.using_config("train", training):
            return self.apply(layer, [self._input(value) for value in inputs], training)

    def gradients(self, frames: Any, epsilon: Any, training: bool = True
                  ) -> tuple[ForwardResult, OrderedDict[str, np.ndarray], np.ndarray]:
        """d loss / d every variable (TF names and layout; zeros if unconnected), d loss / d frames.

        A training-mode forward updates the moving statistics, as `forward(training=True)`
        does.
        """
        frames = chainer.Variable(self._frames(frames).array)
        result = self._run(frames, self._epsilon(frames, epsilon), {}, training)
        self.cleargrads()
        result.loss.backward()
        grads = {path.lstrip("/"): param.grad for path, param in self.namedparams()}
        weights = OrderedDict(
            (name, np.zeros(shape, dtype=np.float32) if grads.get(name) is None
             else np.ascontiguousarray(weight_to_tf(self.to_numpy(grads[name]))))
            for name, shape in variable_shapes(self.layers).items())
        return result, weights, self.to_numpy(frames.grad)

    def train_step(self, frames: Any, epsilon: Any, step: int | float,
                   lr: float | None = None) -> dict[str, Any]:
        """One plain SGD step at `lr` (default `spec.learning_rate(step)`), training mode.

        Chainer's `optimizers.SGD` (`param -= lr * grad`) with `optimizer.lr` set before the
        update; its update rule skips parameters whose gradient is None (the discarded deconv
        BatchNorm's beta), so they are not changed, as in TF.
        """
        lr = learning_rate(step) if lr is None else float(lr)
        frames = self._frames(frames)
        result = self._run(frames, self._epsilon(frames, epsilon), {}, training=True)
        self.cleargrads()
        result.loss.backward()
        self.optimizer.lr = lr
        self.optimizer.update()
        losses = {"loss": result.loss, "l2_loss": result.l2_loss, "kl_loss": result.kl_loss}
        return {**{key: float(self.to_numpy(value)) for key, value in losses.items()}, "lr": lr,
                "z_mean": self.to_numpy(result.z_mean),
                "z_stddev_log": self.to_numpy(result.z_stddev_log)}

    def get_weights(self) -> OrderedDict[str, np.ndarray]:
        """Every variable: TF name, TF layout, float32 host copies, graph order."""
        variables = self._tf_variables()
        return OrderedDict((name, variables[name]) for name in variable_shapes(self.layers))

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Copy TF-named, TF-layout weights in place (checked first: one UserError for all)."""
        check_weights(weights, self.layers, "set_weights")
        chainer_layout = {name: np.ascontiguousarray(weight_to_chainer(value))
                          for name, value in weights.items()}
        NpzDeserializer(chainer_layout).load(self)

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        """A tap, output, loss or gradient as a host float32 NumPy copy (native layout)."""
        array = value.array if isinstance(value, chainer.Variable) else value
        return np.array(cuda.to_cpu(array), dtype=np.float32)

    # -- the graph -----------------------------------------------------------------------------

    def apply(self, layer: Layer, inputs: Sequence[chainer.Variable], training: bool
              ) -> chainer.Variable:
        """Dispatch `layer` on its kind to `_<kind>(layer, *inputs, training=...)`."""
        method = getattr(self, f"_{layer.kind}", None)
        if method is None:
            raise ValueError(f"{layer.name}: unknown layer kind {layer.kind!r}")
        return method(layer, *inputs, training=training)

    def _resize(self, layer: Layer, frames: chainer.Variable, training: bool
                ) -> chainer.Variable:
        return tf1_bilinear_resize(frames * layer.attrs["scale"], layer.attrs["size"])

    def _pair_image(self, layer: Layer, frames: chainer.Variable, training: bool
                    ) -> chainer.Variable:
        return _pair_major(frames[:, :-1])

    def _pair_diff(self, layer: Layer, frames: chainer.Variable, training: bool
                   ) -> chainer.Variable:
        return (_pair_major(frames[:, 1:] - frames[:, :-1]) + layer.attrs["scale"]) / 2

    def _concat(self, layer: Layer, *xs: chainer.Variable, training: bool) -> chainer.Variable:
        return F.concat(xs, axis=1)

    def _conv(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return self._link(layer.name)(x, training)

    def _max_pool(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        attrs = layer.attrs
        return tf_max_pool(x, attrs["kernel"], attrs["stride"], attrs["padding"])

    def _z_split(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return F.split_axis(nhwc_flatten(x), 2, axis=1)[layer.attrs["part"]]

    def _sample_kernel(self, layer: Layer, z_mean: chainer.Variable,
                       z_stddev_log: chainer.Variable, epsilon: chainer.Variable,
                       training: bool) -> chainer.Variable:
        size, _, channels = layer.shape
        return nhwc_unflatten(z_mean + F.exp(z_stddev_log) * epsilon, size, channels)

    def _cross_conv(self, layer: Layer, features: chainer.Variable, kernel: chainer.Variable,
                    training: bool) -> chainer.Variable:
        width = kernel.shape[1] // layer.attrs["parts"]
        part = layer.attrs["part"]
        return batched_cross_conv(features, kernel[:, part * width:(part + 1) * width])

    def _deconv(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return self._link(layer.name)(x, training)

    def _l2_loss(self, layer: Layer, output: chainer.Variable, target: chainer.Variable,
                 training: bool) -> chainer.Variable:
        return F.mean(F.square(output - target))

    def _kl_loss(self, layer: Layer, z_mean: chainer.Variable, z_stddev_log: chainer.Variable,
                 training: bool) -> chainer.Variable:
        terms = F.square(z_mean) + F.square(F.exp(z_stddev_log)) - 2 * z_stddev_log - 1
        return 0.5 * F.mean(terms)

    def _add(self, layer: Layer, a: chainer.Variable, b: chainer.Variable, training: bool
             ) -> chainer.Variable:
        return a + b

    # -- helpers -------------------------------------------------------------------------------

    def _run(self, frames: chainer.Variable, epsilon: chainer.Variable,
             overrides: Mapping[str, chainer.Variable], training: bool) -> ForwardResult:
        """The graph on NHWC `frames`, recording the backprop graph when enabled."""
        sources = {FRAMES: frames_to_nchw(frames), EPSILON: epsilon}
        with chainer.using_config("train", training):
            taps = run_graph(self.layers,
                             lambda layer, inputs: self.apply(layer, inputs, training),
                             sources, overrides)
        return ForwardResult.from_taps(self.layers, taps)

    def _frames(self, frames: Any) -> chainer.Variable:
        """NHWC frames [B, L >= 2, H, W, C] as a Variable on the model's device."""
        frames = self._input(frames)
        if frames.ndim != 5 or frames.shape[1] < 2 or frames.shape[4] != self.preset.channels:
            raise UserError(f"frames must be [batch, seq_len >= 2, height, width, "
                            f"{self.preset.channels}], got {list(frames.shape)}")
        return frames

    def _epsilon(self, frames: chainer.Variable, epsilon: Any) -> chainer.Variable:
        """The given VAE noise [B*(L-1), z_dim], or a draw from the seeded generator."""
        shape = (frames.shape[0] * (frames.shape[1] - 1), self.preset.z_dim)
        if epsilon is None:
            with chainer.using_device(self.device):
                epsilon = self.epsilon_rng.standard_normal(shape)
        epsilon = self._input(epsilon)
        if epsilon.shape != shape:
            raise UserError(f"epsilon must be {list(shape)}, got {list(epsilon.shape)}")
        return epsilon

    def _input(self, value: Any) -> chainer.Variable:
        """A value as a Variable of the model's dtype on its device (Variables pass through)."""
        if isinstance(value, chainer.Variable):
            return value
        xp = chainer.backend.get_array_module(value)
        array = xp.asarray(value, dtype=self.dtype)
        return chainer.Variable(self.device.send(array), requires_grad=False)

    def _add_scoped_link(self, name: str, link: chainer.Link) -> None:
        """Register `link` under its TF scope path, creating the scope chains on the way."""
        *scopes, leaf = name.split("/")
        parent: chainer.Chain = self
        for scope in scopes:
            if not hasattr(parent, scope):
                parent.add_link(scope, chainer.Chain())
            parent = parent[scope]
        parent.add_link(leaf, link)

    def _cast_variables(self, dtype: np.dtype) -> None:
        """Every parameter and persistent array in `dtype` (float64 measures the noise floor)."""
        for param in self.params():
            param.array = param.array.astype(dtype)
        for link in self.links():
            for name in link._persistent:
                value = getattr(link, name)
                if hasattr(value, "astype"):
                    setattr(link, name, value.astype(dtype))

    def _link(self, name: str) -> chainer.Link:
        return functools.reduce(lambda link, scope: link[scope], name.split("/"), self)

    def _tf_variables(self) -> dict[str, np.ndarray]:
        """Every parameter and persistent by its path (= TF name), TF layout, host copies."""
        serializer = DictionarySerializer()
        serializer.save(self)
        return {name: np.array(weight_to_tf(value), dtype=np.float32, order="C")
                for name, value in serializer.target.items()}
