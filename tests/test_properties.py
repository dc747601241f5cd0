"""hypothesis property tests: random shapes and hyperparameters through the gradient checks,
and invariants that must hold for every input."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from npgan.losses import bce_with_logits
from npgan.nn import BatchNorm1d, Dropout, LeakyReLU, Linear, Sequential, Tanh
from conftest import assert_grads_match, off_kink

F64 = np.float64
batch = st.integers(2, 9)
# With a batch of 2, BatchNorm maps every input to about +/-1, so its true dx is ~0 and a
# relative error says nothing; batches through BatchNorm's gradient checks start at 3.
bn_batch = st.integers(3, 9)
# BatchNorm is scale-invariant: BN(x * w) = BN(x) for one input feature, so a Linear(1, k)
# feeding it has dW = 0 exactly. Layers in front of a BatchNorm get at least 2 inputs.
bn_width = st.integers(2, 7)
width = st.integers(1, 7)
seed = st.integers(0, 2**32 - 1)
fast = settings(max_examples=25, deadline=None)


@pytest.mark.gradcheck
@fast
@given(n=batch, d_in=width, d_out=width, s=seed)
def test_linear_gradients_any_shape(n, d_in, d_out, s):
    rng = np.random.default_rng(s)
    assert_grads_match(Linear(d_in, d_out, rng=rng, dtype=F64), rng.standard_normal((n, d_in)))


@pytest.mark.gradcheck
@fast
@given(n=batch, d=width, slope=st.floats(0.0, 1.0), s=seed)
def test_leaky_relu_gradients_any_slope(n, d, slope, s):
    rng = np.random.default_rng(s)
    assert_grads_match(LeakyReLU(slope), off_kink(rng, (n, d)))


@pytest.mark.gradcheck
@fast
@given(n=bn_batch, d=width, eps=st.floats(1e-5, 1.0), momentum=st.floats(0.0, 1.0),
       shift=st.floats(-20, 20), scale=st.floats(0.1, 10), train=st.booleans(), s=seed)
def test_batchnorm_gradients_any_hyperparameters(n, d, eps, momentum, shift, scale, train, s):
    rng = np.random.default_rng(s)
    bn = BatchNorm1d(d, eps=eps, momentum=momentum, dtype=F64)
    bn.gamma.data[:] = rng.uniform(0.5, 2, d)
    bn(scale * rng.standard_normal((n + 2, d)) + shift)          # non-trivial running stats
    bn.train(train)
    x = scale * rng.standard_normal((n, d)) + shift
    assert_grads_match(bn, x, label=f"BatchNorm1d ({'train' if train else 'eval'})")


@pytest.mark.gradcheck
@fast
@given(n=batch, d=width, p=st.floats(0.0, 0.9), s=seed)
def test_dropout_gradients_any_rate(n, d, p, s):
    rng = np.random.default_rng(s)
    layer = Dropout(p, rng=rng)
    mask = layer.make_mask((n, d), F64)
    layer.make_mask = lambda shape, dtype: mask                   # hold the mask fixed
    assert_grads_match(layer, rng.standard_normal((n, d)), label="Dropout")


@pytest.mark.gradcheck
@fast
@given(n=bn_batch, sizes=st.lists(bn_width, min_size=2, max_size=4), s=seed)
def test_random_stacks(n, sizes, s):
    rng = np.random.default_rng(s)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(a, b, bias=False, rng=rng, dtype=F64), BatchNorm1d(b, dtype=F64), Tanh()]
    assert_grads_match(Sequential(*layers), rng.standard_normal((n, sizes[0])),
                       label="Sequential")


@settings(max_examples=50, deadline=None)
@given(n=batch, d=width, shift=st.floats(-1e3, 1e3), scale=st.floats(1e-2, 1e3), s=seed)
def test_batchnorm_train_output_is_standardized(n, d, shift, scale, s):
    rng = np.random.default_rng(s)
    x = scale * rng.standard_normal((n, d)) + shift
    y = BatchNorm1d(d, eps=1e-12, dtype=F64)(x)
    assert np.allclose(y.mean(0), 0, atol=1e-6)
    assert np.allclose(y.var(0), 1, atol=1e-4)


@settings(max_examples=50, deadline=None)
@given(n=batch, d=width, momentum=st.floats(0.0, 1.0), s=seed)
def test_batchnorm_running_stats_follow_the_momentum_rule(n, d, momentum, s):
    rng = np.random.default_rng(s)
    x = 3 * rng.standard_normal((n, d)) + 1
    bn = BatchNorm1d(d, momentum=momentum, dtype=F64)
    bn(x)
    assert np.allclose(bn.running_mean, momentum * x.mean(0))
    assert np.allclose(bn.running_var, (1 - momentum) + momentum * x.var(0, ddof=1))


@settings(max_examples=50, deadline=None)
@given(n=st.integers(100, 400), p=st.floats(0.05, 0.9), s=seed)
def test_dropout_keeps_the_expected_value(n, p, s):
    """Inverted dropout: E[y] = x. With x = 1 over n*20 units, the mean is 1 within 5 sigma."""
    layer = Dropout(p, rng=np.random.default_rng(s))
    y = layer(np.ones((n, 20)))
    sigma = np.sqrt(p / (1 - p) / y.size)
    assert abs(y.mean() - 1) < 5 * sigma
    assert set(np.unique(y)) <= {0.0, 1 / (1 - p)}


@settings(max_examples=100, deadline=None)
@given(z=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=16),
       y=st.floats(0.0, 1.0), dtype=st.sampled_from([np.float32, np.float64]))
def test_bce_with_logits_is_finite_nonnegative_and_bounded_gradient(z, y, dtype):
    z = np.array(z, dtype=dtype)[:, None]
    loss, dz = bce_with_logits(z, y)
    assert np.isfinite(loss) and loss >= -1e-6
    assert np.all(np.isfinite(dz)) and np.abs(dz).max() <= 1 / len(z) * (1 + 1e-6)
