"""The noise G is fed (npgan/latent.py): N(0, I) drawn exactly as before, and the mixture
prior: one-hot codes of uniformly picked components joined to scaled Gaussian entries, used
by every place that draws z (training, fixed grids, evaluation, sampling)."""

import json

import numpy as np
import pytest

from npgan.latent import draw_latent
from npgan.models import DCGANConfig, GANConfig, config_from_dict
from npgan.run import fixed_noise
from npgan.train import GANTrainer
from small_runs import sample, small_checkpoint

MIX = GANConfig(latent_dim=12, latent_components=5, latent_std=0.25, g_hidden=(8, 8),
                d_hidden=(8,), image_dim=4)


@pytest.mark.parametrize("dtype", [None, np.float32])
def test_without_components_it_is_the_plain_normal_draw(dtype):
    """Every run trained before the mixture existed keeps its noise, bit for bit."""
    kind = {} if dtype is None else {"dtype": dtype}
    cfg = GANConfig(latent_dim=7)
    a = draw_latent(cfg, np.random.default_rng(3), 50, dtype)
    b = np.random.default_rng(3).standard_normal((50, 7), **kind)
    assert a.dtype == b.dtype and np.array_equal(a, b)
    scaled = draw_latent(GANConfig(latent_dim=7, latent_std=2.0), np.random.default_rng(3), 50)
    assert np.array_equal(scaled, 2 * np.random.default_rng(3).standard_normal((50, 7)))


def test_a_mixture_is_a_one_hot_code_then_scaled_gaussians():
    n = 40_000
    z = draw_latent(MIX, np.random.default_rng(0), n, np.float32)
    assert z.shape == (n, 12) and z.dtype == np.float32
    code, gauss = z[:, :5], z[:, 5:]
    assert set(np.unique(code)) == {0.0, 1.0} and np.all(code.sum(axis=1) == 1)
    counts = np.bincount(code.argmax(axis=1), minlength=5)
    chi2 = ((counts - n / 5) ** 2 / (n / 5)).sum()
    assert chi2 < 20                          # uniform components: chi^2 with 4 dof, p ~ 5e-4
    assert abs(gauss.mean()) < 0.01 and gauss.std() == pytest.approx(0.25, rel=0.01)
    # the Gaussian part does not depend on the component
    means = [gauss[code[:, k] == 1].mean() for k in range(5)]
    assert max(map(abs, means)) < 0.01


def test_every_entry_can_be_a_code():
    cfg = GANConfig(latent_dim=3, latent_components=3)
    z = draw_latent(cfg, np.random.default_rng(1), 30)
    assert np.all(z.sum(axis=1) == 1) and z.shape == (30, 3)


@pytest.mark.parametrize("fields, message", [
    ({"latent_components": 13}, "latent_components must be between 0"),
    ({"latent_components": -1}, "latent_components must be between 0"),
    ({"latent_std": 0.0}, "latent_std must be > 0"),
    ({"latent_components": 2.5}, "latent_components must be an integer"),
])
@pytest.mark.parametrize("kind", [GANConfig, DCGANConfig])
def test_bad_mixtures_are_refused_by_name(kind, fields, message):
    with pytest.raises(ValueError, match=message):
        kind(**{"latent_dim": 12, **fields})


def test_the_fields_round_trip_and_old_configs_get_the_plain_normal():
    assert config_from_dict(json.loads(json.dumps(MIX.to_dict()))) == MIX
    old = {k: v for k, v in GANConfig().to_dict().items()
           if k not in ("latent_components", "latent_std")}
    cfg = config_from_dict(old)
    assert cfg.latent_components == 0 and cfg.latent_std == 1.0


def test_training_and_the_fixed_grid_draw_from_the_mixture():
    trainer = GANTrainer(MIX, seed=0)
    z = trainer.noise(64)
    assert z.dtype == np.float32 and np.all(z[:, :5].sum(axis=1) == 1)
    assert z[:, 5:].std() == pytest.approx(0.25, rel=0.2)
    stats = trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (64, 4)).astype(np.float32))
    assert all(np.isfinite(v) for v in stats.values())
    grid, labels = fixed_noise(trainer, 16)
    assert labels is None and np.all(grid[:, :5].sum(axis=1) == 1)


def test_sample_draws_the_mixture_and_refuses_to_interpolate_it(tmp_path, capsys):
    cfg = GANConfig(latent_dim=16, latent_components=10, latent_std=0.5, g_hidden=(32, 64),
                    d_hidden=(64, 32))
    ckpt = small_checkpoint(tmp_path, cfg=cfg)
    code, _, err = sample(capsys, ckpt, "-n", "5", "-o", tmp_path / "x.npy")
    assert code == 0, err
    assert np.load(tmp_path / "x.npy").shape == (5, 28, 28)
    code, _, err = sample(capsys, ckpt, "--interpolate", "-o", tmp_path / "walk.png")
    assert code == 2 and "mixture of 10 components" in err
    assert not (tmp_path / "walk.png").exists()
