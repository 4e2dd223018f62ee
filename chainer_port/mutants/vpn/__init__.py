"""Mutants of the VPN's Chainer port, one porting pitfall each (catalogue:
`spec.vpn.pitfalls`). Each is its own factory, `Mutant(preset, seed=0, device="cpu")`."""

from __future__ import annotations

import dataclasses
import re
import zlib

import chainer
import numpy as np

from chainer_port.mutants.base import CHAINERS_RMSPROP, optimizer_mutant
from chainer_port.vpn import VPNModel
from spec.layer import Layer


class MasksSwapped(VPNModel):
    """Mask A and mask B swapped: the first unit keeps the pixel's own value, the later ones
    hide their own features' centre."""

    def mask(self, k: int, cin: int, cout: int, mask: str, masked_channels: int
             ) -> np.ndarray:
        swapped = {"A": "B", "B": "A"}[mask]
        return super().mask(k, cin, cout, swapped, cin if swapped == "A" else masked_channels)


class MaskRowsBelowKept(VPNModel):
    """The mask's rows off by one: only the rows two below the centre zeroed (a `centre + 2`
    where `centre + 1` was meant), so each pixel sees the row under it."""

    def mask(self, k: int, cin: int, cout: int, mask: str, masked_channels: int
             ) -> np.ndarray:
        pattern = super().mask(k, cin, cout, mask, masked_channels)
        pattern[k // 2 + 1] = 1.0  # the row under the centre left unmasked
        return pattern


class DilationIgnored(VPNModel):
    """The encoder's dilation dropped (a 3x3 conv where TF's `dilation_rate` was given)."""

    def _rmb(self, layer: Layer, h: chainer.Variable, training: bool) -> chainer.Variable:
        return super()._rmb(dataclasses.replace(layer, attrs={**layer.attrs, "dilation": 1}),
                            h, training=training)


class GatesInChainersOrder(VPNModel):
    """The ConvLSTM's four gate blocks read in Chainer's `F.lstm` order a, i, f, o (the
    candidate first), where the code's conv gives i, j, f, o."""

    GATE_SPLIT = ("j", "i", "f", "o")


class WeightsPerStep(VPNModel):
    """No template sharing: each step after the first has weights of its own (drawn by the
    port's initialisers, never loaded), as a port that builds its blocks inside the loop."""

    def apply(self, layer: Layer, inputs: list, training: bool) -> chainer.Variable:
        step = re.search(r"(?:encoder|lstm|decoder)_(\d+)", layer.name)
        self._step = int(step.group(1)) if step else 0
        return super().apply(layer, inputs, training)

    def variable(self, name: str) -> chainer.Variable:
        shared = super().variable(name)
        if getattr(self, "_step", 0) == 0:
            return shared
        own = getattr(self, "_own", None) or {}
        self._own = own
        key = (self._step, name)
        if key not in own:
            rng = np.random.default_rng([self._step, zlib.crc32(name.encode())])
            scale = float(np.abs(shared.array).max()) or 1.0
            own[key] = self.device.send(
                rng.uniform(-scale, scale, shared.shape).astype(shared.dtype))
        return chainer.Variable(own[key])


class LabelsOffByOne(VPNModel):
    """The labels one frame early: each step's logits scored against the frame it was given
    (the current frame's own values), not the next one."""

    def _pixel_cross_entropy(self, layer: Layer, frames: chainer.Variable,
                             *logits: chainer.Variable, training: bool) -> chainer.Variable:
        shifted = dataclasses.replace(layer, attrs={**layer.attrs,
                                                    "first": layer.attrs["first"] - 1})
        return super()._pixel_cross_entropy(shifted, frames, *logits, training=training)


class WarmUpNotCarried(VPNModel):
    """The training pass started from zero states: the warm-up's state not carried in."""

    def _basic_conv_lstm(self, layer: Layer, x: chainer.Variable, *state: chainer.Variable,
                         training: bool) -> chainer.Variable:
        if layer.name == "lstm_0":
            state = ()
        return super()._basic_conv_lstm(layer, x, *state, training=training)


ChainersRMSprop = optimizer_mutant(
    VPNModel, "ChainersRMSprop", "chainer.optimizers.RMSprop: the mean square from zeros, "
    "epsilon outside the sqrt.", **CHAINERS_RMSPROP)
RMSpropChainerDefaults = optimizer_mutant(
    VPNModel, "RMSpropChainerDefaults", "TF1's RMSProp rule at Chainer's RMSprop defaults: "
    "decay (alpha) 0.99, epsilon 1e-8.", settings={"decay": 0.99, "epsilon": 1e-8})

__all__ = ["ChainersRMSprop", "DilationIgnored", "GatesInChainersOrder", "LabelsOffByOne",
           "MaskRowsBelowKept", "MasksSwapped", "RMSpropChainerDefaults",
           "WarmUpNotCarried", "WeightsPerStep"]
