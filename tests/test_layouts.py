"""The layout rules by rank (spec/layout.py): `Transpose.KERNEL` maps conv1d, conv2d and conv3d
kernels and their transposed convs' kernels to Chainer's layout, held against the other
backend (TF's conv / conv_transpose vs Chainer's convolution_nd / deconvolution_nd, VALID,
stride 2); a rule a shape cannot take is one line when the pair is built."""

from __future__ import annotations

import chainer.functions as F
import numpy as np
import pytest

from common.errors import UserError
from common.tf_startup import import_tensorflow
from spec.layer import Variable
from spec.layout import Transpose

tf = import_tensorflow()


@pytest.mark.parametrize("spatial", [(9,), (8, 7), (6, 5, 7)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_kernel_rule_is_chainers_layout_for_any_rank(spatial, transposed):
    rng = np.random.default_rng(0)
    n, cin, cout, k = len(spatial), 3, 4, 2
    x = rng.standard_normal((2, *spatial, cin)).astype(np.float32)  # N..C
    # TF: conv [..k, in, out]; conv_transpose [..k, out, in]
    kernel = rng.standard_normal((*(k,) * n, *((cout, cin) if transposed else (cin, cout)))
                                 ).astype(np.float32)
    if transposed:
        out_spatial = [(s - 1) * 2 + k for s in spatial]
        want = tf.nn.conv_transpose(x, kernel, [2, *out_spatial, cout], 2, "VALID").numpy()
        got = F.deconvolution_nd(np.moveaxis(x, -1, 1), Transpose.KERNEL.to_chainer(kernel),
                                 stride=2).array
    else:
        want = tf.nn.convolution(x, kernel, 2, "VALID").numpy()
        got = F.convolution_nd(np.moveaxis(x, -1, 1), Transpose.KERNEL.to_chainer(kernel),
                               stride=2).array
    np.testing.assert_allclose(np.moveaxis(got, 1, -1), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(Transpose.KERNEL.to_tf(Transpose.KERNEL.to_chainer(kernel)),
                                  kernel)


@pytest.mark.parametrize(("shape", "rule", "message"), [
    ((3,), Transpose.KERNEL, "variable w: Transpose.KERNEL needs a TF shape of rank at least "
     "3, not [3]"),
    ((3, 4, 5), Transpose.MATRIX, "Transpose.MATRIX needs a TF shape of rank exactly 2"),
    ((4, 5), Transpose.ACTIVATION, "Transpose.ACTIVATION needs a TF shape of rank at least 3"),
])
def test_a_rule_the_shape_cannot_take_is_one_line(shape, rule, message):
    with pytest.raises(UserError) as error:
        Variable("w", shape, rule)
    assert message in str(error.value)
