"""MSGAN's mode-seeking term: its gradient, its pairs, and the trainer steps that use it."""

import numpy as np
import pytest

from npgan.demos.run_settings import new_run_settings
from npgan.demos.flags import CONDITIONAL, EMA, build_parser
from npgan.gradcheck import check_function, numerical_gradient, rel_error
from npgan.losses import bce_with_logits, mode_seeking
from npgan.models import GANConfig, build_networks
from npgan.run_state import load_run
from npgan.train import GANTrainer
from conftest import TOL, check_grads_before_step, record_error
from small_runs import demo, older_run_without

CFG = GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4, num_classes=3,
                embed_dim=2, d_label="projection")


@pytest.mark.gradcheck
@pytest.mark.parametrize("n", [2, 6, 7])                  # 7: one spare row, outside every pair
def test_mode_seeking_gradient(n, rng):
    z = rng.standard_normal((n, 3))
    images = rng.uniform(-1, 1, (n, 5))
    error = check_function(lambda x: mode_seeking(x, z), images)
    record_error("mode_seeking", error)
    assert error < 1e-6
    if n % 2:
        assert not mode_seeking(images, z)[1][-1].any()


def test_mode_seeking_is_the_reciprocal_of_image_over_noise_distance(rng):
    z = rng.standard_normal((8, 3))
    images = rng.uniform(-1, 1, (8, 5))
    r = np.sqrt(((images[:4] - images[4:]) ** 2).mean() / ((z[:4] - z[4:]) ** 2).mean())
    assert mode_seeking(images, z)[0] == pytest.approx(1 / (r + 1e-5), rel=1e-12)
    spread = np.concatenate([images[:4], images[:4] + 2 * (images[4:] - images[:4])])
    assert mode_seeking(spread, z)[0] < mode_seeking(images, z)[0]   # pairs further apart: lower
    same = np.concatenate([images[:4], images[:4]])
    assert mode_seeking(same, z)[0] == pytest.approx(1e5)            # G ignores z: 1 / eps
    # sqrt is not differentiable at d_img = 0; the gradient returned there is 0
    assert not mode_seeking(same, z)[1].any()
    with pytest.raises(ValueError, match="pair"):
        mode_seeking(images[:1], z[:1])
    with pytest.raises(ValueError, match="noise"):
        mode_seeking(images, np.concatenate([z[:4], z[:4]]))        # the same noise twice


def test_pixels_that_agree_get_no_push(rng):
    """The squared form's gradient is proportional to the pair's difference: a pixel where
    the two images agree (a black background) is left alone, unlike with mean absolute
    differences, whose gradient sign(0 + rounding) pushes it as hard as any other."""
    z = rng.standard_normal((4, 3))
    images = rng.uniform(-1, 1, (4, 6))
    images[2:, :3] = images[:2, :3]                     # pixels 0-2 agree within each pair
    grad = mode_seeking(images, z)[1]
    assert not grad[:, :3].any() and grad[:, 3:].all()


@pytest.mark.gradcheck
def test_generator_loss_with_the_term_through_d_into_gs_parameters():
    """L_G + w L_ms with respect to every G parameter, the embedding included."""
    rng = np.random.default_rng(0)
    G, D = build_networks(CFG, rng=rng, dtype=np.float64)
    z = rng.standard_normal((6, CFG.latent_dim))
    labels = np.array([0, 2, 1, 0, 2, 1])                  # rows i and i + 3 share a label
    w = 0.7

    def loss():
        fake = G(z, labels)
        return bce_with_logits(D(fake, labels), 1.0)[0] + w * mode_seeking(fake, z)[0]

    G.zero_grad()
    fake = G(z, labels)
    dfake = D.backward(bce_with_logits(D(fake, labels), 1.0)[1])
    G.backward(dfake + w * mode_seeking(fake, z)[1])
    for name, p in G.named_parameters():
        error = rel_error(p.grad, numerical_gradient(loss, p.data))
        record_error("cGAN: G loss + mode seeking", error)
        assert error < TOL, name


@pytest.mark.gradcheck
@pytest.mark.parametrize("fast", [False, True])
def test_the_trainers_g_step_descends_l_g_plus_w_times_l_ms(fast):
    """G's gradient as the trainer hands it to Adam, in the G step (D already updated),
    against finite differences of BCE(D(G(z, y)), 1) + w * L_ms(G(z, y), z)."""
    w, rng = 0.7, np.random.default_rng(8)
    real, labels = rng.uniform(-1, 1, (6, CFG.image_dim)), rng.integers(0, 3, 6)
    t = GANTrainer(CFG, seed=2, dtype=np.float64, fast=fast, mode_seeking=w)
    z, fake_labels = rng.standard_normal((6, CFG.latent_dim)), t.random_labels(6)
    t.noise, t.random_labels = (lambda n: z), (lambda n: fake_labels)

    def loss():
        fake = t.G(z, fake_labels)
        return bce_with_logits(t.D(fake, fake_labels), 1.0)[0] + w * mode_seeking(fake, z)[0]
    errors = check_grads_before_step(t, "G", loss)
    t.train_step(real, labels)
    assert len(errors) == len(t.G.parameters())
    record_error("cGAN: trainer's G step with mode seeking", max(errors))
    assert max(errors) < TOL


def test_trainer_pairs_the_labels_and_the_fast_step_equals_the_plain_one():
    rng = np.random.default_rng(5)
    real = rng.uniform(-1, 1, (8, CFG.image_dim))
    labels = rng.integers(0, 3, 8)
    fast, plain = (GANTrainer(CFG, seed=4, dtype=np.float64, fast=f, mode_seeking=0.5)
                   for f in (True, False))
    for _ in range(3):
        a, b = fast.train_step(real, labels), plain.train_step(real, labels)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for (key, a), b in zip(fast.device_state().items(), plain.device_state().values()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), key
    drawn = fast.random_labels(9)
    assert (drawn[:4] == drawn[4:8]).all()
    assert fast.settings["mode_seeking"] == 0.5
    odd = GANTrainer(CFG, seed=4, dtype=np.float64, mode_seeking=0.5)
    stats = odd.train_step(real[:7], labels[:7])       # an odd batch: one row in no pair
    assert all(np.isfinite(v) for v in stats.values())


def test_the_term_changes_gs_step_and_nothing_else():
    """Same seed, with and without the term: D's first step is the same (the term is G's
    only), G's differs; with weight 0 the trainer is the one without it."""
    rng = np.random.default_rng(6)
    real, labels = rng.uniform(-1, 1, (8, CFG.image_dim)), rng.integers(0, 3, 8)
    off = GANTrainer(CFG, seed=1, dtype=np.float64)
    zero = GANTrainer(CFG, seed=1, dtype=np.float64, mode_seeking=0.0)
    on = GANTrainer(CFG, seed=1, dtype=np.float64, mode_seeking=2.0)
    for t in (off, zero, on):
        t.noise_rng = np.random.default_rng(3)              # the same noise and labels
        t.random_labels = lambda n: np.array([0, 1, 2, 0, 0, 1, 2, 0])
        t.train_step(real, labels)
    for (key, a), b, c in zip(off.device_state().items(), zero.device_state().values(),
                              on.device_state().values()):
        assert np.array_equal(a, b), key
        if key.startswith(("D.", "opt_d.")):
            assert np.array_equal(a, c), key
    moved = [not np.array_equal(a.data, c.data)          # Adam's first step is about lr * sign(g),
             for a, c in zip(off.G.parameters(), on.G.parameters())]    # so compare exactly
    assert all(moved)


def test_a_negative_weight_is_refused():
    with pytest.raises(ValueError, match="mode_seeking"):
        GANTrainer(CFG, mode_seeking=-1.0)


def test_the_demos_default_is_on_for_the_fully_connected_mnist_cgan_only(tmp_path, capsys):
    """MNIST's fully connected cGAN trains with the term and a shorter average (README
    "Results"); every other run keeps the plain defaults unless asked."""

    def run(name, *flags):
        code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8",
                            "--out", tmp_path / name, *flags)
        assert code == 0, err
        s = load_run(tmp_path / name / "checkpoint.npz")[0].settings
        return s["mode_seeking"], s["ema"]

    mnist = CONDITIONAL["mnist"]
    assert mnist["mode_seeking"] > 0 and 0 < mnist["ema"] < EMA
    assert run("cgan", "--conditional") == (mnist["mode_seeking"], mnist["ema"])
    assert run("gan") == (0, EMA)
    assert run("dcgan", "--model", "dcgan", "--conditional") == (0, EMA)
    assert run("off", "--conditional", "--mode-seeking", "0", "--ema", "0.5") == (0, 0.5)
    assert run("on", "--mode-seeking", "0.25") == (0.25, EMA)         # any G may use it
    code, _, err = demo(capsys, "--resume", tmp_path / "cgan" / "checkpoint.npz",
                        "--mode-seeking", "2", "--max-steps", "2")
    assert code == 2 and "--mode-seeking 2.0 contradicts the checkpoint's" in err
    code, _, err = demo(capsys, "--mode-seeking", "-1", "--out", tmp_path / "bad")
    assert code == 2 and "--mode-seeking" in err and "must be >= 0" in err
    # Fashion-MNIST's conditional default is the plain one (README "Results"), unless asked for
    parser = build_parser("fashion", "fashion_mnist", 15, "")
    for flags, weight in (([], 0.0), (["--mode-seeking", "0.5"], 0.5)):
        args = parser.parse_args(["--conditional", *flags])
        settings = new_run_settings(args, None, {}, {}, "fashion_mnist")[1]
        assert settings["mode_seeking"] == weight and settings["ema"] == EMA


def test_an_older_run_repeats_without_the_term_and_its_checkpoint_resumes(tmp_path, capsys):
    """A run's config.json or checkpoint from before the setting existed: it trained without
    the term, so repeating or resuming it keeps it off, whatever today's default."""
    info, old = older_run_without(capsys, tmp_path, "mode_seeking", "--conditional")
    assert info["mode_seeking"] > 0
    assert old.mode_seeking == 0


def test_the_shipped_recipe_is_the_mnist_default(tmp_path, capsys):
    runs = {}
    for name, flags in (("default", ["--conditional"]), ("file", ["--config", "cgan_projection"])):
        code, _, err = demo(capsys, *flags, "--max-steps", "1", "--batch-size", "8",
                            "--out", tmp_path / name)
        assert code == 0, err
        runs[name] = load_run(tmp_path / name / "checkpoint.npz")[0]
    assert runs["default"].settings == runs["file"].settings
    assert runs["default"].cfg == runs["file"].cfg
