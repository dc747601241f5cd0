"""Binary cross-entropy: values, gradients, stability, soft targets."""

import numpy as np
import pytest

from npgan.gradcheck import check_function
from npgan.losses import bce, bce_with_logits
from conftest import record_error


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.gradcheck
@pytest.mark.parametrize("target", [0.0, 1.0, 0.9, "random"])
def test_bce_with_logits_gradient(target, rng):
    z = 3 * rng.standard_normal((9, 1))
    y = rng.random((9, 1)) if target == "random" else target
    error = check_function(lambda z: bce_with_logits(z, y), z)
    record_error("bce_with_logits", error)
    assert error < 1e-6


@pytest.mark.gradcheck
@pytest.mark.parametrize("target", [0.0, 1.0, 0.9, "random"])
def test_bce_on_probabilities_gradient(target, rng):
    p = rng.uniform(0.05, 0.95, (9, 1))
    y = rng.random((9, 1)) if target == "random" else target
    error = check_function(lambda p: bce(p, y), p)
    record_error("bce", error)
    assert error < 1e-6


def test_both_forms_agree_with_the_definition(rng):
    z = 2 * rng.standard_normal((20, 1))
    y = rng.integers(0, 2, (20, 1)).astype(np.float64)
    p = sigmoid(z)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert bce_with_logits(z, y)[0] == pytest.approx(expected, rel=1e-12)
    assert bce(p, y)[0] == pytest.approx(expected, rel=1e-9)


def test_logits_gradient_is_sigmoid_minus_target_over_n(rng):
    z = rng.standard_normal((8, 1))
    _, dz = bce_with_logits(z, 0.9)
    assert np.allclose(dz, (sigmoid(z) - 0.9) / 8, rtol=1e-12, atol=0)


def test_probability_form_clips_instead_of_returning_inf():
    loss, dp = bce(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert np.isfinite(loss) and np.all(np.isfinite(dp))


def test_soft_targets_have_their_minimum_at_the_target(rng):
    """With label smoothing y = 0.9, the loss is smallest where sigmoid(z) = 0.9."""
    zs = np.linspace(-1, 5, 601)[:, None]
    losses = [bce_with_logits(z[None], 0.9)[0] for z in zs]
    assert sigmoid(zs[int(np.argmin(losses))][0]) == pytest.approx(0.9, abs=0.01)
