"""One-sided label smoothing: D's target for real images is 1 - s, the rest of the step is as
before; the trainer, its checkpoints, the demos' flag and --config files."""

import json

import numpy as np
import pytest

from npgan.demos.run_settings import new_run_settings
from npgan.demos.flags import PLAIN, build_parser
from npgan.losses import bce_with_logits
from npgan.models import GANConfig
from npgan.run_state import load_run
from npgan.train import GANTrainer
from conftest import TOL, check_grads_before_step, record_error
from small_runs import demo, older_run_without

CONFIGS = {    # D without BatchNorm: the fast step's joint [real; fake] batch; with: two batches
    "gan": GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4),
    "gan, BatchNorm in D": GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4),
                                     image_dim=4, d_batchnorm="all"),
    "cgan": GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4,
                      num_classes=3, embed_dim=2, d_label="projection"),
}


@pytest.mark.gradcheck
@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("name", CONFIGS)
def test_the_d_step_descends_bce_of_real_to_1_minus_s(name, fast):
    """D's gradient as the trainer hands it to Adam, against finite differences of
    BCE(D(real), 1 - s) + BCE(D(G(z)), 0) with the step's own z."""
    cfg, s, rng = CONFIGS[name], 0.2, np.random.default_rng(3)
    real = rng.uniform(-1, 1, (6, cfg.image_dim))
    labels = rng.integers(0, 3, 6) if cfg.conditional else None
    t = GANTrainer(cfg, seed=1, dtype=np.float64, fast=fast, label_smoothing=s)
    z = rng.standard_normal((6, cfg.latent_dim))
    fake_labels = rng.integers(0, 3, 6) if cfg.conditional else None
    t.noise, t.random_labels = (lambda n: z), (lambda n: fake_labels)
    fake = t.G(z) if labels is None else t.G(z, fake_labels)   # the step's fakes, G unchanged
    for m in t.G.modules():
        m.cache = None
    extra = () if labels is None else (labels,)
    extra_fake = () if labels is None else (fake_labels,)

    def loss():
        return (bce_with_logits(t.D(real, *extra), 1 - s)[0]
                + bce_with_logits(t.D(fake, *extra_fake), 0.0)[0])
    errors = check_grads_before_step(t, "D", loss)
    t.train_step(real, labels)
    assert len(errors) == len(t.D.parameters())
    record_error(f"{name}: trainer's D step with label smoothing", max(errors))
    assert max(errors) < TOL


@pytest.mark.gradcheck
@pytest.mark.parametrize("fast", [False, True])
def test_the_g_step_still_descends_bce_of_fakes_to_1(fast):
    """G's loss is not smoothed: G's gradient in the G step (D already updated) against
    finite differences of BCE(D(G(z)), 1), not 1 - s."""
    cfg, rng = CONFIGS["gan"], np.random.default_rng(4)
    real = rng.uniform(-1, 1, (6, cfg.image_dim))
    t = GANTrainer(cfg, seed=2, dtype=np.float64, fast=fast, label_smoothing=0.3)
    z = rng.standard_normal((6, cfg.latent_dim))
    t.noise = lambda n: z

    def loss():
        return bce_with_logits(t.D(t.G(z)), 1.0)[0]
    errors = check_grads_before_step(t, "G", loss)
    t.train_step(real)
    assert len(errors) == len(t.G.parameters())
    record_error("gan: trainer's G step with label smoothing", max(errors))
    assert max(errors) < TOL


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_step_equals_the_plain_one(name):
    cfg, rng = CONFIGS[name], np.random.default_rng(5)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    labels = rng.integers(0, 3, 8) if cfg.conditional else None
    fast, plain = (GANTrainer(cfg, seed=4, dtype=np.float64, fast=f, label_smoothing=0.1)
                   for f in (True, False))
    for _ in range(3):
        a, b = fast.train_step(real, labels), plain.train_step(real, labels)
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-12), key
    for (key, a), b in zip(fast.device_state().items(), plain.device_state().values()):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), key


def test_zero_is_the_unsmoothed_step_and_s_moves_d_first():
    """s = 0 gives the bits of a trainer without the setting. With s > 0, D's first step
    differs, and the reported D loss differs from the unsmoothed one by exactly the term
    that the target moves."""
    cfg, rng = CONFIGS["gan"], np.random.default_rng(6)
    real = rng.uniform(-1, 1, (8, cfg.image_dim))
    off, zero, on = (GANTrainer(cfg, seed=1, dtype=np.float64, **kw)
                     for kw in ({}, {"label_smoothing": 0.0}, {"label_smoothing": 0.3}))
    stats = [t.train_step(real) for t in (off, zero, on)]
    for (key, a), b, c in zip(off.device_state().items(), zero.device_state().values(),
                              on.device_state().values()):
        assert np.array_equal(a, b), key
        if key.startswith("D."):
            assert not np.array_equal(a, c), key
    assert stats[0] == stats[1]
    # the reported D loss is BCE(D(real), 0.7) + BCE(D(fake), 0): above the unsmoothed one
    # by exactly mean(0.3 * logit) on the real half, since BCE(z, y) = softplus(z) - y z
    assert stats[2]["d_real"] == stats[0]["d_real"] and stats[2]["d_fake"] == stats[0]["d_fake"]
    twin = GANTrainer(cfg, seed=1, dtype=np.float64)           # D before its step
    logits_real = twin.D(real)
    assert stats[2]["d_loss"] - stats[0]["d_loss"] == pytest.approx(
        float(0.3 * logits_real.mean()), rel=1e-9)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2.0, float("nan")])
def test_a_value_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        GANTrainer(CONFIGS["gan"], label_smoothing=bad)


def test_the_demos_flag_is_recorded_checked_and_resumed(tmp_path, capsys):
    def run(name, *flags):
        code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8",
                            "--out", tmp_path / name, *flags)
        assert code == 0, err
        return load_run(tmp_path / name / "checkpoint.npz")[0].settings["label_smoothing"]

    assert run("on", "--label-smoothing", "0.1") == 0.1
    assert run("cgan", "--conditional", "--label-smoothing", "0.25") == 0.25
    info = json.loads((tmp_path / "on" / "config.json").read_text())
    assert info["label_smoothing"] == 0.1
    assert run("again", "--config", tmp_path / "on" / "config.json") == 0.1   # repeats it
    code, _, err = demo(capsys, "--resume", tmp_path / "on" / "checkpoint.npz",
                        "--label-smoothing", "0.2", "--max-steps", "2")
    assert code == 2 and "--label-smoothing 0.2 contradicts the checkpoint's 0.1" in err
    code, _, err = demo(capsys, "--resume", tmp_path / "on" / "checkpoint.npz", "--max-steps", "2")
    assert code == 0, err
    for bad in ("1", "-0.1", "nan", "x"):
        code, _, err = demo(capsys, "--label-smoothing", bad, "--out", tmp_path / "bad")
        assert code == 2 and "--label-smoothing" in err, bad
    assert not (tmp_path / "bad").exists()
    (tmp_path / "bad.json").write_text(json.dumps({"model": {}, "label_smoothing": 1.5}))
    code, _, err = demo(capsys, "--config", tmp_path / "bad.json", "--out", tmp_path / "bad")
    assert code == 2 and "label_smoothing" in err and "[0, 1)" in err


def test_the_demos_default_is_on_for_the_fully_connected_plain_mnist_gan_only(tmp_path, capsys):
    """README "Results": it lowered the plain MNIST GAN's Frechet distance for three seeds,
    and did not help the conditional GAN or the DCGAN; the tutorial networks keep their own
    recipe (none); every other run keeps 0 unless asked."""
    def run(name, *flags):
        code, _, err = demo(capsys, "--max-steps", "1", "--batch-size", "8",
                            "--out", tmp_path / name, *flags)
        assert code == 0, err
        return load_run(tmp_path / name / "checkpoint.npz")[0].settings["label_smoothing"]

    assert PLAIN["mnist"]["label_smoothing"] == 0.1
    assert run("gan") == 0.1
    assert run("off", "--label-smoothing", "0") == 0
    assert run("cgan", "--conditional") == 0
    assert run("dcgan", "--model", "dcgan") == 0
    assert run("coursera", "--config", "coursera") == 0
    (tmp_path / "net.json").write_text(json.dumps({"model": {"d_hidden": [8]}}))
    assert run("own network", "--config", tmp_path / "net.json") == 0.1   # still the plain MLP
    parser = build_parser("fashion", "fashion_mnist", 15, "")
    assert new_run_settings(parser.parse_args([]), None, {}, {}, "fashion_mnist")[1][
        "label_smoothing"] == 0


def test_an_older_run_and_checkpoint_repeat_without_it(tmp_path, capsys):
    """From before the setting existed: off, whatever a later default would be."""
    info, old = older_run_without(capsys, tmp_path, "label_smoothing", "--label-smoothing", "0.1")
    assert info["label_smoothing"] == 0.1
    assert old.real_target == 1.0
