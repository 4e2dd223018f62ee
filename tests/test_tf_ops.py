"""Each layer kind of the TF reference against a NumPy transcription of the seed's TF1 op."""

import numpy as np
import pytest

from spec.cross_conv.graph import KERNEL_SAMPLE, Z_MEAN, Z_STDDEV_LOG
from tf_reference import CrossConvModel
from tf_reference.layers import SLIM_BN_DEFAULTS, BatchNorm

RNG = np.random.default_rng(1)


@pytest.fixture(scope="module")
def model() -> CrossConvModel:
    return CrossConvModel("tiny", seed=3)


def random(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def resize_legacy(images: np.ndarray, size: int) -> np.ndarray:
    """TF1 bilinear, align_corners=False, no half-pixel centres, in float32 like the kernel."""

    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.arange(size, dtype=np.float32) * (np.float32(n_in) / np.float32(size))
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), (src - lo).astype(np.float32)

    y0, y1, ly = axis(images.shape[1])
    x0, x1, lx = axis(images.shape[2])
    lx, ly = lx[None, None, :, None], ly[None, :, None, None]
    rows0, rows1 = images[:, y0], images[:, y1]
    top = rows0[:, :, x0] + (rows0[:, :, x1] - rows0[:, :, x0]) * lx
    bottom = rows1[:, :, x0] + (rows1[:, :, x1] - rows1[:, :, x0]) * lx
    return top + (bottom - top) * ly


@pytest.mark.parametrize("height, width, size", [(64, 64, 128), (64, 64, 32), (64, 64, 16),
                                                 (48, 64, 32), (45, 45, 64)])
def test_resize_is_tf1_bilinear_after_scaling(model, height, width, size):
    frames = RNG.random((2, 2, height, width, 3), np.float32)
    out = model.to_numpy(model.run_layer(f"frames_{size}", [frames]))
    flat = (frames * np.float32(10)).reshape(4, height, width, 3)
    expected = resize_legacy(flat, size).reshape(2, 2, size, size, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=2e-6)


def test_resize_is_the_identity_at_equal_size(model):
    frames = RNG.random((2, 2, 64, 64, 3), np.float32)
    out = model.to_numpy(model.run_layer("frames_64", [frames]))
    np.testing.assert_array_equal(out, frames * np.float32(10))


def test_pairs_are_stacked_pair_major(model):
    frames = np.zeros((2, 3, 16, 16, 3), np.float32)
    for b in range(2):
        for t in range(3):
            frames[b, t] = 100 * b + 10 * b * t + t * t  # sample 0: 0 1 4, sample 1: 100 111 124
    images = model.to_numpy(model.run_layer("image_16", [frames]))
    diffs = model.to_numpy(model.run_layer("diff_16", [frames]))
    assert images[:, 0, 0, 0].tolist() == [0, 100, 1, 111]
    assert diffs[:, 0, 0, 0].tolist() == [(1 + 10) / 2, (11 + 10) / 2, (3 + 10) / 2,
                                         (13 + 10) / 2]


def test_z_split_flattens_nhwc(model):
    x = np.arange(2 * 3 * 3 * 32, dtype=np.float32).reshape(2, 3, 3, 32)
    z_mean = model.to_numpy(model.run_layer(Z_MEAN, [x]))
    z_log = model.to_numpy(model.run_layer(Z_STDDEV_LOG, [x]))
    flat = x.reshape(2, -1)
    np.testing.assert_array_equal(z_mean, flat[:, :144])
    np.testing.assert_array_equal(z_log, flat[:, 144:])
    assert z_mean[0, 1] == x[0, 0, 0, 1]  # channels vary fastest


def test_sample_kernel(model):
    z_mean, z_log, epsilon = random(2, 144), random(2, 144), random(2, 144)
    kernel = model.to_numpy(model.run_layer(KERNEL_SAMPLE, [z_mean, z_log, epsilon]))
    expected = (z_mean + np.exp(z_log) * epsilon).reshape(2, 3, 3, 16)
    np.testing.assert_allclose(kernel, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("level", [0, 1])
def test_cross_conv_is_per_sample_depthwise_correlation(model, level):
    size = (4, 8)[level]
    features, kernel = random(2, size, size, 4), random(2, 3, 3, 16)
    out = model.to_numpy(model.run_layer(f"cross_conv_{level}", [features, kernel]))
    part = kernel[..., 4 * level:4 * level + 4]
    padded = np.pad(features, ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.zeros_like(features)
    for b in range(2):
        for dy in range(3):
            for dx in range(3):
                expected[b] += padded[b, dy:dy + size, dx:dx + size] * part[b, dy, dx]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def deconv_same(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """conv2d_transpose SAME as a scatter-add, cropped at pad_total // 2 before."""
    batch, height, width, _ = x.shape
    k, cout = w.shape[0], w.shape[2]
    out_h, out_w = height * stride, width * stride
    top = max((height - 1) * stride + k - out_h, 0) // 2
    left = max((width - 1) * stride + k - out_w, 0) // 2
    full = np.zeros((batch, max((height - 1) * stride + k, top + out_h),
                     max((width - 1) * stride + k, left + out_w), cout), np.float64)
    for i in range(height):
        for j in range(width):
            full[:, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "nc,abdc->nabd", x[:, i, j], w)
    return full[:, top:top + out_h, left:left + out_w]


@pytest.mark.parametrize("level, stride", [(0, 8), (1, 4), (2, 2), (3, 1)])
def test_deconv_matches_scatter_add(model, level, stride):
    size = 32 // stride
    x = random(2, size, size, 4)
    out = model.to_numpy(model.run_layer(f"image_decoder_{level}", [x]))
    assert out.shape == (2, 32, 32, 8)
    weights = model.blocks[f"image_decoder_{level}"].weights.numpy()
    np.testing.assert_allclose(out, deconv_same(x, weights, stride), rtol=1e-5, atol=1e-6)


def test_max_pool_valid_floors_and_same_pads_with_minus_infinity(model):
    x = random(2, 9, 9, 16)
    out = model.to_numpy(model.run_layer("motion_encoder/MaxPool2D_2", [x]))
    np.testing.assert_array_equal(out, x[:, :8, :8].reshape(2, 4, 2, 4, 2, 16).max(axis=(2, 4)))
    x = -np.abs(random(2, 16, 16, 8)) - 1  # padding (zeros) would win if it were not -inf
    out = model.to_numpy(model.run_layer("image_encoder_0/MaxPool2D", [x]))
    padded = np.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)), constant_values=-np.inf)
    expected = np.array([[padded[:, 2 * i:2 * i + 5, 2 * j:2 * j + 5].max(axis=(1, 2))
                          for j in range(8)] for i in range(8)]).transpose(2, 0, 1, 3)
    np.testing.assert_array_equal(out, expected)


def test_batch_norm_training_and_inference():
    bn = BatchNorm("test", 3)
    beta = random(3)
    bn.beta.assign(beta)
    x = random(4, 5, 5, 3) * 3 + 1
    y = bn(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased variance
    eps, decay = SLIM_BN_DEFAULTS["epsilon"], SLIM_BN_DEFAULTS["decay"]
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + eps) + beta, rtol=1e-4, atol=1e-5)
    moving_mean, moving_var = (1 - decay) * mean, decay + (1 - decay) * var
    np.testing.assert_allclose(bn.moving_mean.numpy(), moving_mean, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(bn.moving_variance.numpy(), moving_var, rtol=1e-6)
    y = bn(x, training=False).numpy()
    np.testing.assert_allclose(y, (x - moving_mean) / np.sqrt(moving_var + eps) + beta,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), moving_mean, rtol=1e-5, atol=1e-8)


def test_conv_is_conv_batch_norm_relu(model):
    x = random(2, 4, 4, 16)
    weights = model.blocks["Conv_2"].weights.numpy()  # a 1x1 conv: a matrix product
    out = model.to_numpy(model.run_layer("Conv_2", [x]))
    expected = np.maximum(x @ weights[0, 0] / np.sqrt(1 + SLIM_BN_DEFAULTS["epsilon"]), 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_deconv_batch_norm_is_discarded_but_updates_in_training():
    model = CrossConvModel("tiny", seed=4)
    x = random(2, 8, 8, 4)
    bn = model.blocks["image_decoder_1"].batch_norm
    before = model.to_numpy(model.run_layer("image_decoder_1", [x]))
    assert bn.moving_mean.numpy().tolist() == [0] * 8
    after = model.to_numpy(model.run_layer("image_decoder_1", [x], training=True))
    np.testing.assert_array_equal(after, before)
    decay = SLIM_BN_DEFAULTS["decay"]
    np.testing.assert_allclose(bn.moving_mean.numpy(), (1 - decay) * before.mean(axis=(0, 1, 2)),
                               rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(bn.moving_variance.numpy(),
                               decay + (1 - decay) * before.var(axis=(0, 1, 2)), rtol=1e-6)
    assert bn.beta.numpy().tolist() == [0] * 8


def test_losses(model):
    z_mean, z_log = random(2, 144), random(2, 144)
    kl = model.to_numpy(model.run_layer("loss/kl_loss", [z_mean, z_log]))
    expected = 0.5 * np.mean(z_mean ** 2 + np.exp(z_log) ** 2 - 2 * z_log - 1)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    output, target = random(2, 32, 32, 3), random(2, 32, 32, 3)
    l2 = model.to_numpy(model.run_layer("loss/l2_loss", [output, target]))
    np.testing.assert_allclose(l2, np.mean((output - target) ** 2), rtol=1e-5)
    total = model.to_numpy(model.run_layer("loss/loss", [l2, kl]))
    np.testing.assert_allclose(total, l2 + kl, rtol=1e-6)


def test_z_overrides_reach_the_kernel_and_the_kl(model):
    frames = RNG.random((2, 2, 64, 64, 3), np.float32)
    epsilon = random(2, 144)
    z_mean, z_log = random(2, 144), random(2, 144) * 0.1
    plain = model.forward(frames, epsilon)
    result = model.forward(frames, epsilon, overrides={Z_MEAN: z_mean, Z_STDDEV_LOG: z_log})
    np.testing.assert_array_equal(model.to_numpy(result.z_mean), z_mean)
    np.testing.assert_array_equal(model.to_numpy(result.z_stddev_log), z_log)
    expected = (z_mean + np.exp(z_log) * epsilon).reshape(2, 3, 3, 16)
    np.testing.assert_allclose(model.to_numpy(result.kernel), expected, rtol=1e-6, atol=1e-6)
    kl = 0.5 * np.mean(z_mean ** 2 + np.exp(z_log) ** 2 - 2 * z_log - 1)
    np.testing.assert_allclose(model.to_numpy(result.kl_loss), kl, rtol=1e-5)
    changed = model.to_numpy(result.taps["cross_conv_1"]) - model.to_numpy(
        plain.taps["cross_conv_1"])
    assert np.abs(changed).max() > 1e-3
    np.testing.assert_array_equal(model.to_numpy(result.taps["motion_encoder/Conv_5"]),
                                  model.to_numpy(plain.taps["motion_encoder/Conv_5"]))
