"""The noise G is fed (npgan/latent.py): N(0, I) drawn exactly as before, and the mixture
prior: one-hot codes of uniformly picked components joined to scaled Gaussian entries, used
by every place that draws z (training, fixed grids, evaluation, sampling)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from npgan.latent import draw_latent
from npgan.models import DCGANConfig, GANConfig, config_from_dict
from npgan.run import fixed_noise
from npgan.run_state import load_run
from npgan.sample import generate
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
    ({"latent_components": True}, "latent_components must be an integer"),
    ({"latent_std": float("nan")}, "latent_std must be a number"),
    ({"latent_std": float("inf")}, "latent_std must be a number"),
])
@pytest.mark.parametrize("kind", [GANConfig, DCGANConfig])
def test_bad_mixtures_are_refused_by_name(kind, fields, message):
    with pytest.raises(ValueError, match=message):
        kind(**{"latent_dim": 12, **fields})


@pytest.mark.parametrize("kind", [GANConfig, DCGANConfig])
def test_the_fields_round_trip_and_old_configs_get_the_plain_normal(kind):
    mix = kind(latent_dim=12, latent_components=5, latent_std=0.25)
    assert config_from_dict(json.loads(json.dumps(mix.to_dict()))) == mix
    old = {k: v for k, v in kind().to_dict().items()
           if k not in ("latent_components", "latent_std")}
    cfg = config_from_dict(old)
    assert type(cfg) is kind and cfg.latent_components == 0 and cfg.latent_std == 1.0


def test_a_numpy_float_std_is_stored_as_a_python_float():
    """So z keeps the trainer's dtype (a NumPy float64 would promote float32 noise) and the
    config stays JSON-able."""
    cfg = GANConfig(latent_dim=6, latent_components=2, latent_std=np.float64(0.5),
                    g_hidden=(4,), d_hidden=(4,), image_dim=3)
    assert type(cfg.latent_std) is float and json.dumps(cfg.to_dict())
    assert GANTrainer(cfg, seed=0).noise(4).dtype == np.float32


def test_no_other_code_draws_z_itself():
    """Every z comes from draw_latent: no other file in npgan/ draws latent_dim normals."""
    root = Path(__file__).resolve().parent.parent / "npgan"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "latent.py"
                 and re.search(r"standard_normal\([^)]*latent_dim", p.read_text())]
    assert offenders == []


def test_training_and_the_fixed_grid_draw_from_the_mixture():
    trainer = GANTrainer(MIX, seed=0)
    z = trainer.noise(64)
    assert z.dtype == np.float32 and np.all(z[:, :5].sum(axis=1) == 1)
    assert z[:, 5:].std() == pytest.approx(0.25, rel=0.2)
    stats = trainer.train_step(np.random.default_rng(0).uniform(-1, 1, (64, 4)).astype(np.float32))
    assert all(np.isfinite(v) for v in stats.values())
    grid, labels = fixed_noise(trainer, 16)
    assert labels is None and np.all(grid[:, :5].sum(axis=1) == 1)


def test_sample_draws_the_mixture_and_walks_within_a_component(tmp_path, capsys):
    """npgan.sample draws a mixture's z from the config, and --interpolate keeps each row's
    component and walks its Gaussian part (npgan.sample.within_component; tests/test_infogan.py
    checks the walk itself): the walk of a row from one z to another of a different
    component used to be refused, as the prior has no path between them."""
    cfg = GANConfig(latent_dim=16, latent_components=10, latent_std=0.5, g_hidden=(32, 64),
                    d_hidden=(64, 32))
    ckpt = small_checkpoint(tmp_path, cfg=cfg)
    code, _, err = sample(capsys, ckpt, "-n", "5", "--seed", "7", "-o", tmp_path / "x.npy")
    assert code == 0, err
    trainer = load_run(ckpt)[0]
    expected = generate(trainer, draw_latent(cfg, np.random.default_rng(7), 5))
    assert np.array_equal(np.load(tmp_path / "x.npy"), expected.astype(np.float32))
    code, out, err = sample(capsys, ckpt, "--interpolate", "-n", "2", "--steps", "3",
                            "-o", tmp_path / "walk.npy")
    assert code == 0 and "wrote 6 samples" in out, err
    walk = np.load(tmp_path / "walk.npy")
    assert not np.array_equal(walk[0], walk[2])             # the rows do walk
