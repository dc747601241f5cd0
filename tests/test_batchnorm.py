"""BatchNorm1d and BatchNorm2d: both backward paths (staged and simplified) against finite
differences and against each other, BatchNorm2d against BatchNorm1d on the same values, the
running statistics, and the errors."""

import numpy as np
import pytest

from npgan.nn import BatchNorm1d, BatchNorm2d
from conftest import assert_grads_match

F64 = np.float64
SHAPES = {BatchNorm1d: (7, 4), BatchNorm2d: (3, 2, 3, 4)}    # small, for finite differences


def make_bn(cls, shape, rng, *, staged, train, **kwargs):
    """A layer with random gamma and beta and non-trivial running statistics, in train or eval
    mode, and an uncentred input for it (5 * randn + 12: the mean and variance terms matter)."""
    bn = cls(shape[1], dtype=F64, staged=staged, **kwargs)
    bn.gamma.data[:] = rng.uniform(0.5, 2, shape[1])
    bn.beta.data[:] = rng.standard_normal(shape[1])
    bn(3 * rng.standard_normal(shape) + 10)                  # running stats away from 0 and 1
    bn.train(train)
    return bn, 5 * rng.standard_normal(shape) + 12


@pytest.mark.gradcheck
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("staged", [True, False], ids=["staged", "simplified"])
@pytest.mark.parametrize("cls", [BatchNorm1d, BatchNorm2d], ids=lambda c: c.__name__)
def test_gradients_match_finite_differences(cls, staged, train, rng):
    bn, x = make_bn(cls, SHAPES[cls], rng, staged=staged, train=train)
    mode = f"{'train' if train else 'eval'}, {'staged' if staged else 'simplified'}"
    label = f"{cls.__name__} ({mode})"
    errors = assert_grads_match(bn, x, label=label)
    assert set(errors) == {"x", "gamma", "beta"}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(7, 4), (64, 10), (3, 2, 3, 4), (4, 5, 6, 3)], ids=str)
def test_staged_and_simplified_backward_agree(shape, train):
    """The two backward paths compute the same gradients, to rounding, in float64."""
    cls = BatchNorm1d if len(shape) == 2 else BatchNorm2d
    results = []
    for staged in (True, False):
        rng = np.random.default_rng(5)
        bn, x = make_bn(cls, shape, rng, staged=staged, train=train)
        dout = rng.standard_normal(shape)
        bn.zero_grad()
        y = bn(x)
        results.append((y, bn.backward(dout), bn.gamma.grad.copy(), bn.beta.grad.copy()))
    (y_s, dx_s, dg_s, db_s), (y_f, dx_f, dg_f, db_f) = results
    assert np.array_equal(y_s, y_f)                          # the forward is shared
    for staged, simplified in ((dx_s, dx_f), (dg_s, dg_f), (db_s, db_f)):
        scale = np.abs(simplified).max()
        assert np.abs(staged - simplified).max() <= 1e-12 * scale


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "simplified"])
def test_batchnorm2d_is_batchnorm1d_over_every_pixel(staged):
    """BatchNorm2d(C) on (N, C, H, W) is BatchNorm1d(C) on the N*H*W rows of
    x.transpose(0, 2, 3, 1).reshape(-1, C): outputs, gradients, running statistics, in training
    steps and then in eval mode."""
    rng = np.random.default_rng(3)
    N, C, H, W = 4, 3, 5, 2
    bn2, bn1 = (cls(C, dtype=F64, momentum=0.3, staged=staged)
                for cls in (BatchNorm2d, BatchNorm1d))
    gamma, beta = rng.uniform(0.5, 2, C), rng.standard_normal(C)
    for bn in (bn2, bn1):
        bn.gamma.data[:], bn.beta.data[:] = gamma, beta

    def rows(a):                                     # (N, C, H, W) -> (N*H*W, C)
        return a.transpose(0, 2, 3, 1).reshape(-1, C)

    for train in (True, True, False):
        bn2.train(train), bn1.train(train)
        bn2.zero_grad(), bn1.zero_grad()
        x = 5 * rng.standard_normal((N, C, H, W)) + 12
        dout = rng.standard_normal(x.shape)
        y2, y1 = bn2(x), bn1(rows(x))
        dx2, dx1 = bn2.backward(dout), bn1.backward(rows(dout))
        np.testing.assert_allclose(rows(y2), y1, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rows(dx2), dx1, rtol=1e-12, atol=1e-12)
        for a, b in ((bn2.gamma.grad, bn1.gamma.grad), (bn2.beta.grad, bn1.beta.grad),
                     (bn2.running_mean, bn1.running_mean), (bn2.running_var, bn1.running_var)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.1, 0.8, 1.0])
def test_batchnorm2d_running_stats_follow_pytorch(momentum, rng):
    """running = (1 - m) * running + m * batch, with the batch variance unbiased over the
    N*H*W values of each channel (PyTorch's BatchNorm2d)."""
    x = 3 * rng.standard_normal((2, 4, 3, 5)) + 1
    bn = BatchNorm2d(4, momentum=momentum, dtype=F64)
    bn(x)
    assert np.allclose(bn.running_mean, momentum * x.mean((0, 2, 3)))
    assert np.allclose(bn.running_var, (1 - momentum) + momentum * x.var((0, 2, 3), ddof=1))
    y = bn.eval()(x)                                         # eval uses them
    expected = (x - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-5)
    assert np.allclose(y, expected)


def test_batchnorm2d_train_output_is_standardized_per_channel(rng):
    x = rng.standard_normal((8, 3, 4, 4)) * np.array([0.1, 10, 1000])[:, None, None] + 50
    y = BatchNorm2d(3, eps=1e-12, dtype=F64)(x)
    assert np.allclose(y.mean((0, 2, 3)), 0, atol=1e-9)
    assert np.allclose(y.var((0, 2, 3)), 1, atol=1e-6)


@pytest.mark.parametrize("staged", [True, False])
def test_batchnorm2d_keeps_float32(staged, rng):
    bn = BatchNorm2d(6, staged=staged)
    x = rng.standard_normal((4, 6, 5, 5)).astype(np.float32)
    y = bn(x)
    dx = bn.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == bn.running_var.dtype == bn.gamma.grad.dtype == np.float32
    assert y.shape == dx.shape == x.shape and bn.gamma.grad.shape == (6,)


@pytest.mark.parametrize("shape, match", [
    ((4, 5, 3, 3), r"BatchNorm2d\(3\) expects input of shape \(N, 3, H, W\), "
                   r"got \(4, 5, 3, 3\): 5 channels, not 3"),
    ((4, 3), r"BatchNorm2d\(3\) .* got \(4, 3\); for \(N, D\) activations use BatchNorm1d"),
    ((4, 3, 5), r"BatchNorm2d\(3\) expects input of shape \(N, 3, H, W\), got \(4, 3, 5\)"),
])
def test_batchnorm2d_names_itself_for_a_wrong_shape(shape, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm2d(3)(np.ones(shape, np.float32))


def test_batchnorm1d_rejects_images():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\) expects input of shape \(N, 3\)"):
        BatchNorm1d(3)(np.ones((2, 3, 4, 4), np.float32))


def test_batchnorm2d_needs_two_values_per_channel_in_training_only():
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d in training mode needs at least 2 values "
                                         r"per channel \(N \* H \* W\), got 1"):
        bn(np.ones((1, 3, 1, 1), np.float32))
    assert bn(np.ones((1, 3, 2, 1), np.float32)).shape == (1, 3, 2, 1)   # 1 image, 2 pixels
    assert bn.eval()(np.ones((1, 3, 1, 1), np.float32)).shape == (1, 3, 1, 1)


def test_batchnorm2d_arguments_are_keyword_only_and_checked():
    with pytest.raises(TypeError):
        BatchNorm2d(64, 0.8)
    with pytest.raises(ValueError, match="BatchNorm2d: momentum"):
        BatchNorm2d(4, momentum=-0.1)
    with pytest.raises(ValueError, match="BatchNorm2d: eps"):
        BatchNorm2d(4, eps=0)


def test_repr_and_state_dict():
    assert repr(BatchNorm2d(8)) == "BatchNorm2d(8, eps=1e-05, momentum=0.1)"
    assert repr(BatchNorm1d(8, staged=True)) == \
        "BatchNorm1d(8, eps=1e-05, momentum=0.1, staged=True)"
    assert set(BatchNorm2d(8).state_dict()) == {"gamma", "beta", "running_mean", "running_var"}


def test_backward_without_forward_is_an_error():
    with pytest.raises(RuntimeError, match="BatchNorm2d.backward"):
        BatchNorm2d(2).backward(np.ones((2, 2, 1, 1)))


class BatchNorm2dWithoutVarianceTerm(BatchNorm2d):
    """The classic bug, in the image layer: dx treats the variance as a constant."""

    def backward_simplified(self, dout):
        x_hat, inv_std, _ = self.pop_cache()
        n = x_hat.size // self.num_features
        self.add_parameter_grads(self.feature_sum(dout), self.feature_sum(dout * x_hat))
        return self.per_feature(self.gamma.data) * inv_std * (dout - self.feature_sum(dout) / n)


@pytest.mark.gradcheck
def test_the_check_catches_a_missing_variance_term_in_batchnorm2d(rng):
    from npgan.gradcheck import check_module
    bn, x = make_bn(BatchNorm2dWithoutVarianceTerm, SHAPES[BatchNorm2d], rng,
                    staged=False, train=True)
    errors = check_module(bn, x)
    assert errors["x"] > 1e-2 and errors["gamma"] < 1e-6


def test_clear_errors_for_a_list_and_for_staged_changed_between_passes():
    bn = BatchNorm2d(3)
    with pytest.raises(TypeError, match=r"BatchNorm2d\(3\) expects an array, got list"):
        bn([[1.0, 2.0]])
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    bn(x)
    bn.staged = True
    with pytest.raises(RuntimeError, match="staged was changed between forward and backward"):
        bn.backward(np.ones_like(x))


def test_feature_sum_is_the_sum_over_batch_and_pixels_in_either_layout():
    """BatchNorm2d sums C-order images batch first (fast beside) and batch-last ones (a
    convolution's output) in one sum, the plain line; both are the sum over (0, 2, 3)."""
    rng = np.random.default_rng(3)
    bn = BatchNorm2d(5)
    c_order = rng.standard_normal((6, 5, 7, 3)).astype(np.float32)
    batch_last = np.ascontiguousarray(c_order.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    exact = c_order.astype(np.float64).sum(axis=(0, 2, 3), keepdims=True)
    for x in (c_order, batch_last):
        assert bn.feature_sum(x).shape == (1, 5, 1, 1)
        np.testing.assert_allclose(bn.feature_sum(x), exact, rtol=1e-5, atol=1e-4)
    assert np.array_equal(bn.feature_sum(batch_last), batch_last.sum(axis=(0, 2, 3), keepdims=True))
    assert np.array_equal(bn.feature_sum(c_order), bn.feature_sum_c_order(c_order))
