"""Does the GAN learn? On a 2-D Gaussian its samples must match the target's mean and
covariance, which the untrained generator does not."""

import numpy as np

from npgan.models import GANConfig
from npgan.train import GANTrainer

MEAN = np.array([0.4, -0.3])
L = np.array([[0.2, 0.0], [0.12, 0.12]])          # covariance L @ L.T, correlation 0.7
COV = L @ L.T
MEAN_TOL = 0.2                                     # in units of the target's overall std
COV_TOL = 0.3                                      # relative Frobenius error


def errors(samples):
    """(|mean - MEAN| / sqrt(trace COV), ||cov - COV||_F / ||COV||_F)."""
    mean_err = np.linalg.norm(samples.mean(0) - MEAN) / np.sqrt(np.trace(COV))
    cov_err = np.linalg.norm(np.cov(samples.T) - COV) / np.linalg.norm(COV)
    return mean_err, cov_err


def test_small_gan_matches_a_2d_gaussian():
    trainer = GANTrainer(GANConfig(latent_dim=2, g_hidden=(64, 64), d_hidden=(64, 64),
                                   image_dim=2), lr=1e-3, seed=0)
    rng = np.random.default_rng(100)
    z = np.random.default_rng(7).standard_normal((1000, 2)).astype(np.float32)
    untrained = errors(trainer.sample(z))
    pooled = []
    for i in range(3000):
        if i == 2000:                              # anneal: settle near the equilibrium
            trainer.opt_g.lr = trainer.opt_d.lr = 1e-4
        trainer.train_step((MEAN + rng.standard_normal((128, 2)) @ L.T).astype(np.float32))
        if i >= 2500 and i % 50 == 49:
            # GAN iterates circle the equilibrium rather than sit on it; the samples of the
            # last 500 steps, pooled (a time average of G), are the distribution G has learnt.
            pooled.append(trainer.sample(z))
    mean_err, cov_err = errors(np.concatenate(pooled))
    assert mean_err < MEAN_TOL and cov_err < COV_TOL, (mean_err, cov_err)
    assert untrained[0] > MEAN_TOL or untrained[1] > COV_TOL, untrained
