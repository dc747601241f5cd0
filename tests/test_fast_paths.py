"""The speed-ups in the training step compute exactly what the plain textbook code computes.

Fast paths (see benchmarks/README.md) checked against the straightforward version:
LeakyReLU's cached slope against np.where, a Linear that skips dL/dx against a full backward,
lazy zeroing against eager zeros, and whole optimized GANTrainer steps against steps written
as plainly as possible. (BatchNorm's rewritten backward is covered by the gradient checks,
the chunked optimizer update by tests/test_optim.py.)
"""

import numpy as np
import pytest

from npgan.losses import bce_with_logits
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
    p.zero_grad()
    assert not p.grad.any()                                 # zeros, once read
    p.grad[...] = 7.0
    p.zero_grad()
    p.add_matmul(a, b)                                      # written over the stale 7s
    assert np.allclose(p.grad, a @ b)
    p.add_matmul(a, b)                                      # and then accumulated
    assert np.allclose(p.grad, 2 * (a @ b))


def test_optimizer_step_sees_zero_for_a_parameter_no_backward_reached():
    used, unused = Parameter(np.ones((3, 1))), Parameter(np.ones((2, 1)))
    opt = SGD([used, unused], lr=1.0)
    used.grad[...] = unused.grad[...] = 5.0                 # stale gradients from before
    opt.zero_grad()
    used.add_matmul(np.ones((3, 1)), np.ones((1, 1)))       # a backward reaches only `used`
    opt.step()
    assert not used.data.any() and (unused.data == 1).all()


def zero(net):
    """Eager zeroing, written out (Module.zero_grad is lazy)."""
    for p in net.parameters():
        p.grad[...] = 0


def plain_step(trainer, real, labels, adam_state):
    """One GAN step written plainly: eager zeroing, D on real and fake separately, full
    backward everywhere (so Linear adds with +=), and Adam as its formula, one parameter at a
    time. The noise (and fake labels) come from the trainer's generator, as in train_step."""
    G, D, b = trainer.G, trainer.D, real.shape[0]
    z = trainer.noise(b)
    fake_labels = None if labels is None else trainer.random_labels(b)
    fake = G(z) if labels is None else G(z, fake_labels)

    def call(x, y):                                         # D(x), or D(x, y) for a cGAN
        return D(x) if y is None else D(x, y)

    zero(D)
    loss_real, grad = bce_with_logits(call(real, labels), 1.0)
    D.backward(grad)
    loss_fake, grad = bce_with_logits(call(fake, fake_labels), 0.0)
    D.backward(grad)
    adam(D, adam_state["D"], trainer.settings)
    zero(G)
    zero(D)
    loss_g, grad = bce_with_logits(call(fake, fake_labels), 1.0)
    G.backward(D.backward(grad))
    adam(G, adam_state["G"], trainer.settings)
    return loss_real + loss_fake, loss_g


def adam(net, state, settings):
    b1, b2 = settings["betas"]
    state["t"] = t = state.get("t", 0) + 1
    for name, p in net.named_parameters():
        m, v = state.get(name, (0.0, 0.0))
        m = b1 * m + (1 - b1) * p.grad
        v = b2 * v + (1 - b2) * p.grad ** 2
        state[name] = (m, v)
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p.data[...] -= settings["lr"] * m_hat / (np.sqrt(v_hat) + 1e-8)


STEP_CONFIGS = {
    "gan": CFG,
    "cgan": GANConfig(latent_dim=3, g_hidden=(5, 6, 4), d_hidden=(6, 5), image_dim=4,
                      num_classes=3, embed_dim=2),
    "gan larger than one optimizer chunk": GANConfig(latent_dim=8, g_hidden=(16, 32, 256),
                                                     d_hidden=(32, 16), image_dim=784),
}


@pytest.mark.parametrize("name", STEP_CONFIGS)
def test_optimized_step_equals_the_plain_step(name):
    """Joint D batch, D's skipped input gradient, input_grad_only in the G step, lazy zeroing
    with add_matmul, chunked packed Adam: three steps of each must give the same weights."""
    cfg = STEP_CONFIGS[name]
    rng = np.random.default_rng(5)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    labels = rng.integers(0, cfg.num_classes, 8) if cfg.conditional else None
    fast, plain = (GANTrainer(cfg, seed=4, dtype=np.float64) for _ in range(2))
    if name.startswith("gan larger"):
        assert len(fast.opt_g.chunks) > 1
    state = {"G": {}, "D": {}}
    initial = {k: v.copy() for k, v in fast.device_state().items()}
    for _ in range(3):
        stats = fast.train_step(real, labels)
        d_loss, g_loss = plain_step(plain, real, labels, state)
        assert stats["d_loss"] == pytest.approx(d_loss, rel=1e-12)
        assert stats["g_loss"] == pytest.approx(g_loss, rel=1e-12)
    for net in ("G", "D"):
        for (key, a), (_, b) in zip(getattr(fast, net).named_parameters(),
                                    getattr(plain, net).named_parameters()):
            assert not np.allclose(a.data, initial[f"{net}.{key}"]), f"{net}.{key} never moved"
            assert np.allclose(a.data, b.data, rtol=1e-10, atol=1e-13), f"{net}.{key}"


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
