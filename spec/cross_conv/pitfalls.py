"""The cross-conv pair's catalogue of TF -> Chainer porting pitfalls: one entry per mistake,
and its mutant (a class in `chainer_port.mutants.cross_conv`).

`twinport pitfalls` prints this table, `twinport pitfalls --check` and tests/test_pitfalls.py
run the mutants (`parity.mutation`), and docs/pitfalls.md shows both. Figures quoted in
`shows` are from the suite's setting (`TwinPair.suite`: tiny, batch 2, 2 steps from step
15000) on data/generated/moving-objects.
"""

from __future__ import annotations

from spec.pitfall import Pitfall
from spec.section_keys import (
    BACKWARD_ISOLATED,
    FORWARD_E2E_INFERENCE,
    INITIALISATION,
    MOVING_STATISTICS,
    TRAINING_LOSSES,
)

CATALOGUE: tuple[Pitfall, ...] = (
    Pitfall(
        "same_pad_asymmetry", "SAME padding asymmetry (stride 2)",
        "padding='SAME' pads max((ceil(x/s) - 1) s + k - x, 0) in all, pad // 2 before and the "
        "rest after: an odd total puts the extra pixel bottom/right. Here: the image encoders' "
        "5x5 stride-2 max pools on even maps (1 before, 2 after); every conv is stride 1 with "
        "an odd kernel, so symmetric.",
        "Chainer's `pad=` is symmetric: `pad=k // 2`, or the odd pixel put before (top/left) "
        "as the mutant does; the window grid moves by one pixel.",
        "Values, not shapes: every forward mode fails first at image_encoder_0/MaxPool2D, and "
        "in isolated mode the four encoders' first pools are the only failing taps.",
        "`tf_compat.tf_same_pads` / `same_padding`: pad the excess row/column bottom/right "
        "with `F.pad`, the symmetric part through `pad=`.",
        "SamePadExtraBefore", FORWARD_E2E_INFERENCE, "image_encoder_0/MaxPool2D",
        hints=("border_only", "periodic_error")),
    Pitfall(
        "max_pool_same", "max pool SAME padding",
        "`max_pool2d(k=5, s=2, 'SAME')` on a 16x16 map pads (1, 2), padding never wins "
        "(-inf), and gives ceil(16 / 2) = 8.",
        "`F.max_pooling_2d(x, 5, 2, pad=2)`: symmetric pad and Chainer's default "
        "cover_all=True, which adds a window: 9x9.",
        "A shape failure at image_encoder_0/MaxPool2D (2x8x8x8 vs 2x9x9x8; diagnose: 'differs "
        "by one in a spatial axis: pooling cover_all'). The port's forward then raises at "
        "`decoder_input` (a concat of mismatched maps): the harness replays it layer by layer "
        "to name the first bad shape; gradients() and the training step are 'raised' items.",
        "`tf_compat.tf_max_pool`: TF's SAME pads with -inf, then `cover_all=False`. (Zero "
        "instead of -inf padding would be harmless here: every pool follows a ReLU.)",
        "MaxPoolSameCoverAll", FORWARD_E2E_INFERENCE, "image_encoder_0/MaxPool2D",
        hints=("shape_mismatch",)),
    Pitfall(
        "max_pool_grad_routing", "max pool gradient routed to the wrong element",
        "MaxPoolGrad sends each window's gradient to the element that won the forward.",
        "A hand-written pool backward (or a custom kernel) that counts the window index from "
        "the wrong end: the gradient lands on the mirrored position, while the forward is "
        "still exact.",
        "Every forward section passes. The isolated backward (each layer's backward fed the "
        "reference's inputs and upstream gradient) fails at the max pools and nowhere else, "
        "first motion_encoder/MaxPool2D <- motion_encoder/Conv; the parameter gradients "
        "(the motion encoder's, upstream of its first pool) and the frames gradient fail "
        "too, without saying which layer. A near-tie in the reference (parity.ties) cannot "
        "excuse it: the two sides' windows agree, so no decision of theirs differs.",
        "Route to the forward's own argmax (Chainer's `F.max_pooling_2d` and the fast path "
        "keep its indexes).",
        "MaxPoolGradMirrored", BACKWARD_ISOLATED, "*/MaxPool2D* <- *",
        hints=("same_values_reordered",)),
    Pitfall(
        "valid_pool_cover_all", "`cover_all` on the VALID pool",
        "VALID floors: (x - k) // s + 1, the motion encoder's last pool 9 -> 4 (tiny; paper "
        "21 -> 10).",
        "`F.max_pooling_2d(x, 2, 2)`: cover_all=True rounds up, 9 -> 5; z becomes 4x4x32 = "
        "512 values instead of 288 (paper 6x6x256 instead of 5x5x256).",
        "A shape failure at motion_encoder/MaxPool2D_2 in every forward mode (2x4x4x16 vs "
        "2x5x5x16). The forward raises at motion_encoder/kernel (epsilon [2, 144] cannot "
        "broadcast with z [2, 256]); the layer-by-layer replay still names the pool first.",
        "`cover_all=False` (`tf_compat.tf_max_pool`).",
        "ValidPoolCoverAll", FORWARD_E2E_INFERENCE, "motion_encoder/MaxPool2D_2",
        hints=("shape_mismatch",)),
    Pitfall(
        "bn_decay", "BatchNorm decay",
        "slim's batch_norm: decay 0.999, moving -= (moving - batch) * 0.001.",
        "`L.BatchNormalization(size)`: decay 0.9, a 100x larger update.",
        "Invisible to every forward (training mode uses the batch statistics, inference the "
        "transferred moving ones), to the gradients and to the losses. The moving_statistics "
        "section (what one training forward adds to each moving statistic) fails at the first "
        "BatchNorm, motion_encoder/Conv/BatchNorm/moving_mean, 100x off; after_training too.",
        "decay 0.999 (`tf_compat.TF_BN_DEFAULTS`).",
        "BNDecay", MOVING_STATISTICS, "motion_encoder/Conv/BatchNorm/moving_mean",
        hints=("constant_offset_scale",)),
    Pitfall(
        "bn_eps", "BatchNorm eps",
        "slim's batch_norm: epsilon 1e-3.",
        "`L.BatchNormalization(size)`: eps 2e-5.",
        "Inference first: fresh weights have moving variance 1, so x / sqrt(1 + eps) is off "
        "by 5e-4 relative against the inference atol of 1e-4 (scaled): "
        "forward/end-to-end/inference fails at motion_encoder/Conv. Training mode divides by "
        "the batch variance, mostly >> eps: it fails later and barely.",
        "eps 1e-3 (`tf_compat.TF_BN_DEFAULTS`).",
        "BNEps", FORWARD_E2E_INFERENCE, "motion_encoder/Conv",
        hints=("per_channel_affine", "constant_offset_scale")),
    Pitfall(
        "bn_gamma", "BatchNorm gamma present",
        "slim's batch_norm(scale=False): no gamma variable at all.",
        "`L.BatchNormalization(size)` has a learned gamma (initialised at 1); the port's weight "
        "map loads beta and the moving statistics and leaves gamma alone.",
        "Gamma = 1 is the identity and the interface knows no gamma (not in the weights, not "
        "in the gradients), so every forward, the gradients and the first synced step pass. "
        "That step trains gamma, and `set_weights` cannot reset a variable it does not know: "
        "the second synced step's loss parts (32.4 vs 30.7). (A port that exported its gamma "
        "would be refused before any comparison: `check_weights` names the unexpected "
        ".../BatchNorm/gamma.)",
        "No gamma: `use_gamma=False`, or ones as a constant (`tf_batch_norm_training`).",
        "BNGamma", TRAINING_LOSSES, "step {step1}",
        hints=("per_channel_affine",)),
    Pitfall(
        "bn_moving_variance", "BatchNorm moving-variance correction",
        "slim's batch_norm of the seed's era (unfused) updates moving_variance with the "
        "BIASED batch variance of `tf.nn.moments`.",
        "Chainer's BatchNormalization updates its running variance with the unbiased one, "
        "x m / (m - 1), m = N * H * W per channel.",
        "Only in the moving statistics, and only where m is small: the update differs by "
        "1 / (m - 1) of the batch variance. The moving_statistics section names the first "
        "BatchNorm whose map is small enough, on tiny at batch 2 "
        "motion_encoder/Conv_1/BatchNorm/moving_variance (m = 1352; the first layer's m = "
        "7200 stays within tolerance); after_training's loose tolerance misses it.",
        "The biased variance (`tf_compat.tf_moments`) for the moving average.",
        "BNUnbiasedVariance", MOVING_STATISTICS, "*/BatchNorm/moving_variance",
        hints=("per_channel_affine",)),
    Pitfall(
        "conv_layout", "conv weight layout",
        "conv kernels are HWIO [kh, kw, in, out].",
        "Chainer's W is (out, in, kh, kw): loading with `reshape` instead of "
        "`transpose(3, 2, 0, 1)` keeps the shape and scrambles the values.",
        "The first conv, motion_encoder/Conv, fails in every forward mode (values unrelated).",
        "`spec.layout.Transpose.KERNEL` (one transpose per leaf kind, named by each variable "
        "of the spec).",
        "ConvKernelReshaped", FORWARD_E2E_INFERENCE, "motion_encoder/Conv",
        hints=("axes_transposed",)),
    Pitfall(
        "deconv_layout", "deconv weight layout",
        "conv2d_transpose kernels are [h, w, out, in].",
        "Chainer's Deconvolution2D W is (in, out, kh, kw) (`transpose(3, 2, 0, 1)`, like a "
        "conv); `transpose(3, 2, 1, 0)` swaps H and W and keeps the shape of a square "
        "kernel. (Reading it as [h, w, in, out] fails loudly at load when in != out.)",
        "image_decoder_0 fails first in every forward mode.",
        "`spec.layout.Transpose.KERNEL`.",
        "DeconvKernelHW", FORWARD_E2E_INFERENCE, "image_decoder_0",
        hints=("periodic_error", "axes_transposed", "kernel_axes_swapped")),
    Pitfall(
        "deconv_pad", "deconv padding",
        "SAME conv2d_transpose to stride x size crops pad_before = max((in - 1) s + k - out, "
        "0) // 2: 0 for the 3x3 deconvs at strides 8, 4, 2 and 1 at stride 1.",
        "`F.deconvolution_2d(x, W, stride=s, pad=1, outsize=...)` at every stride (seed 001's "
        "bug): Chainer accepts the outsize and the output moves by one pixel.",
        "image_decoder_0 (stride 8) fails first in every forward mode; image_decoder_3 "
        "(stride 1) is right.",
        "`tf_compat.conv2d_transpose_same` (pad_before, `outsize`).",
        "DeconvPadOne", FORWARD_E2E_INFERENCE, "image_decoder_0",
        hints=("periodic_error", "border_only")),
    Pitfall(
        "deconv_flip", "deconv kernel flip",
        "conv2d_transpose is the adjoint of the cross-correlation with the same kernel.",
        "Flipping the kernel (`W[:, :, ::-1, ::-1]`, 'a transposed convolution is a "
        "convolution'): Chainer's deconvolution_2d is the same adjoint, no flip is needed.",
        "image_decoder_0 fails first in every forward mode.",
        "No flip.",
        "DeconvKernelFlipped", FORWARD_E2E_INFERENCE, "image_decoder_0",
        hints=("periodic_error", "spatially_flipped")),
    Pitfall(
        "depthwise_layout", "depthwise kernel layout",
        "`depthwise_conv2d` kernels are [kh, kw, C, M]; the seed's per-sample kernel is "
        "reshaped from z to [k, k, C] (M = 1).",
        "Chainer's `depthwise_convolution_2d` W is (M, C, kh, kw): `transpose(3, 2, 1, 0)` "
        "swaps H and W.",
        "cross_conv_0 fails first in every forward mode (the only place a depthwise kernel "
        "exists in this graph).",
        "The kernel stays NCHW from `nhwc_unflatten`: `batched_cross_conv` folds it to "
        "(B * C, 1, k, k) for one grouped convolution.",
        "DepthwiseKernelHW", FORWARD_E2E_INFERENCE, "cross_conv_0",
        hints=("axes_transposed",)),
    Pitfall(
        "flatten_order", "NHWC vs NCHW flatten order before the z split",
        "`tf.reshape(x, [N, -1])` of the NHWC map flattens in (H, W, C) order; z_mean is the "
        "first half.",
        "`F.reshape(x, (N, -1))` of the NCHW map flattens in (C, H, W) order: z_mean gets the "
        "first half of the channels at every position instead.",
        "motion_encoder/z_mean fails first in every forward mode; the motion encoder's convs "
        "all pass.",
        "`tf_compat.nhwc_flatten` (transpose to NHWC first; `nhwc_unflatten` back).",
        "FlattenNCHW", FORWARD_E2E_INFERENCE, "motion_encoder/z_mean",
        hints=("same_values_reordered",)),
    Pitfall(
        "z_split_order", "z split order (mean / log-std swapped)",
        "`tf.split(z, 2, axis=1)`: z_mean first, z_stddev_log second.",
        "The two halves swapped (or split with `F.split_axis` and unpacked the other way).",
        "motion_encoder/z_mean fails first in every forward mode (it holds the reference's "
        "z_stddev_log).",
        "Part 0 is z_mean (`spec` says so: `attrs['part']`).",
        "ZSplitSwapped", FORWARD_E2E_INFERENCE, "motion_encoder/z_mean",
        hints=("reads_another_tap",)),
    Pitfall(
        "kl_log_var", "KL with log-var vs log-std",
        "KL = 0.5 mean(mu^2 + sigma^2 - 2 log sigma - 1) from z_stddev_log = log sigma.",
        "`F.gaussian_kl_divergence(mu, ln_var)` wants log sigma^2: passing z_stddev_log "
        "computes the KL of a different sigma.",
        "loss/kl_loss fails first (0.233 vs 0.819 in inference); every tap before it passes.",
        "`ln_var = 2 * z_stddev_log` (or the formula written out, as the port does).",
        "KLLogStdAsLogVar", FORWARD_E2E_INFERENCE, "loss/kl_loss"),
    Pitfall(
        "resize_mode", "bilinear resize mode",
        "TF1 `resize_images`: align_corners=False, half_pixel_centers=False "
        "(src = dst * in / out).",
        "`F.resize_images`: align_corners=True by default (False means half-pixel centres, "
        "TF2's mode); neither is TF1's, and it breaks on NumPy >= 1.24.",
        "The very first tap, frames_{levels[0]}, fails in every forward mode (values up to the "
        "full scale 10 apart at object edges).",
        "`tf_compat.tf1_bilinear_resize` (a separable linear map with TF1's weights).",
        "ResizeAlignCorners", FORWARD_E2E_INFERENCE, "frames_{levels[0]}"),
    Pitfall(
        "init_xavier", "initialiser: conv kernels",
        "slim's `conv2d` draws kernels with xavier_initializer(): U(-L, L), "
        "L = sqrt(6 / (fan_in + fan_out)).",
        "Chainer's default `LeCunNormal`: N(0, 1 / fan_in), unbounded.",
        "Only training from scratch sees it: the harness transfers the reference's weights, "
        "so every comparison passes. The initialisation section (each side's own draw against "
        "the closed form) fails at the first conv kernel: |w| reaches 0.318, beyond the "
        "bound 0.131.",
        "`chainer.initializers.GlorotUniform` (the same fans and limit as TF's).",
        "InitLeCunNormal", INITIALISATION, "motion_encoder/Conv/weights",
        hints=("initialiser",)),
    Pitfall(
        "init_truncated", "initialiser: deconv kernels",
        "`truncated_normal_initializer(stddev=0.01)`: values beyond 2 stddev redrawn "
        "(std 0.0088, |w| <= 0.02).",
        "Chainer has no truncated normal: `initializers.Normal(0.01)`.",
        "The initialisation section fails at image_decoder_0/weights (|w| reaches 0.03, "
        "std 0.0108 vs 0.0088); everything else passes.",
        "`chainer_port.initializers.TruncatedNormal`.",
        "InitPlainNormal", INITIALISATION, "image_decoder_0/weights",
        hints=("initialiser",)),
    Pitfall(
        "lr_per_update", "learning-rate schedule: per-update decay",
        "lr = max(0.01, 0.8 * 0.5 ** (global_step / 10000)), continuous, from the global step "
        "(a resumed run continues the decay).",
        "`ExponentialShift`-style: the decay counts this optimizer's own updates (0 after a "
        "restart) and has no floor.",
        "From a fresh start the two agree exactly: invisible at --start-step 0. The synced "
        "steps now compare the lr each side used; from step 15000 the port says 0.8 against "
        "0.283: training_losses fails at the first step, on the lr.",
        "Set `optimizer.lr = learning_rate(step)` before each update from the global step.",
        "LrPerUpdate", TRAINING_LOSSES, "step {step0}",
        hints=("learning_rate",)),
    Pitfall(
        "lr_staircase", "learning-rate schedule: staircase",
        "`exponential_decay(..., staircase=False)`: the lr decays continuously.",
        "A staircase (0.8 * 0.5 ** (step // 10000)), as `ExponentialShift` every 10,000 "
        "steps gives: 6.9e-5 x k apart (relative) at step k < 10000.",
        "A synced step's losses do not depend on its lr and after_training's tolerance is 0.1 "
        "of the weights, so only the compared lr shows it: from step 0 it fails at step 2 "
        "(1.4e-4 > rtol 1e-4), from step 15000 at once (0.4 against 0.283).",
        "The continuous form, `spec.learning_rate`.",
        "LrStaircase", TRAINING_LOSSES, "step {step0}",
        hints=("learning_rate",)),
    Pitfall(
        "loss_reduction", "loss reduction (sum vs mean)",
        "`tf.reduce_mean` of the squared error over every element.",
        "Summed over the pixels and averaged over the batch (Chainer's VAE example): 32 x 32 "
        "x 3 = 3072 times larger on tiny.",
        "loss/l2_loss fails first in every forward mode; the gradients scale by the same "
        "factor.",
        "`F.mean` (or `F.mean_squared_error`).",
        "L2SumPerSample", FORWARD_E2E_INFERENCE, "loss/l2_loss", hints=("integer_ratio",)),
    Pitfall(
        "softmax_axis", "softmax axis after a layout change",
        "An axis op on NHWC works on the last axis (channels): seed 001's mask softmax; here "
        "the cross conv's per-level split of the kernel's channels, `kernel[..., a:b]`.",
        "The op written against the NCHW array in TF's axis order (seed 001: a softmax after "
        "an NCHW reshape to (-1, masks)) groups the wrong values. This graph has no softmax: "
        "the mutant takes the channel split on a [B, k, k, C] view made by reshape (not "
        "transpose) of the NCHW kernel.",
        "cross_conv_0 fails first in every forward mode; kernel_decoder/Conv_1 (the kernel "
        "itself) passes.",
        "Translate axes, not code: the channel axis is 1 in NCHW; transpose, never reshape, "
        "between layouts.",
        "KernelAxisTFOrder", FORWARD_E2E_INFERENCE, "cross_conv_0",
        hints=("axes_transposed",)),
)
