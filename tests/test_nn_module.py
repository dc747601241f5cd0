"""The Module contract: parameters, gradient accumulation, modes, state dicts, errors."""

import numpy as np
import pytest

from npgan.nn import BatchNorm1d, Dropout, Embedding, LeakyReLU, Linear, Sequential, Tanh


def small_net(rng, dtype=np.float32):
    return Sequential(Linear(4, 6, bias=False, rng=rng, dtype=dtype), BatchNorm1d(6, dtype=dtype),
                      LeakyReLU(0.2), Dropout(0.3, rng=rng), Linear(6, 2, rng=rng, dtype=dtype))


def test_parameters_in_order_with_dotted_names(rng):
    names = [n for n, _ in small_net(rng).named_parameters()]
    assert names == ["0.weight", "1.gamma", "1.beta", "4.weight", "4.bias"]


def test_backward_accumulates_and_zero_grad_clears(rng):
    lin = Linear(3, 2, rng=rng)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    dout = np.ones((5, 2), np.float32)
    lin(x); lin.backward(dout)
    once = lin.weight.grad.copy()
    lin(x); lin.backward(dout)
    assert np.allclose(lin.weight.grad, 2 * once)
    lin.zero_grad()
    assert not lin.weight.grad.any() and not lin.bias.grad.any()


def test_backward_never_changes_weights(rng):
    net = small_net(rng)
    before = {k: v.copy() for k, v in net.state_dict().items() if "running" not in k}
    y = net(rng.standard_normal((8, 4)).astype(np.float32))
    net.backward(np.ones_like(y))
    for k, v in before.items():
        assert np.array_equal(net.state_dict()[k], v), k


def test_backward_without_forward_names_the_layer(rng):
    lin = Linear(3, 2, rng=rng)
    with pytest.raises(RuntimeError, match=r"Linear.backward\(\) called without a forward"):
        lin.backward(np.ones((1, 2), np.float32))
    lin(np.ones((1, 3), np.float32)); lin.backward(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="twice"):
        lin.backward(np.ones((1, 2), np.float32))


def test_train_and_eval_reach_every_child(rng):
    net = small_net(rng).eval()
    assert not any(m.training for m in net)
    net.train()
    assert all(m.training for m in net)


def test_state_dict_round_trip_includes_running_stats(rng):
    a, b = small_net(rng), small_net(np.random.default_rng(99))
    a(rng.standard_normal((8, 4)).astype(np.float32))       # move running stats off 0 / 1
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    a.eval(); b.eval()
    x = rng.standard_normal((3, 4)).astype(np.float32)
    assert np.array_equal(a(x), b(x))
    assert "1.running_mean" in a.state_dict()


def test_load_state_dict_lists_every_problem(rng):
    state = small_net(rng).state_dict()
    state.pop("1.gamma")
    state["extra"] = np.zeros(1)
    state["0.weight"] = np.zeros((5, 6))
    with pytest.raises(ValueError) as err:
        small_net(rng).load_state_dict(state)
    message = str(err.value)
    assert "1.gamma" in message and "extra" in message
    assert "0.weight: got shape (5, 6), expected (4, 6)" in message


def test_load_state_dict_keeps_dtype(rng):
    net = small_net(rng, np.float32)
    net.load_state_dict({k: v.astype(np.float64) for k, v in net.state_dict().items()})
    assert all(v.dtype == np.float32 for v in net.state_dict().values())


def test_repr_shows_the_architecture(rng):
    text = repr(small_net(rng))
    assert "(0): Linear(in_features=4, out_features=6, bias=False)" in text
    assert "BatchNorm1d(6, eps=1e-05, momentum=0.1)" in text
    assert "Dropout(p=0.3)" in text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_through_forward_and_backward(dtype, rng):
    net = Sequential(small_net(rng, dtype), Tanh())
    x = rng.standard_normal((5, 4)).astype(dtype)
    y = net(x)
    dx = net.backward(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    assert all(p.grad.dtype == dtype for p in net.parameters())


def test_seeded_init_is_reproducible():
    a = Linear(5, 3, rng=np.random.default_rng(7))
    b = Linear(5, 3, rng=np.random.default_rng(7))
    assert np.array_equal(a.weight.data, b.weight.data)
    k = 1 / np.sqrt(5)
    assert np.abs(a.weight.data).max() <= k               # PyTorch's U(-1/sqrt(in), 1/sqrt(in))


# -- bad input: the error names the layer and what it expected -------------------------------

def test_linear_rejects_wrong_feature_count(rng):
    with pytest.raises(ValueError, match=r"Linear\(4 -> 6\) expects 4 input features, got 5"):
        Linear(4, 6, rng=rng)(np.ones((2, 5), np.float32))


def test_linear_rejects_1d_input(rng):
    with pytest.raises(ValueError, match=r"expects a 2-D input of shape \(N, 4\).*x\[None\]"):
        Linear(4, 6, rng=rng)(np.ones(4, np.float32))


def test_linear_rejects_dtype_mismatch_instead_of_upcasting(rng):
    with pytest.raises(TypeError, match="float32 weights but got float64 input"):
        Linear(4, 6, rng=rng)(np.ones((2, 4)))


def test_batchnorm_rejects_batch_of_one_in_train_mode_only():
    bn = BatchNorm1d(3)
    with pytest.raises(ValueError, match="BatchNorm1d in training mode needs a batch of at least 2"):
        bn(np.ones((1, 3), np.float32))
    assert bn.eval()(np.ones((1, 3), np.float32)).shape == (1, 3)


def test_batchnorm_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        BatchNorm1d(256, 0.8)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(4, momentum=1.5)


def test_embedding_rejects_float_and_out_of_range_indices(rng):
    emb = Embedding(10, 4, rng=rng)
    with pytest.raises(TypeError, match=r"Embedding\(10, 4\) expects integer indices, got dtype float64"):
        emb(np.array([1.0, 2.0]))
    with pytest.raises(IndexError, match=r"index range \[3, 10\]; valid indices are 0 .. 9"):
        emb(np.array([3, 10]))
    with pytest.raises(IndexError, match="valid indices"):
        emb(np.array([-1]))


def test_dropout_rejects_p_of_one():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\)"):
        Dropout(1.0)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="item 1 is a ufunc, not a Module"):
        Sequential(Tanh(), np.tanh)
