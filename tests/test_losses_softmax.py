"""Softmax cross-entropy: gradient, value, stability."""

import numpy as np
import pytest

from npgan.gradcheck import check_function
from npgan.losses import softmax_cross_entropy
from conftest import record_error


@pytest.mark.gradcheck
@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0])
def test_softmax_cross_entropy_gradient(scale, rng):
    z = scale * rng.standard_normal((7, 10))
    labels = rng.integers(0, 10, 7)
    error = check_function(lambda z: softmax_cross_entropy(z, labels), z)
    record_error("softmax_cross_entropy", error)
    assert error < 1e-6


def test_value_and_gradient_match_the_definition(rng):
    z = 2 * rng.standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0], dtype=np.uint8)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss, dz = softmax_cross_entropy(z, labels)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), labels])), rel=1e-12)
    assert np.allclose(dz, (p - np.eye(4)[labels]) / 6, rtol=1e-12, atol=1e-15)
    assert np.allclose(dz.sum(axis=1), 0, atol=1e-15)      # softmax and one-hot both sum to 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_huge_logits(dtype):
    z = np.array([[1e4, 0, -1e4], [1e4, 0, -1e4]], dtype=dtype)
    loss, dz = softmax_cross_entropy(z, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dz)) and dz.dtype == dtype
    assert loss == pytest.approx(2e4 / 2, rel=1e-6)          # one right, one off by 2e4
    assert np.allclose(dz, [[0, 0, 0], [0.5, 0, -0.5]])
