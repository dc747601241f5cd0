"""The conv layers' backward passes against finite differences, in float64: every entry on
small shapes (check_module), and random directions at the DCGAN's real sizes
(check_directional), where the checker must also catch deliberately wrong backwards."""

import numpy as np
import pytest

from npgan.gradcheck import check_directional
from npgan.nn import Conv2d, ConvTranspose2d, Flatten, Unflatten, Upsample
from npgan.nn.conv import col2im
from conftest import TOL, assert_grads_match, record_error

pytestmark = pytest.mark.gradcheck
F64 = np.float64

CONV_CASES = [  # (C, F, (H, W), kernel, stride, padding, bias)
    (2, 3, (7, 6), 3, 1, 0, True),
    (2, 3, (5, 7), 3, 1, 1, True),
    (3, 2, (5, 4), 3, 1, 2, False),
    (2, 3, (7, 9), 3, 2, 1, True),
    (2, 3, (6, 8), 4, 2, 1, True),
    (1, 2, (6, 8), 4, 2, 2, False),
    (2, 2, (7, 5), 4, 1, 0, True),
    (2, 3, (5, 6), 5, 1, 2, True),
    (2, 2, (7, 9), 5, 2, 0, True),
    (2, 3, (5, 6), (3, 2), 1, 1, True),
    (2, 2, (6, 8), (2, 4), 2, 0, False),
    (2, 2, (7, 5), (5, 3), 2, 2, True),
]

CONV_T_CASES = [  # (C_in, C_out, (H, W), kernel, stride, padding, output_padding, bias)
    (2, 3, (3, 4), 3, 1, 0, 0, True),
    (2, 3, (3, 4), 3, 1, 1, 0, False),
    (3, 2, (3, 4), 3, 2, 1, 1, True),
    (2, 3, (4, 3), 4, 2, 1, 0, True),
    (2, 2, (3, 3), 4, 2, 2, 1, True),
    (2, 2, (3, 2), 5, 2, 2, 1, False),
    (2, 2, (3, 4), 5, 1, 2, 0, True),
    (2, 3, (3, 4), (3, 2), 2, 1, 1, True),
    (2, 2, (3, 3), (2, 4), 2, 0, 0, True),
]


@pytest.mark.parametrize("C, F, size, kernel, stride, padding, bias", CONV_CASES)
def test_conv2d(C, F, size, kernel, stride, padding, bias, rng):
    layer = Conv2d(C, F, kernel, stride=stride, padding=padding, bias=bias, rng=rng, dtype=F64)
    errors = assert_grads_match(layer, rng.standard_normal((2, C) + size))
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())


@pytest.mark.parametrize("C_in, C_out, size, kernel, stride, padding, output_padding, bias",
                         CONV_T_CASES)
def test_conv_transpose2d(C_in, C_out, size, kernel, stride, padding, output_padding, bias,
                          rng):
    layer = ConvTranspose2d(C_in, C_out, kernel, stride=stride, padding=padding,
                            output_padding=output_padding, bias=bias, rng=rng, dtype=F64)
    errors = assert_grads_match(layer, rng.standard_normal((2, C_in) + size))
    assert set(errors) == {"x", "weight"} | ({"bias"} if bias else set())


@pytest.mark.parametrize("factor, size", [(2, (3, 4)), (3, (2, 3)), (1, (3, 3))])
def test_upsample(factor, size, rng):
    assert_grads_match(Upsample(factor), rng.standard_normal((2, 3) + size))


def test_flatten_and_unflatten(rng):
    assert_grads_match(Flatten(), rng.standard_normal((3, 2, 4, 5)))
    assert_grads_match(Unflatten((2, 4, 5)), rng.standard_normal((3, 40)))


# -- directional checks at the DCGAN's real sizes (batch 4) ----------------------------------

DCGAN_LAYERS = {   # name: (layer, input shape)
    "D conv 1->64": (lambda rng: Conv2d(1, 64, 4, stride=2, padding=1, rng=rng, dtype=F64),
                     (4, 1, 28, 28)),
    "D conv 64->128": (lambda rng: Conv2d(64, 128, 4, stride=2, padding=1, rng=rng, dtype=F64),
                       (4, 64, 14, 14)),
    "G convT 128->64": (lambda rng: ConvTranspose2d(128, 64, 4, stride=2, padding=1, rng=rng,
                                                    dtype=F64), (4, 128, 7, 7)),
    "G convT 64->1": (lambda rng: ConvTranspose2d(64, 1, 4, stride=2, padding=1, rng=rng,
                                                  dtype=F64), (4, 64, 14, 14)),
}


@pytest.mark.parametrize("name", DCGAN_LAYERS)
def test_directional_at_dcgan_sizes(name, rng):
    make, shape = DCGAN_LAYERS[name]
    errors = check_directional(make(rng), rng.standard_normal(shape))
    record_error(f"{name} (directional)", max(errors.values()))
    assert set(errors) == {"x", "weight", "bias"}
    assert max(errors.values()) < TOL, errors


class Conv2dWeightGradOnePercentHigh(Conv2d):
    def backward(self, dout):
        dx = super().backward(dout)
        self.weight.grad *= 1.01
        return dx


class Conv2dWeightGradTransposed(Conv2d):
    """dW with the kernel's rows and columns swapped: same shape for a square kernel."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.weight.grad[...] = self.weight.grad.transpose(0, 1, 3, 2).copy()
        return dx


class ConvTransposeInputGradWithFlippedKernel(ConvTranspose2d):
    """dx as a true (flipped-kernel) convolution instead of a cross-correlation."""

    def backward(self, dout):
        saved = self.weight.data.copy()
        self.weight.data[...] = saved[:, :, ::-1, ::-1]
        try:
            return super().backward(dout)
        finally:
            self.weight.data[...] = saved


@pytest.mark.parametrize("bug, wrong", [
    (Conv2dWeightGradOnePercentHigh, "weight"),
    (Conv2dWeightGradTransposed, "weight"),
    (ConvTransposeInputGradWithFlippedKernel, "x"),
])
def test_directional_check_catches_wrong_backwards(bug, wrong, rng):
    if issubclass(bug, Conv2d):
        layer, x = bug(64, 128, 4, stride=2, padding=1, rng=rng, dtype=F64), (4, 64, 14, 14)
    else:
        layer, x = bug(128, 64, 4, stride=2, padding=1, rng=rng, dtype=F64), (4, 128, 7, 7)
    errors = check_directional(layer, rng.standard_normal(x))
    assert errors[wrong] > 1e-3, errors                       # 1.01x gives about 5e-3
    assert all(e < TOL for name, e in errors.items() if name != wrong), errors


def test_col2im_is_the_adjoint_of_im2col(rng):
    """<im2col(x), c> = <x, col2im(c)>: the identity that makes both layers' dx right."""
    from npgan.nn.conv import im2col
    for shape, kernel, stride, padding in [((2, 3, 7, 9), (3, 3), 2, 1),
                                           ((3, 2, 6, 5), (4, 2), 1, 2)]:
        x = rng.standard_normal(shape)
        cols = im2col(x, kernel, stride, padding)
        c = rng.standard_normal(cols.shape)
        lhs, rhs = (cols * c).sum(), (x * col2im(c, shape, kernel, stride, padding)).sum()
        assert abs(lhs - rhs) < 1e-12 * np.abs(cols * c).sum()
