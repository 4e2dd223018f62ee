"""The outside clip pair's porting mistakes, each one line in its Chainer twin, scored as the
built-in pairs' are: `twinport pitfalls --check --model tests.outside_clip_mutants:PAIR`."""

import dataclasses

import chainer.functions as F

from chainer_port.mutants.base import CHAINERS_RMSPROP, chainer_rmsprop, optimizer_mutant
from chainer_port.tf_compat import tf_conv
from spec.pitfall import Pitfall
from spec.section_keys import AFTER_TRAINING, FORWARD_E2E_INFERENCE
from tests.outside_clip_pair import PAIR as CLIP_PAIR
from tests.outside_clip_pair import ChainerClip


class SoftmaxOverQueries(ChainerClip):
    """The attention's softmax over axis 1 (the queries), not the keys."""

    def _attention(self, layer, x, training):
        q, k = (F.linear(x, self.variable(f"attention/{name}"), n_batch_axes=2) for name in "qk")
        return F.softmax(F.matmul(q, k, transb=True) / x.shape[-1] ** 0.5, axis=1)


class KernelDH(ChainerClip):
    """The conv3d kernel's D and H axes swapped (a kernel read in [h, d, w] order)."""

    def _conv3d(self, layer, x, training):
        y = tf_conv(x, F.swapaxes(self.variable("conv/kernel"), 2, 3), "SAME")
        return F.bias(y, self.variable("conv/bias"), axis=1)


EpsilonOutside = optimizer_mutant(
    ChainerClip, "EpsilonOutside", "RMSProp's epsilon added to sqrt(ms), not inside it.",
    chainer_update=chainer_rmsprop)
ChainersRMSprop = optimizer_mutant(
    ChainerClip, "ChainersRMSprop", "Chainer's own RMSprop: ms from zeros, epsilon outside.",
    **CHAINERS_RMSPROP)

PITFALLS = (
    Pitfall("softmax_axis", "attention softmax over the queries",
            "tf.nn.softmax(scores, axis=-1): each query's weights over the keys sum to one.",
            "F.softmax(scores, axis=1), Chainer's default axis.",
            "attention fails first; the hint names the axes each side sums over.",
            "axis=2 (the keys) in Chainer's (N, T, T) scores.", "SoftmaxOverQueries",
            FORWARD_E2E_INFERENCE, "attention", hints=("normalised_over_another_axis",)),
    Pitfall("kernel_axes", "conv3d kernel with D and H swapped",
            "tf.nn.conv3d's kernel is [d, h, w, in, out].",
            "A kernel reshaped or read in another axis order.",
            "conv fails first; the isolated backward's kernel gradient is the reference's "
            "permuted, and the hint gives the transpose that undoes it.",
            "Transpose.KERNEL alone.", "KernelDH", FORWARD_E2E_INFERENCE, "conv",
            hints=("kernel_axes_swapped",)),
    Pitfall("rmsprop_epsilon", "RMSProp's epsilon outside the sqrt",
            "TF1's ApplyRMSProp: lr g / sqrt(ms + epsilon).",
            "lr g / (sqrt(ms) + epsilon), as Chainer's RMSprop and the papers write it.",
            "Every section before training agrees; the state after it fails first, at the "
            "momentum slot that holds the step.", "spec.optimizers' rmsprop kind.",
            "EpsilonOutside", AFTER_TRAINING, "*/RMSProp_1", hints=("optimizer_state",)),
    Pitfall("chainers_rmsprop", "Chainer's own RMSprop",
            "TF1's RMSProp starts ms at ones and adds epsilon inside the sqrt.",
            "chainer.optimizers.RMSprop: ms from zeros, epsilon outside the sqrt.",
            "The state after training fails first (the synced state hides the zeros; the "
            "step does not).", "spec.optimizers' rmsprop kind.", "ChainersRMSprop",
            AFTER_TRAINING, "*/RMSProp_1", hints=("optimizer_state",)),
)

PAIR = dataclasses.replace(CLIP_PAIR, pitfalls=PITFALLS, mutants="tests.outside_clip_mutants",
                           suite={"preset": "small", "batch_size": 3, "steps": 3})
