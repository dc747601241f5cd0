"""The checker itself: it must pass correct gradients and catch wrong ones."""

import numpy as np
import pytest

from npgan.gradcheck import check_function, check_module, numerical_gradient, rel_error
from npgan.nn import BatchNorm1d, Linear

pytestmark = pytest.mark.gradcheck


class BatchNormWithoutVarianceTerm(BatchNorm1d):
    """The classic bug: dx treats the variance as a constant."""

    def backward(self, dout):
        x_hat, inv_std, _ = self.pop_cache()
        self.gamma.grad += (dout * x_hat).sum(0)
        self.beta.grad += dout.sum(0)
        g = dout * self.gamma.data
        return inv_std * (g - g.mean(0))


class LinearWithTransposeBug(Linear):
    """dW computed as if W were (out, in) and then forced back: wrong for non-square layers."""

    def backward(self, dout):
        x = self.pop_cache()
        self.weight.grad += (dout.T @ x).reshape(self.weight.data.shape)
        self.bias.grad += dout.sum(0)
        return dout @ self.weight.data.T


def test_catches_batchnorm_missing_variance_term(rng):
    errors = check_module(BatchNormWithoutVarianceTerm(4, dtype=np.float64),
                          5 * rng.standard_normal((8, 4)) + 12)
    assert errors["x"] > 1e-2
    assert errors["gamma"] < 1e-6                          # the parameter grads were right


def test_catches_wrong_weight_gradient(rng):
    errors = check_module(LinearWithTransposeBug(3, 5, rng=rng, dtype=np.float64),
                          rng.standard_normal((4, 3)))
    assert errors["weight"] > 1e-2
    assert errors["x"] < 1e-6


def test_catches_a_loss_gradient_off_by_a_factor(rng):
    def half_wrong(x):
        return float((x ** 2).sum()), x                    # true gradient is 2x
    assert check_function(half_wrong, rng.standard_normal(5)) > 0.1
    assert check_function(lambda x: (float((x ** 2).sum()), 2 * x), rng.standard_normal(5)) < 1e-8


def test_rel_error_scale():
    a = np.array([1.0, -2.0, 3.0])
    assert rel_error(a, a) == 0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0


def test_numerical_gradient_restores_input(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    g = numerical_gradient(lambda: float(np.sin(x).sum()), x)
    assert np.array_equal(x, before)
    assert rel_error(g, np.cos(x)) < 1e-8
