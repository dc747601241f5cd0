"""Whole-network gradient checks: the G step's gradient through D, and the D step's two passes."""

import numpy as np
import pytest

from npgan.gradcheck import numerical_gradient, rel_error
from npgan.losses import bce_with_logits
from npgan.models import GANConfig, build_discriminator, build_generator
from npgan.nn import LeakyReLU
from conftest import TOL, record_error

pytestmark = pytest.mark.gradcheck
CFG = GANConfig(latent_dim=3, g_hidden=(5, 6, 4), d_hidden=(6, 5), image_dim=4)


def nets(seed=0):
    rng = np.random.default_rng(seed)
    return (build_generator(CFG, rng=rng, dtype=np.float64),
            build_discriminator(CFG, rng=rng, dtype=np.float64), rng)


def leaky_inputs(net, x):
    """The inputs every LeakyReLU of ``net`` sees for input x (one forward, layer by layer)."""
    seen = []
    for layer in net:
        if isinstance(layer, LeakyReLU):
            seen.append(x)
        x = layer(x)
    return seen, x


def assert_off_kink(net, x, margin=1e-3):
    """Finite differences with h = 1e-5 never cross a LeakyReLU kink if every input to one is
    at least ``margin`` from 0 (the test would be meaningless otherwise)."""
    seen, out = leaky_inputs(net, x)
    assert min(np.abs(a).min() for a in seen) > margin
    return out


def test_generator_loss_gradient_through_the_discriminator():
    G, D, rng = nets()
    z = rng.standard_normal((6, CFG.latent_dim))
    fake = assert_off_kink(G, z)
    assert_off_kink(D, fake)

    def g_loss():
        return bce_with_logits(D(G(z)), 1.0)[0]

    G.zero_grad()
    _, dlogits = bce_with_logits(D(G(z)), 1.0)
    G.backward(D.backward(dlogits))
    for name, p in G.named_parameters():
        error = rel_error(p.grad, numerical_gradient(g_loss, p.data))
        record_error("GAN: G loss through D", error)
        assert error < TOL, name


def test_discriminator_loss_accumulates_real_and_fake_passes():
    G, D, rng = nets(1)
    real = rng.uniform(-1, 1, (5, CFG.image_dim))
    fake = G(rng.standard_normal((5, CFG.latent_dim)))
    assert_off_kink(D, real)
    assert_off_kink(D, fake)

    def d_loss():
        return bce_with_logits(D(real), 1.0)[0] + bce_with_logits(D(fake), 0.0)[0]

    D.zero_grad()
    D.backward(bce_with_logits(D(real), 1.0)[1])
    D.backward(bce_with_logits(D(fake), 0.0)[1])                 # gradients add up
    for name, p in D.named_parameters():
        error = rel_error(p.grad, numerical_gradient(d_loss, p.data))
        record_error("GAN: D loss (real + fake)", error)
        assert error < TOL, name


def test_default_architecture_matches_the_classic_gan():
    rng = np.random.default_rng(0)
    G = build_generator(GANConfig(), rng=rng)
    D = build_discriminator(GANConfig(), rng=rng)
    text = repr(G)
    assert text.count("BatchNorm1d(") == 3 and "eps=1e-05, momentum=0.2" in text
    shapes = [p.shape for n, p in G.named_parameters() if n.endswith("weight")]
    assert shapes == [(100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    assert [p.shape for n, p in D.named_parameters() if n.endswith("weight")] == \
        [(784, 512), (512, 256), (256, 1)]
    assert G(rng.standard_normal((4, 100)).astype(np.float32)).shape == (4, 784)


def test_joint_real_fake_batch_equals_two_passes():
    """The trainer runs D once over [real; fake] (D has no BatchNorm); that must be the same
    step as two separate passes, up to float64 rounding."""
    from npgan.train import GANTrainer
    real = np.random.default_rng(5).uniform(-1, 1, (8, CFG.image_dim))
    joint, separate = (GANTrainer(CFG, seed=4, dtype=np.float64) for _ in range(2))
    separate.joint_d_batch = False
    assert joint.joint_d_batch
    stats = [t.train_step(real) for t in (joint, separate)]
    for k in stats[0]:
        assert stats[0][k] == pytest.approx(stats[1][k], rel=1e-12)
    for (name, a), (_, b) in zip(joint.state()[0].items(), separate.state()[0].items()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-14), name


def test_input_grad_only_gives_dx_and_leaves_weight_grads_alone():
    from npgan.nn import input_grad_only
    _, D, rng = nets(2)
    x = rng.uniform(-1, 1, (5, CFG.image_dim))
    dout = rng.standard_normal((5, 1))
    D.zero_grad()
    D(x)
    dx_full = D.backward(dout)
    D.zero_grad()
    D(x)
    with input_grad_only(D):
        dx_only = D.backward(dout)
    assert np.array_equal(dx_full, dx_only)
    assert all(not p.grad.any() for p in D.parameters())
    assert all(p.requires_grad for p in D.parameters())     # restored after the block
