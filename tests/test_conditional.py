"""The conditional GAN: gradients through both label embeddings, labels that steer, round trip."""

import json

import numpy as np
import pytest

from npgan.data import batches, load_mnist, scale_images
from npgan.demos.common import main as demo_main
from npgan.gradcheck import numerical_gradient, rel_error
from npgan.losses import bce_with_logits
from npgan.models import GANConfig, build_networks
from npgan.run import Run
from npgan.run_state import load_run
from npgan.train import GANTrainer
from conftest import TOL, record_error
from small_runs import demo

CFG = GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4, num_classes=3,
                embed_dim=2)


def nets(seed):
    rng = np.random.default_rng(seed)
    G, D = build_networks(CFG, rng=rng, dtype=np.float64)
    return G, D, rng


@pytest.mark.gradcheck
def test_generator_loss_gradient_reaches_both_networks_and_the_embedding():
    G, D, rng = nets(0)
    z = rng.standard_normal((6, CFG.latent_dim))
    labels = np.array([0, 2, 2, 1, 2, 0])                        # repeated labels accumulate

    def g_loss():
        return bce_with_logits(D(G(z, labels), labels), 1.0)[0]

    G.zero_grad()
    _, dlogits = bce_with_logits(D(G(z, labels), labels), 1.0)
    G.backward(D.backward(dlogits))
    names = [n for n, _ in G.named_parameters()]
    assert "embed.weight" in names
    for name, p in G.named_parameters():
        error = rel_error(p.grad, numerical_gradient(g_loss, p.data))
        record_error("cGAN: G loss through D", error)
        assert error < TOL, name


@pytest.mark.gradcheck
def test_discriminator_loss_gradient_with_true_and_generated_labels():
    G, D, rng = nets(1)
    real, real_labels = rng.uniform(-1, 1, (5, CFG.image_dim)), np.array([1, 1, 0, 2, 1])
    fake_labels = np.array([2, 0, 0, 2, 1])
    fake = G(rng.standard_normal((5, CFG.latent_dim)), fake_labels)

    def d_loss():
        return (bce_with_logits(D(real, real_labels), 1.0)[0]
                + bce_with_logits(D(fake, fake_labels), 0.0)[0])

    D.zero_grad()
    D.backward(bce_with_logits(D(real, real_labels), 1.0)[1])
    D.backward(bce_with_logits(D(fake, fake_labels), 0.0)[1])
    assert D.embed.weight.grad.any()
    for name, p in D.named_parameters():
        error = rel_error(p.grad, numerical_gradient(d_loss, p.data))
        record_error("cGAN: D loss (real + fake)", error)
        assert error < TOL, name


def label_vs_noise(trainer, n=512):
    """Mean distance between G(z, a) and G(z, b), a != b (only the label changes), divided by
    the mean distance between G(z, a) and G(z', a) (only the noise changes)."""
    rng = np.random.default_rng(9)
    k = trainer.cfg.num_classes
    z, z2 = (rng.standard_normal((n, trainer.cfg.latent_dim)) for _ in range(2))
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k                            # b != a
    base = trainer.sample(z, a)
    by_label = np.linalg.norm(base - trainer.sample(z, b), axis=1).mean()
    by_noise = np.linalg.norm(base - trainer.sample(z2, a), axis=1).mean()
    return by_label / by_noise


@pytest.fixture(scope="module")
def mnist_subset():
    images, labels = load_mnist("train")
    return scale_images(images[:6400]), labels[:6400].astype(np.int64)


def test_the_label_steers_the_samples(mnist_subset):
    x, y = mnist_subset
    trainer = GANTrainer(GANConfig(latent_dim=16, g_hidden=(64, 128), d_hidden=(128, 64),
                                   num_classes=10), lr=1e-3, seed=0)
    untrained = label_vs_noise(trainer)
    for epoch in range(4):
        for xb, yb in batches(x, 64, np.random.default_rng(epoch), labels=y):
            trainer.train_step(xb, yb)
    trained = label_vs_noise(trainer)
    assert untrained < 1.0                  # at first the noise matters more than the label
    assert trained > 1.2, (untrained, trained)


def test_conditional_checkpoint_round_trip(tmp_path, mnist_subset):
    x, y = mnist_subset
    small = GANConfig(latent_dim=8, g_hidden=(16, 32), d_hidden=(32, 16), num_classes=10)
    trainer = GANTrainer(small, seed=3)
    Run(trainer, x[:640], str(tmp_path), batch_size=64, epochs=1, quiet=True,
        labels=y[:640]).train()
    loaded, _, _ = load_run(tmp_path / "checkpoint.npz")
    assert loaded.conditional and loaded.step == 10
    z = np.random.default_rng(0).standard_normal((20, 8))
    labels = np.arange(20) % 10
    assert np.array_equal(trainer.sample(z, labels), loaded.sample(z, labels))


def test_labels_are_required_and_refused_where_they_should_be():
    cond = GANTrainer(GANConfig(latent_dim=4, g_hidden=(8, 8), d_hidden=(8,), num_classes=10))
    plain = GANTrainer(GANConfig(latent_dim=4, g_hidden=(8, 8), d_hidden=(8,)))
    real = np.zeros((4, 784), np.float32)
    with pytest.raises(ValueError, match="needs the batch's labels"):
        cond.train_step(real)
    with pytest.raises(ValueError, match="takes no labels"):
        plain.train_step(real, np.zeros(4, int))
    with pytest.raises(IndexError, match="valid indices are 0 .. 9"):
        cond.train_step(real, np.array([0, 1, 2, 10]))


def test_a_projection_discriminator_adds_the_label_vectors_inner_product():
    """D(x, y) = head(body(x)) + <E[y], body(x)>, written out, for every label."""
    import numpy as np
    from npgan.models import GANConfig, Projection, build_networks
    cfg = GANConfig(latent_dim=3, g_hidden=(5,), d_hidden=(6, 4), image_dim=9, num_classes=3,
                    d_label="projection")
    _, D = build_networks(cfg, rng=np.random.default_rng(0), dtype=np.float64)
    assert isinstance(D, Projection) and D.embed.weight.shape == (3, 4)
    x = np.random.default_rng(1).standard_normal((5, 9))
    labels = np.array([0, 1, 2, 1, 0])
    h = D.body(x)
    want = D.head(h) + (D.embed.weight.data[labels] * h).sum(1, keepdims=True)
    np.testing.assert_allclose(D(x, labels), want, rtol=1e-12)
    other = D(x, (labels + 1) % 3)
    assert not np.allclose(other, want)                 # the label changes the verdict


def test_the_conditional_mnist_demo_trains_30_epochs_unless_told(tmp_path, capsys):
    """demos/flags.py CONDITIONAL_EPOCHS: 30 for MNIST's fully connected conditional GAN
    (README "Results"), PLAIN_EPOCHS the same for the plain one, the demo's default (15) for
    a plain --config network, and the DCGAN's (10; 14 for MNIST's plain DCGAN,
    DCGAN_PLAIN_EPOCHS); --epochs wins, and a run's own config.json repeats its epochs."""
    def epochs(*flags):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8", "--out", out, *flags)
        assert code == 0, err
        return out, json.loads((out / "config.json").read_text())["epochs"]
    assert epochs("--conditional")[1] == 30
    assert epochs()[1] == 30
    assert epochs("--config", "relu_dropout_d")[1] == 15
    assert epochs("--conditional", "--model", "dcgan")[1] == 10
    assert epochs("--model", "dcgan")[1] == 14
    assert epochs("--config", "dcgan_without_fc")[1] == 10
    own, three = epochs("--conditional", "--epochs", "3")
    assert three == 3
    assert epochs("--config", str(own / "config.json"))[1] == 3


def test_the_fashion_demo_trains_its_plain_gan_30_epochs(tmp_path):
    """demos/flags.py PLAIN_EPOCHS: 30 for Fashion-MNIST's fully connected plain GAN (README
    "Results"), 15 with --conditional, 10 for the DCGAN; no InfoGAN codes there (PLAIN_MODEL
    and DCGAN_PLAIN_MODEL are MNIST's). MNIST
    stands in for the data: the demo's defaults depend on the dataset's name alone."""
    def run(*flags):
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        argv = ["--max-steps", "1", "--batch-size", "8", "--eval-samples", "0", "--quiet",
                "--out", str(out), *flags]
        assert demo_main(argv, dataset="fashion_mnist", load_images=load_mnist,
                         default_epochs=15, description="") in (0, None)
        return json.loads((out / "config.json").read_text())
    plain = run()
    assert plain["epochs"] == 30 and plain["model"]["info_weight"] == 0
    assert run("--conditional")["epochs"] == 15
    dcgan = run("--model", "dcgan")                 # DCGAN_PLAIN_* are MNIST's alone too
    assert dcgan["epochs"] == 10 and dcgan["model"]["info_weight"] == 0
