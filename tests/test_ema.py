"""The averaged generator (GANTrainer(ema=b)): the average it keeps, what samples come from,
and that it survives a checkpoint."""

import numpy as np
import pytest

from npgan.models import DCGANConfig, GANConfig
from npgan.train import GANTrainer
from small_runs import small_images

CFG = GANConfig(latent_dim=4, g_hidden=(8, 16), d_hidden=(16, 8))


def test_no_average_unless_asked():
    trainer = GANTrainer(CFG, seed=0)
    assert trainer.G_ema is None and not any(k.startswith("G_ema.") for k in trainer.device_state())
    with pytest.raises(ValueError, match=r"ema must be in \[0, 1\)"):
        GANTrainer(CFG, ema=1.0)


@pytest.mark.parametrize("cfg", [CFG, DCGANConfig(latent_dim=4, g_channels=(4, 2), d_channels=(2, 4))],
                         ids=["mlp", "dcgan"])
def test_the_average_follows_its_formula(cfg):
    """G_ema = b_t G_ema + (1 - b_t) G after step t = 1, 2, ..., b_t = min(ema, (1 + t) / (10 + t)),
    for every weight and BatchNorm statistic, computed here by hand beside the trainer."""
    trainer = GANTrainer(cfg, seed=1, ema=0.8, dtype=np.float64)
    by_hand = {k: v.copy() for k, v in trainer.G.state_dict().items()}
    assert all(np.array_equal(by_hand[k], v) for k, v in trainer.G_ema.state_dict().items())
    images = small_images(8).astype(np.float64)
    for t in range(1, 21):
        trainer.train_step(images)
        b = min(0.8, (1 + t) / (10 + t))
        for k, v in trainer.G.state_dict().items():
            by_hand[k] = b * by_hand[k] + (1 - b) * v
    for k, v in trainer.G_ema.state_dict().items():
        assert np.allclose(v, by_hand[k], rtol=1e-12, atol=1e-14), k
        assert not np.allclose(v, trainer.G.state_dict()[k]) or "running" in k or v.ndim == 0


def test_samples_come_from_the_average():
    trainer = GANTrainer(CFG, seed=2, ema=0.9)
    for _ in range(5):
        trainer.train_step(small_images(16))
    z = np.random.default_rng(0).standard_normal((6, CFG.latent_dim)).astype(np.float32)
    trainer.G_ema.eval()
    expected = trainer.G_ema(z)
    assert np.array_equal(trainer.sample(z), expected)
    trainer.G.eval()
    assert not np.allclose(trainer.sample(z), trainer.G(z))
    assert trainer.G_ema.training is False


def test_the_average_is_saved_and_continues_exactly():
    images = small_images(16)
    straight = GANTrainer(CFG, seed=3, ema=0.95)
    for _ in range(4):
        straight.train_step(images)
    first = GANTrainer(CFG, seed=3, ema=0.95)
    for _ in range(2):
        first.train_step(images)
    arrays, meta = first.state()
    assert any(k.startswith("G_ema.") for k in arrays) and meta["settings"]["ema"] == 0.95
    resumed = GANTrainer.from_state(arrays, meta)
    for _ in range(2):
        resumed.train_step(images)
    for (k, a), b in zip(straight.device_state().items(), resumed.device_state().values()):
        assert np.array_equal(a, b), k
