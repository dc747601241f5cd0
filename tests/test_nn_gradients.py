"""Every layer's backward against centred finite differences, in float64."""

import numpy as np
import pytest

from npgan.nn import (BatchNorm1d, Dropout, Embedding, LeakyReLU, Linear, ReLU, Sequential,
                      Sigmoid, Tanh)
from conftest import assert_grads_match, off_kink

pytestmark = pytest.mark.gradcheck
F64 = np.float64


def test_linear(rng):
    assert_grads_match(Linear(7, 5, rng=rng, dtype=F64), rng.standard_normal((4, 7)))


def test_linear_with_one_output(rng):
    """A discriminator's last layer: its dx is computed as a broadcast (Linear.backward)."""
    assert_grads_match(Linear(6, 1, rng=rng, dtype=F64), rng.standard_normal((4, 6)))


def test_linear_without_bias(rng):
    errors = assert_grads_match(Linear(3, 6, bias=False, rng=rng, dtype=F64),
                                rng.standard_normal((5, 3)))
    assert set(errors) == {"x", "weight"}


@pytest.mark.parametrize("layer", [ReLU(), LeakyReLU(0.2), LeakyReLU(0.01)], ids=repr)
def test_relu_family_off_the_kink(layer, rng):
    assert_grads_match(layer, off_kink(rng, (6, 5)))


@pytest.mark.parametrize("layer", [Tanh(), Sigmoid()], ids=repr)
def test_smooth_activations(layer, rng):
    assert_grads_match(layer, 3 * rng.standard_normal((6, 5)))


def test_batchnorm_train_mode_uncentred_input(rng):
    bn = BatchNorm1d(5, dtype=F64)
    bn.gamma.data[:] = rng.uniform(0.5, 2, 5)
    bn.beta.data[:] = rng.standard_normal(5)
    assert_grads_match(bn, 5 * rng.standard_normal((8, 5)) + 12, label="BatchNorm1d (train)")


def test_batchnorm_eval_mode_uses_running_stats(rng):
    bn = BatchNorm1d(4, dtype=F64)
    bn.gamma.data[:] = rng.uniform(0.5, 2, 4)
    bn.beta.data[:] = rng.standard_normal(4)
    bn(5 * rng.standard_normal((16, 4)) + 12)             # give the running stats values
    bn.eval()
    assert_grads_match(bn, 5 * rng.standard_normal((6, 4)) + 12, label="BatchNorm1d (eval)")


class FixedMaskDropout(Dropout):
    """Dropout whose mask is drawn once, so repeated forwards are the same function."""

    def make_mask(self, shape, dtype):
        if not hasattr(self, "_mask"):
            self._mask = super().make_mask(shape, dtype)
        return self._mask


def test_dropout_with_mask_held_fixed(rng):
    layer = FixedMaskDropout(0.4, rng=rng)
    assert_grads_match(layer, rng.standard_normal((10, 6)), label="Dropout")
    assert 0 < (layer._mask == 0).mean() < 1              # some dropped, some kept


def test_dropout_eval_is_identity_with_identity_gradient(rng):
    layer = Dropout(0.5, rng=rng).eval()
    x = rng.standard_normal((4, 3))
    assert np.array_equal(layer(x), x)
    assert np.array_equal(layer.backward(x), x)


def test_embedding_repeated_indices_accumulate(rng):
    emb = Embedding(6, 4, rng=rng, dtype=F64)
    idx = np.array([2, 5, 2, 2, 0, 5])
    assert_grads_match(emb, idx)
    emb.zero_grad()
    emb(idx)
    dout = rng.standard_normal((6, 4))
    emb.backward(dout)
    assert np.allclose(emb.weight.grad[2], dout[[0, 2, 3]].sum(0))
    assert np.all(emb.weight.grad[[1, 3, 4]] == 0)        # unused rows get no gradient


def test_sequential_stack(rng):
    net = Sequential(Linear(6, 8, bias=False, rng=rng, dtype=F64), BatchNorm1d(8, dtype=F64), Tanh(),
                     Linear(8, 5, rng=rng, dtype=F64), Sigmoid(), Linear(5, 2, rng=rng, dtype=F64))
    errors = assert_grads_match(net, rng.standard_normal((7, 6)))
    assert len(errors) == 1 + 7                             # x and 7 parameters


def test_bias_before_batchnorm_gets_zero_gradient(rng):
    """BatchNorm subtracts the batch mean, so a bias added just before it cancels out: its
    gradient is exactly 0 (and relative error is meaningless there). That is why npgan's
    models give Linear layers that feed a BatchNorm no bias."""
    net = Sequential(Linear(4, 3, rng=rng, dtype=F64), BatchNorm1d(3, dtype=F64))
    net.zero_grad()
    y = net(rng.standard_normal((6, 4)))
    net.backward(rng.standard_normal(y.shape))
    assert np.abs(net[0].bias.grad).max() < 1e-12
    assert np.abs(net[0].weight.grad).max() > 1e-3
