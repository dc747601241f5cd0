"""The speed-ups in the training step compute exactly what the plain textbook code computes.

Fast paths (see benchmarks/README.md) checked against the straightforward version:
LeakyReLU's cached slope against np.where, a Linear that skips dL/dx against a full backward,
lazy zeroing against eager zeros, and GANTrainer's fast_step (with the optimizers' fast path)
against its plain_step (with their plain rules). (BatchNorm's rewritten backward is covered
by tests/test_batchnorm.py, the optimizers' fast update by tests/test_optim.py.)
"""

import numpy as np
import pytest

from npgan.models import GANConfig
from npgan.nn import LeakyReLU, Linear, Parameter
from npgan.optim import SGD
from npgan.train import GANTrainer

CFG = GANConfig(latent_dim=3, g_hidden=(5, 6, 4), d_hidden=(6, 5), image_dim=4)


@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 0.3, 1.0, 1.0004, 3.0, -0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_equals_the_where_definition(slope, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(200), [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30]])
    x = x.astype(dtype).reshape(-1, 2)
    dout = rng.standard_normal(x.shape).astype(dtype)
    layer = LeakyReLU(slope)
    y = layer(x)
    dx = layer.backward(dout)
    assert y.dtype == dx.dtype == dtype
    assert np.array_equal(y, np.where(x > 0, x, x * dtype(slope)))
    assert np.array_equal(dx, np.where(x > 0, dout, dout * dtype(slope)))


@pytest.mark.parametrize("shape", [(64, 6272), (128, 256), (3, 5)])
def test_one_output_linear_input_grad_has_the_matrix_products_values(shape):
    """Linear.backward's broadcast for out_features == 1 against dout @ W.T, in float32: the
    same values (np.array_equal counts -0.0 and 0.0 as equal, as every later sum does)."""
    n, d = shape
    rng = np.random.default_rng(2)
    layer = Linear(d, 1, rng=rng)
    layer(rng.standard_normal((n, d)).astype(np.float32))
    dout = rng.standard_normal((n, 1)).astype(np.float32)
    assert np.array_equal(layer.backward(dout), dout @ layer.weight.data.T)


def test_linear_without_input_grad_keeps_weight_grads_and_returns_none():
    rng = np.random.default_rng(1)
    layer = Linear(4, 3, rng=rng, dtype=np.float64)
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer(x)
    layer.backward(dout)
    full = [p.grad.copy() for p in layer.parameters()]
    layer.zero_grad()
    layer(x)
    with layer.without_input_grad():
        assert layer.backward(dout) is None
    assert all(np.array_equal(a, p.grad) for a, p in zip(full, layer.parameters()))
    layer(x)
    assert layer.backward(dout).shape == x.shape                # restored after the block
    with pytest.raises(KeyError), layer.without_input_grad():
        raise KeyError                                          # restored after an error too
    assert layer.input_grad


def test_lazy_zero_grad_reads_as_zeros_and_lets_a_product_be_written_in():
    rng = np.random.default_rng(2)
    p = Parameter(rng.standard_normal((4, 3)))
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    p.grad[...] = 7.0
    p.zero_grad()                                           # eager by default
    assert not p.zero_pending and not p._grad.any()
    p.grad[...] = 7.0
    p.zero_grad(lazy=True)
    assert not p.grad.any()                                 # zeros, once read
    p.grad[...] = 7.0
    p.zero_grad(lazy=True)
    p.matmul_into_grad(a, b)                                # written over the stale 7s
    assert np.allclose(p.grad, a @ b)
    p.grad += a @ b                                         # and then accumulated
    assert np.allclose(p.grad, 2 * (a @ b))


def test_linear_writes_its_weight_gradient_the_same_way_in_both_modes():
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    grads = []
    for lazy in (False, True):
        layer = Linear(4, 3, rng=np.random.default_rng(0), dtype=np.float64)
        layer.weight.grad[...] = 9.0                        # stale
        layer.weight.zero_grad(lazy=lazy)
        layer(x)
        layer.backward(dout)
        grads.append(layer.weight.grad.copy())
    assert np.allclose(grads[0], x.T @ dout) and np.array_equal(grads[0], grads[1])


def test_optimizer_step_sees_zero_for_a_parameter_no_backward_reached():
    used, unused = Parameter(np.ones((3, 1))), Parameter(np.ones((2, 1)))
    opt = SGD([used, unused], lr=1.0, fast=True)
    used.grad[...] = unused.grad[...] = 5.0                 # stale gradients from before
    opt.zero_grad()                                         # lazy, in fast mode
    used.matmul_into_grad(np.ones((3, 1)), np.ones((1, 1)))  # a backward reaches only `used`
    opt.step()
    assert not used.data.any() and (unused.data == 1).all()


STEP_CONFIGS = {
    "gan": CFG,
    "cgan": GANConfig(latent_dim=3, g_hidden=(5, 6, 4), d_hidden=(6, 5), image_dim=4,
                      num_classes=3, embed_dim=2),
    "cgan with a projection discriminator": GANConfig(latent_dim=3, g_hidden=(5, 6, 4),
                                                      d_hidden=(6, 5), image_dim=4, num_classes=3,
                                                      embed_dim=2, d_label="projection"),
    "gan larger than one optimizer chunk": GANConfig(latent_dim=8, g_hidden=(16, 32, 256),
                                                     d_hidden=(32, 16), image_dim=784),
}


@pytest.mark.parametrize("name", STEP_CONFIGS)
def test_fast_step_equals_the_plain_step(name):
    """GANTrainer(fast=True) against GANTrainer(fast=False): the joint D batch, D's skipped
    input gradient, input_grad_only in the G step, lazy zeroing with matmul_into_grad and
    the packed, chunked Adam against the textbook step with eager zeroing, full backward
    (Linear adds with +=) and Adam's formula one parameter at a time. Three steps of each
    must give the same losses and weights."""
    cfg = STEP_CONFIGS[name]
    rng = np.random.default_rng(5)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    labels = rng.integers(0, cfg.num_classes, 8) if cfg.conditional else None
    fast, plain = (GANTrainer(cfg, seed=4, dtype=np.float64, fast=f) for f in (True, False))
    if name.startswith("gan larger"):
        assert len(fast.opt_g.chunks) > 1
    initial = {k: v.copy() for k, v in fast.device_state().items()}
    for _ in range(3):
        a, b = fast.train_step(real, labels), plain.train_step(real, labels)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for net in ("G", "D"):
        for (key, a), (_, b) in zip(getattr(fast, net).named_parameters(),
                                    getattr(plain, net).named_parameters()):
            assert not np.allclose(a.data, initial[f"{net}.{key}"]), f"{net}.{key} never moved"
            assert np.allclose(a.data, b.data, rtol=1e-10, atol=1e-13), f"{net}.{key}"
    for (key, a), b in zip(fast.device_state().items(), plain.device_state().values()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), key      # moments, BN statistics


@pytest.mark.parametrize("fast", [True, False])
def test_state_is_a_snapshot_the_next_step_leaves_alone(fast):
    """The modules' state_dicts and the fast optimizers' hand out their live arrays (the
    weights, the flat buffers); state() copies, so its arrays stay those of its step."""
    trainer = GANTrainer(CFG, fast=fast, ema=0.9)
    real = np.random.default_rng(0).uniform(-1, 1, (8, 4)).astype(np.float32)
    trainer.train_step(real)
    arrays, _ = trainer.state()
    kept = {k: v.copy() for k, v in arrays.items()}
    trainer.train_step(real)
    assert [k for k, v in arrays.items() if not np.array_equal(v, kept[k])] == []
    assert not all(np.array_equal(v, trainer.state()[0][k]) for k, v in kept.items())


def test_plain_step_is_what_it_says():
    """The plain trainer really is plain: nothing packed, nothing lazy, every backward full."""
    trainer = GANTrainer(CFG, seed=0, dtype=np.float64, fast=False)
    assert all(p.packed is None for p in trainer.G.parameters() + trainer.D.parameters())
    trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (4, CFG.image_dim)))
    assert not any(p.zero_pending for p in trainer.G.parameters() + trainer.D.parameters())


def test_d_step_skips_the_input_gradient_of_ds_first_layer():
    """The D step's backward must not compute dL/d(images): D's first Linear returns None."""
    trainer = GANTrainer(CFG, seed=0, dtype=np.float64)
    first, returned = trainer.D[0], []
    original = first.backward

    def spy(dout):
        returned.append(original(dout))
        return returned[-1]

    first.backward = spy
    trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (4, CFG.image_dim)))
    assert returned[0] is None                              # D step: skipped
    assert returned[1].shape == (4, CFG.image_dim)          # G step: dL/d(fake) is needed


def test_dcgan_d_step_skips_conv1s_input_gradient_and_stops_there():
    """A DCGAN's D starts with an Unflatten (no parameters): its Conv2d is the first layer
    with parameters, returns None in the D step, and Sequential.backward stops there. (With
    BatchNorm in D, so that real and fake take separate backwards.)"""
    from npgan.models import DCGANConfig
    trainer = GANTrainer(DCGANConfig(g_channels=(8, 4), d_channels=(4, 8), d_batchnorm=True,
                                     d_dropout=0.0), seed=0, dtype=np.float64)
    unflatten, conv1 = trainer.D[0], trainer.D[1]
    assert trainer.D.first_trained_layer() is conv1
    returned, reached = [], []
    conv_backward, unflatten_backward = conv1.backward, unflatten.backward
    conv1.backward = lambda dout: returned.append(conv_backward(dout)) or returned[-1]
    unflatten.backward = lambda dout: reached.append(dout) or unflatten_backward(dout)
    trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (4, 784)))
    assert returned[0] is None and returned[1] is None      # D step, real and fake: skipped
    assert returned[2].shape == (4, 1, 28, 28)              # G step: dL/d(fake) is needed
    assert len(reached) == 1                                # Unflatten runs in the G step only
    assert unflatten.cache is None                          # cleared where backward stopped


def test_flatten_hands_back_the_batch_last_layout_with_the_same_numbers():
    from npgan.nn import Flatten
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6)).transpose(3, 0, 1, 2)  # (N, C, H, W), batch last
    dout = rng.standard_normal((6, 60))                          # a Linear's (N, D) rows
    layer = Flatten()
    assert np.array_equal(layer(x), x.reshape(6, -1))
    dx = layer.backward(dout)
    assert np.array_equal(dx, dout.reshape(x.shape))
    assert dx.strides == x.strides                               # x's own layout
    layer(np.ascontiguousarray(x))                               # a C-order input: a view
    assert np.shares_memory(layer.backward(dout), dout)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("cfg", ["mlp", "dcgan", "cgan"])
def test_fast_ema_update_is_the_plain_one_bit_for_bit(n_threads, cfg):
    """update_ema's chunked, threaded form on flat buffers against its loop over G's arrays:
    on the default GAN (an array larger than one chunk, its 1024 x 784 layer), a DCGAN (its
    BatchNorm2d statistics) and a conditional GAN (G's label embedding)."""
    from npgan.models import DCGANConfig
    from npgan.optim import CHUNK
    from npgan.threads import set_threads
    config = {"mlp": GANConfig(), "dcgan": DCGANConfig(g_channels=(8, 4)),
              "cgan": GANConfig(latent_dim=8, g_hidden=(16, 32), d_hidden=(16,), image_dim=12,
                                num_classes=3, embed_dim=4)}[cfg]
    trainer = GANTrainer(config, seed=0, ema=0.999)
    assert max(p.data.size for p in trainer.G.parameters()) > CHUNK or cfg != "mlp"
    rng = np.random.default_rng(1)
    for v in trainer.G.state_dict().values():           # weights and BatchNorm statistics
        v[...] = rng.uniform(0.5, 1.5, v.shape)
    trainer.step = 1000
    start = {k: v.copy() for k, v in trainer.G_ema.state_dict().items()}
    set_threads(n_threads)
    try:
        trainer.update_ema()
    finally:
        set_threads(1)
    fast = {k: v.copy() for k, v in trainer.G_ema.state_dict().items()}
    for k, v in trainer.G_ema.state_dict().items():
        v[...] = start[k]
    trainer.fast = False
    trainer.update_ema()
    for k, v in trainer.G_ema.state_dict().items():
        assert not np.array_equal(v, start[k]), k
        assert np.array_equal(v, fast[k]), k
