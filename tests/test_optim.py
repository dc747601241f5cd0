"""Optimizers: one step against numbers worked out by hand, then convergence on a convex bowl;
each test runs the plain rule (``update``) and the fast one (``fast_update``, ``fast=True``)."""

import numpy as np
import pytest

from npgan.nn import Parameter
from npgan.optim import CHUNK, SGD, Adam, RMSprop


@pytest.fixture(params=[False, True], ids=["plain", "fast"])
def fast(request):
    return request.param


def param(values, grad):
    p = Parameter(np.array(values, dtype=np.float64))
    p.grad[...] = grad
    return p


def test_sgd_one_step_by_hand(fast):
    p = param([1.0, -2.0], [0.5, 1.0])
    SGD([p], lr=0.1, fast=fast).step()
    assert np.allclose(p.data, [1.0 - 0.05, -2.0 - 0.1])


def test_sgd_momentum_two_steps_by_hand(fast):
    p = param([1.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, fast=fast)
    opt.step()                       # v = 1,          w = 1 - 0.1      = 0.9
    opt.step()                       # v = 0.9 + 1,    w = 0.9 - 0.19   = 0.71
    assert p.data[0] == pytest.approx(0.71)


def test_rmsprop_one_step_by_hand(fast):
    p = param([1.0], [2.0])
    RMSprop([p], lr=0.01, alpha=0.9, eps=0.0, fast=fast).step()
    # s = 0.1 * 4 = 0.4;  w = 1 - 0.01 * 2 / sqrt(0.4)
    assert p.data[0] == pytest.approx(1 - 0.02 / np.sqrt(0.4))


def test_rmsprop_momentum_two_steps_by_hand(fast):
    p = param([0.0], [1.0])
    opt = RMSprop([p], lr=0.1, alpha=0.5, eps=0.0, momentum=0.5, fast=fast)
    opt.step()                       # s = 0.5,  u = 1/sqrt(0.5),   b = u1
    u1 = 1 / np.sqrt(0.5)
    opt.step()                       # s = 0.75, u = 1/sqrt(0.75),  b = 0.5 b + u2
    u2 = 1 / np.sqrt(0.75)
    assert p.data[0] == pytest.approx(-0.1 * u1 - 0.1 * (0.5 * u1 + u2))


def test_adam_first_step_is_lr_times_sign(fast):
    """At t = 1 bias correction gives m_hat = g and v_hat = g^2, so the step is lr * g / |g|."""
    p = param([1.0, 1.0], [3.0, -0.002])
    Adam([p], lr=0.01, eps=0.0, fast=fast).step()
    assert np.allclose(p.data, [0.99, 1.01])


def test_adam_second_step_by_hand(fast):
    p = param([0.0], [1.0])
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0, fast=fast)
    opt.step()                                   # w = -0.1
    p.grad[...] = 3.0
    opt.step()
    m, v = 0.5 * 0.5 + 0.5 * 3, 0.75 * 0.25 + 0.25 * 9          # 1.75, 2.4375
    m_hat, v_hat = m / (1 - 0.5 ** 2), v / (1 - 0.75 ** 2)
    assert p.data[0] == pytest.approx(-0.1 - 0.1 * m_hat / np.sqrt(v_hat))


@pytest.mark.parametrize("make", [
    lambda ps, **k: SGD(ps, lr=0.1, **k),
    lambda ps, **k: SGD(ps, lr=0.05, momentum=0.9, **k),
    lambda ps, **k: RMSprop(ps, lr=0.01, **k),
    lambda ps, **k: RMSprop(ps, lr=0.01, momentum=0.5, **k),
    lambda ps, **k: Adam(ps, lr=0.05, **k),
], ids=["sgd", "sgd-momentum", "rmsprop", "rmsprop-momentum", "adam"])
def test_drives_a_convex_quadratic_to_its_minimum(make, fast):
    """f(w) = 0.5 (w - c)^T A (w - c), A positive definite: minimum at c."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((5, 5))
    a = q @ q.T / 5 + np.eye(5)
    c = rng.standard_normal(5)
    p = Parameter(np.zeros(5))
    opt = make([p], fast=fast)
    for _ in range(2000):
        opt.zero_grad()
        p.grad += a @ (p.data - c)
        opt.step()
    assert np.abs(p.data - c).max() < 1e-2


def test_state_dict_round_trip_continues_identically(fast):
    def run(opt_from):
        p = Parameter(np.ones(3))
        opt = Adam([p], lr=0.1, fast=fast)
        for g in ([1, 2, 3], [0.5, -1, 2]):
            p.grad[...] = g
            opt.step()
        return p, opt
    p1, opt1 = run(None)
    p2 = Parameter(p1.data.copy())
    opt2 = Adam([p2], lr=0.1, fast=not fast)             # the state format is shared
    opt2.load_state_dict({k: np.copy(v) for k, v in opt1.state_dict().items()})
    for p, opt in ((p1, opt1), (p2, opt2)):
        p.grad[...] = [1, 1, 1]
        opt.step()
    assert np.allclose(p1.data, p2.data, rtol=1e-13, atol=0) and opt2.t == 3


def test_bad_hyperparameters_are_refused():
    p = [Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        Adam(p, lr=0)
    with pytest.raises(ValueError, match="betas"):
        Adam(p, betas=(0.5, 1.0))
    for betas in [(0.5,), (0.5, 0.9, 0.99)]:              # was "not enough values to unpack"
        with pytest.raises(ValueError, match=r"betas must be two numbers.*got \(0\.5,"):
            Adam(p, betas=betas)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="missing keys"):
        SGD(p).load_state_dict({})


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, momentum=0.9, fast=True),
                                  lambda ps: RMSprop(ps, momentum=0.5, fast=True),
                                  lambda ps: Adam(ps, fast=True)], ids=["sgd", "rmsprop", "adam"])
def test_chunked_update_is_bit_identical_to_one_whole_array_update(make):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(2 * CHUNK + 1000).astype(np.float32)
    results = []
    for whole in (False, True):
        p = Parameter(w0.copy())
        opt = make([p])
        if whole:
            opt.chunks = [slice(0, w0.size)]
        for _ in range(3):
            p.grad[...] = w0 * 0.5 + 0.1
            opt.step()
        results.append(p.data.copy())
    assert len(make([Parameter(w0.copy())]).chunks) == 3
    assert np.array_equal(results[0], results[1])


def test_parameters_become_views_of_one_buffer():
    a, b = Parameter(np.ones((2, 3))), Parameter(np.zeros(4))
    opt = SGD([a, b], lr=0.5, fast=True)
    assert opt.data.shape == (10,) and np.shares_memory(a.data, opt.data)
    a.grad[...] = 1.0
    opt.step()
    assert np.all(a.data == 0.5) and np.all(b.data == 0)
    assert SGD([b, a], fast=True).data is opt.data                   # same set: same buffers
    with pytest.raises(ValueError, match="already packed with a different set"):
        SGD([a], fast=True)


OPTIMIZERS = {
    "sgd": lambda ps, **k: SGD(ps, lr=0.05, **k),
    "sgd-momentum": lambda ps, **k: SGD(ps, lr=0.05, momentum=0.9, **k),
    "rmsprop": lambda ps, **k: RMSprop(ps, lr=0.01, **k),
    "rmsprop-momentum": lambda ps, **k: RMSprop(ps, lr=0.01, momentum=0.5, **k),
    "adam": lambda ps, **k: Adam(ps, lr=2e-3, betas=(0.5, 0.999), **k),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fast_update_equals_the_plain_rule(name):
    """Packed, chunked, in place (fast) against the formula one parameter at a time (plain):
    five steps over parameters of several shapes, one of them larger than a chunk."""
    rng = np.random.default_rng(3)
    shapes = [(7, 5), (5,), (CHUNK + 123,), (3, 4, 2)]
    start = [rng.standard_normal(s) for s in shapes]
    runs = {}
    for fast in (False, True):
        params = [Parameter(w.copy()) for w in start]
        opt = OPTIMIZERS[name](params, fast=fast)
        grads = np.random.default_rng(4)
        for _ in range(5):
            opt.zero_grad()
            for p in params:
                p.grad += grads.standard_normal(p.shape)
            opt.step()
        runs[fast] = params
    assert len(OPTIMIZERS[name]([Parameter(np.zeros(CHUNK + 1))], fast=True).chunks) == 2
    for p, q, w in zip(runs[False], runs[True], start):
        assert not np.allclose(p.data, w)
        assert np.allclose(p.data, q.data, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("what", ["grad", "data"])
def test_assigning_a_parameter_never_detaches_it_from_its_optimizer(what, fast):
    """micrograd's ``p.grad = zeros`` and ``p.data = new_array``, after the optimizer exists:
    the weight must still be trained by the next step, from the assigned values."""
    from npgan.nn import Linear
    rng = np.random.default_rng(0)
    layer = Linear(3, 2, rng=rng, dtype=np.float64)
    opt = SGD(layer.parameters(), lr=0.1, fast=fast)
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    new = rng.standard_normal((3, 2))
    if what == "grad":
        layer(x)
        layer.backward(dout)                                # stale values to overwrite
        layer.weight.grad = np.zeros_like(layer.weight.data)
        assert not layer.weight.grad.any()
    else:
        layer.weight.data = new.copy()
        assert np.array_equal(layer.weight.data, new)
        opt.zero_grad()
    before = layer.weight.data.copy()
    layer(x)
    layer.backward(dout)
    opt.step()
    assert np.allclose(layer.weight.data, before - 0.1 * x.T @ dout)   # it moved, correctly
    if fast:                                                # and the flat buffer is its own
        assert np.shares_memory(layer.weight.data, opt.data)


def test_assigning_a_wrong_shape_to_a_packed_parameter_is_refused():
    p = Parameter(np.zeros((3, 2)))
    SGD([p], lr=0.1, fast=True)
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*Parameter of shape \(3, 2\)"):
        p.data = np.zeros((2, 3))
    with pytest.raises(ValueError, match="packed buffer"):
        p.grad = np.zeros(6)
    p.grad = 0                                              # a scalar fills it
    assert p.grad.shape == (3, 2) and not p.grad.any()
