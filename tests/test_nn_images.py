"""The element-wise layers and Dropout on (N, C, H, W) image batches, as a DCGAN uses them:
gradient checks on 4-D inputs, alone and stacked with BatchNorm2d."""

import numpy as np
import pytest

from npgan.nn import BatchNorm2d, Dropout, LeakyReLU, ReLU, Sequential, Sigmoid, Tanh
from conftest import assert_grads_match, off_kink

pytestmark = pytest.mark.gradcheck
F64 = np.float64
IMAGES = (3, 2, 4, 5)                                        # (N, C, H, W)


class FixedMaskDropout(Dropout):
    """Dropout whose mask is drawn once, so repeated forwards are the same function."""

    def make_mask(self, shape, dtype):
        if not hasattr(self, "_mask"):
            self._mask = super().make_mask(shape, dtype)
        return self._mask


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.2)], ids=repr)
def test_relu_family_on_images(layer, rng):
    x = off_kink(rng, IMAGES)
    assert layer(x).shape == IMAGES
    assert_grads_match(layer, x, label=f"{type(layer).__name__} (N, C, H, W)")


@pytest.mark.parametrize("layer", [Tanh(), Sigmoid()], ids=repr)
def test_smooth_activations_on_images(layer, rng):
    assert_grads_match(layer, 3 * rng.standard_normal(IMAGES),
                       label=f"{type(layer).__name__} (N, C, H, W)")


def test_dropout_on_images(rng):
    layer = FixedMaskDropout(0.4, rng=rng)
    assert_grads_match(layer, rng.standard_normal(IMAGES), label="Dropout (N, C, H, W)")
    assert layer._mask.shape == IMAGES
    assert 0 < (layer._mask == 0).mean() < 1                 # some entries dropped, some kept
    x = rng.standard_normal(IMAGES)
    assert np.array_equal(layer.eval()(x), x)


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "simplified"])
def test_image_stack(staged, rng):
    """BatchNorm2d -> LeakyReLU -> Dropout -> BatchNorm2d -> Tanh, on uncentred images."""
    net = Sequential(BatchNorm2d(2, dtype=F64, staged=staged), LeakyReLU(0.2),
                     FixedMaskDropout(0.3, rng=rng), BatchNorm2d(2, dtype=F64, staged=staged),
                     Tanh())
    for bn in (net[0], net[3]):
        bn.gamma.data[:] = rng.uniform(0.5, 2, 2)
        bn.beta.data[:] = rng.standard_normal(2)
    errors = assert_grads_match(net, 5 * rng.standard_normal(IMAGES) + 12,
                                label="Sequential (N, C, H, W)")
    assert len(errors) == 1 + 4                              # x and two (gamma, beta) pairs


def test_dropout_keeps_a_convolutions_batch_last_layout(rng):
    """A batch-last input (a convolution's output, npgan/nn/conv.py) gets its mask stored
    batch-last too: the same mask and the same products as for a C-ordered input, in x's
    layout; so is the backward's, for a batch-last upstream gradient."""
    chwn = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)      # (C, H, W, N) memory
    x = chwn.transpose(3, 0, 1, 2)                                   # (N, C, H, W) view
    fast, plain = Dropout(0.4, rng=np.random.default_rng(7)), Dropout(0.4, rng=np.random.default_rng(7))
    y, y_plain = fast(x), plain(np.ascontiguousarray(x))
    assert np.array_equal(y, y_plain)                                # the same numbers
    assert y.strides == x.strides                                    # in x's layout
    dout = rng.standard_normal((2, 4, 5, 3)).astype(np.float32).transpose(3, 0, 1, 2)
    dx = fast.backward(dout)
    assert np.array_equal(dx, plain.backward(np.ascontiguousarray(dout)))
    assert dx.strides == x.strides


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.77])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_keep_over_one_minus_p(p, dtype):
    """make_mask's one-pass product gives exactly (u >= p) / (1 - p) cast to the dtype."""
    mask = Dropout(p, rng=np.random.default_rng(4)).make_mask((5, 6, 7), dtype)
    keep = np.random.default_rng(4).random((5, 6, 7)) >= p
    assert mask.dtype == dtype
    assert np.array_equal(mask, (keep / (1 - p)).astype(dtype))
