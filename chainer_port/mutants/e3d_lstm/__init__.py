"""Mutants of the E3D-LSTM's Chainer port, one porting pitfall each (catalogue:
`spec.e3d_lstm.pitfalls`). Each is its own factory, `Mutant(preset, seed=0, device="cpu")`.
`OldGlobalMemory` is the catalogue's `global_memory_passed` the other way round, for a preset
on the paper's side (`tiny_as_paper`), outside the suite's preset."""

from __future__ import annotations

import dataclasses
from typing import Any

import chainer
import chainer.functions as F

from chainer_port.e3d_lstm import E3DLSTMModel, positions
from chainer_port.mutants import base
from chainer_port.optimizer import step_in_place
from spec.layer import Layer
from spec.optimizers import Optimizer


class KernelDepthHeight(E3DLSTMModel):
    """Every 3-D kernel read with its depth and height axes swapped ((out, in, h, d, w): a
    [d, h, w, in, out] kernel transposed as if it were [h, d, w, in, out])."""

    def kernel(self, scope: str) -> chainer.Variable:
        return F.swapaxes(super().kernel(scope), 2, 3)


class SoftmaxOverQueries(E3DLSTMModel):
    """The eidetic attention's softmax over the queries (axis 1), Chainer's default axis."""

    def attend(self, query: chainer.Variable, keys: chainer.Variable) -> chainer.Variable:
        q, k = positions(query), positions(keys)
        out = F.matmul(F.softmax(F.matmul(q, k, transb=True), axis=1), k)
        b, c, *volume = query.shape
        return F.transpose(F.reshape(out, (b, *volume, c)), (0, 4, 1, 2, 3))


class HistoryNotAccumulated(E3DLSTMModel):
    """c_history not accumulated: the attention recalls only the cell state entering the
    step (the code concatenates the zero state and every earlier cell)."""

    def history(self, r_t: chainer.Variable, cells: tuple[chainer.Variable, ...]
                ) -> chainer.Variable:
        return cells[-1] if cells else super().history(r_t, ())


class NewGlobalMemory(E3DLSTMModel):
    """The cell passes on its new global memory (the paper), where the code returns the one
    it was given."""

    def _gate_conv(self, layer: Layer, source: chainer.Variable, training: bool
                   ) -> chainer.Variable:
        if layer.attrs["carried"]:
            layer = dataclasses.replace(layer, attrs={**layer.attrs, "zero_input": False})
        return super()._gate_conv(layer, source, training=training)


class OldGlobalMemory(E3DLSTMModel):
    """The reverse, where the paper's new memory is wanted (`Preset.global_memory` "new"):
    the code's `return ..., global_memory` copied into the port."""

    def _gate_conv(self, layer: Layer, source: chainer.Variable, training: bool
                   ) -> chainer.Variable:
        if layer.name.endswith("/global_memory"):
            layer = dataclasses.replace(layer, attrs={**layer.attrs, "zero_input": True})
        return super()._gate_conv(layer, source, training=training)


class WindowOneFrameLate(E3DLSTMModel):
    """The window taken one frame late, `input_list[t - 1:t + 1]`: frames t - 2 and t - 1
    (zeros before the first), not t - 1 and t."""

    def _window(self, layer: Layer, *frames: chainer.Variable, training: bool
                ) -> chainer.Variable:
        xp = chainer.backend.get_array_module(frames[0])
        zeros = xp.zeros_like(chainer.as_array(frames[0]))
        listed = [zeros, zeros, *frames]
        t = layer.attrs["t"]
        return F.stack(listed[t:t + 2], axis=2)


PatchesNCHW = base.compat_mutant(
    E3DLSTMModel, "PatchesNCHW", "reshape_patch done on the NCHW frames: a plain reshape to "
    "[N, C p^2, H / p, W / p] instead of the code's (TF's space_to_depth) order.",
    space_to_depth="nchw_reshape")
LayerNormChannels = base.compat_mutant(
    E3DLSTMModel, "LayerNormChannels", "Every layer norm over each position's channels only "
    "(Chainer's L.LayerNormalization, eps 1e-5), not every axis but the batch.",
    layer_norm="chainer")


def chainers_adam(optimizer: Optimizer, var: Any, grad: Any, state: dict[str, Any], lr: float,
                  t: float) -> None:
    """Chainer's `Adam` at its defaults (beta1 0.9, beta2 0.999, eps 1e-8 outside the sqrt,
    the bias correction in its step size) in the code's two moment slots; the EMA kept."""
    state["v"] += (1 - 0.9) * (grad - state["v"])
    state["mg"] += (1 - 0.999) * (grad * grad - state["mg"])
    step = lr * (1 - 0.999 ** t) ** 0.5 / (1 - 0.9 ** t)
    decay = optimizer.settings["ema_decay"]
    state["ema"][...] = decay * state["ema"] + (1 - decay) * var
    var -= step * state["v"] / (state["mg"] ** 0.5 + 1e-8)


def without_ema(optimizer: Optimizer, var: Any, grad: Any, state: dict[str, Any], lr: float,
                t: float) -> None:
    """The code's Adam without its moving average (the EMA not kept)."""
    ema = state["ema"].copy()
    step_in_place(optimizer, var, grad, state, lr, t)
    state["ema"][...] = ema


ChainersAdam = base.optimizer_mutant(
    E3DLSTMModel, "ChainersAdam", "chainer.optimizers.Adam in place of the code's "
    "adam_updates (its betas, epsilon outside the sqrt).", chainer_update=chainers_adam)
EMANotKept = base.optimizer_mutant(
    E3DLSTMModel, "EMANotKept", "The code's Adam without the ExponentialMovingAverage of the "
    "variables it also keeps.", chainer_update=without_ema)

__all__ = ["ChainersAdam", "EMANotKept", "HistoryNotAccumulated", "KernelDepthHeight",
           "LayerNormChannels", "NewGlobalMemory", "PatchesNCHW",
           "SoftmaxOverQueries", "WindowOneFrameLate"]
