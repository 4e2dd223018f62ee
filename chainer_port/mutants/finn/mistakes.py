"""The porting mistakes of seed 001's Chainer port that are no TF behaviour, as mixins over
a variant's twin (`chainer_port.finn`); the per-variant modules compose them. The ones that
are a TF behaviour done the Chainer way are `TFCompat` options (`base.compat_mutant`)."""

from __future__ import annotations

from typing import Any

import chainer
import chainer.functions as F
import numpy as np
from chainer import initializers

from chainer_port.finn import FinnModel
from chainer_port.mutants import base
from chainer_port.tf_compat import nhwc_flatten
from spec.layer import Layer

SEED_RELU_SHIFT_ADDED = 1e12  # the seed's `F.relu(enc7 - 1e-12) + 1e+12`


def on(mistake: type, model: type[FinnModel]) -> type:
    """The mutant of `model` making `mistake` (a mixin here): its class, named as the mixin."""
    return type(mistake.__name__, (mistake, model), {"__doc__": mistake.__doc__})


def pad_half_kernel(model: type[FinnModel], name: str) -> Any:
    return base.compat_mutant(
        model, name, "`pad=filter_size // 2` on every conv and deconv (the seed's "
        "`pad=filter_size/2`, made an int): symmetric, where TF's SAME pads stride 2 on even "
        "sizes one pixel less before, and crops a stride-2 deconv from its start.",
        same_pad_extra="before", deconv="pad_one")


def masks_reshaped_nchw(model: type[FinnModel], name: str) -> Any:
    return base.compat_mutant(
        model, name, "The masks reshaped to [-1, num_masks + 1] in NCHW order before the "
        "softmax, as TF's NHWC code reads.", channel_softmax="nchw_reshape")


def layer_norm_per_pixel(model: type[FinnModel], name: str) -> Any:
    return base.compat_mutant(
        model, name, "Chainer's LayerNormalization on every pixel's channels (eps 1e-5) for "
        "tf.contrib.layers.layer_norm over the whole map (eps 1e-12).", layer_norm="chainer")


class StatelessLinks:
    """Links created inside `__call__` (the seed's 'stateless' port): every call of a conv,
    deconv or fully connected layer draws new weights (Chainer's LeCun normal), so the weights
    set on the model are never used."""

    def var(self, scope: str, leaf: str) -> chainer.Variable:
        variable = FinnModel.var(self, scope, leaf)
        if not leaf.endswith("weights"):
            return variable
        rng = getattr(self, "_fresh_rng", None) or np.random.default_rng(1)
        self._fresh_rng = rng
        array = np.empty(variable.shape, np.float32)
        initializers.LeCunNormal(rng=rng)(array)
        return chainer.Variable(self.device.send(array.astype(variable.dtype)))


class StateSplitHC:
    """The ConvLSTM state split as (h, c) where TF's is concat(c, h)."""

    STATE_SPLIT = ("h", "c")


class ReluShiftTypo:
    """RELU_SHIFT added back as 1e+12 (the seed's DNA line `F.relu(x - 1e-12) + 1e+12`):
    every kernel weight is ~1e12, so normalised they are all equal."""

    @staticmethod
    def relu_shift(x: chainer.Variable, shift: float) -> chainer.Variable:
        return F.relu(x - shift) + SEED_RELU_SHIFT_ADDED


class CDNAKernelsTiled:
    """The CDNA kernels copied per colour channel with `F.tile` where the images' copies are
    mask-major: copy (m, c) meets kernel (m * C + c) mod masks, another mask's."""

    @staticmethod
    def expand_cdna_kernels(kernels: chainer.Variable, channels: int) -> chainer.Variable:
        return F.tile(kernels, (1, channels, 1, 1))


class DNARepadded:
    """DNA's shifted copies made by slicing the image at the offset and zero-padding the end
    back to size (the seed's 'added this operation to make sure the size was still the
    original one'), not by slicing the padded image: every copy is shifted by the kernel's
    half width, the centre tap included. Copy (dy, dx), image[dy:, dx:] padded by (dy, dx) at
    the end, is the window at (dy, dx) of the image padded by k - 1 at the end only."""

    @staticmethod
    def dna_pads(k: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return (0, k - 1), (0, k - 1)


class OwnSchedule:
    """Scheduled sampling with the port's own random order of the batch (its seeded
    generator), not the shared noise: the same count of ground-truth samples, other
    samples."""

    def ground_truth_samples(self, layer: Layer, iter_num: chainer.Variable,
                             schedule: chainer.Variable) -> np.ndarray:
        own = self.noise_rng.random(schedule.shape, dtype=np.float32)
        return FinnModel.ground_truth_samples(self, layer, iter_num,
                                              chainer.Variable(self.device.send(own)))


class StateNotCarried:
    """Every ConvLSTM cell started from zeros at every step: the state is not carried (the
    recurrent state dropped from the cell's call)."""

    def _basic_conv_lstm(self, layer: Layer, x: chainer.Variable, *state: chainer.Variable,
                         training: bool) -> chainer.Variable:
        return FinnModel._basic_conv_lstm(self, layer, x, training=training)


class BackgroundFromLastPrediction:
    """The composite's background taken from the step before's prediction, never from the
    previous frame (which is the ground truth at the context steps)."""

    def _composite(self, layer: Layer, prev_image: chainer.Variable, masks: chainer.Variable,
                   *transformed: chainer.Variable, training: bool) -> chainer.Variable:
        background = prev_image if layer.attrs["t"] == 0 else self._last_prediction
        out = FinnModel._composite(self, layer, background, masks, *transformed,
                                   training=training)
        self._last_prediction = out
        return out


class BiasTwice:
    """The fully connected layers' bias added again after `F.linear` (which adds it)."""

    def _fc(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        a = layer.attrs
        flat = nhwc_flatten(x) if a["flatten"] else x
        bias = self.var(a["scope"], "biases")
        y = F.linear(flat, self.var(a["scope"], "weights"), bias) + F.broadcast_to(
            bias, (flat.shape[0], bias.shape[0]))
        return F.relu(y) if a["relu"] else y
