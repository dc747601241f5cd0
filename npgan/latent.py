"""The noise z that G turns into images: its distribution, drawn in this one place.

By default z ~ N(0, I), of ``cfg.latent_dim`` dimensions (Goodfellow et al. 2014); with
``cfg.latent_std`` s != 1, z ~ s * N(0, I).

With ``cfg.latent_components`` = K > 0, z comes from a mixture instead. Its first K entries
are the one-hot code of a component k, picked uniformly at random; its other latent_dim - K
entries are ``cfg.latent_std`` * N(0, I), so latent_dim counts both parts:

    z = [0 ... 0 1 0 ... 0 | latent_std * eps]       1 at entry k,  eps ~ N(0, I)

G's first Linear adds its k-th column to every z of component k, so each component is a
small Gaussian blob whose mean G learns: the mixture prior of DeLiGAN (Gurumurthy,
Sarvadevabhatla and Babu, CVPR 2017), here with one shared, fixed std. Why: G is a
continuous map, so from one connected N(0, I) it can reach 25 separate modes only by
stringing samples along lines between them (the toy grid of demos/toy2d.py, where a third of
a plain GAN's samples lie on such lines); from K separate blobs it need not. Measured there
(npgan.demos.toy2d --dataset grid, 3 seeds): 24.33 of 25 modes and 67.3% high-quality
samples with N(0, I), 25 of 25 and 98.8% with K = 100 components of std 0.1 (README, "The
2-D mode-coverage benchmark", has the other K and std tried).

On MNIST it made no clear difference (python -m npgan.demos.mnist --threads 1
--label-smoothing 0 --config FILE with {"model": {"latent_components": K, "latent_std": s}},
latent_dim 100 in all, seed 0; classifier score / Frechet distance; the same command without
the file: 8.90 / 6.19):
K = 10, s = 1: 8.88 / 6.91; K = 10, s = 0.3: 9.08 / 8.46 (fewer blends of two digits, 18%
unsure against 23%, but further from the data); K = 30, s = 0.3: 8.92 / 5.99 (within the
seed-to-seed spread of the default without label smoothing, 8.86-8.95 and 5.98-7.39); K = 10, s = 0.1: collapsed
(2.07 / 520). None is near the score of 9.3 aimed for. What the codes lacked was a reason to
draw different digits: InfoGAN's code head gives one (``info_weight``, npgan/train.py), and
with it the MNIST demo's default draws z from K = 10 components, s = 1 (README "Results").
"""

import numpy as np

from npgan.backend import get_array_module


def draw_latent(cfg, rng, n, dtype=None):
    """z: (n, cfg.latent_dim), drawn from ``rng`` (a NumPy or CuPy Generator) as the module
    docstring says. ``dtype`` is passed to ``rng.standard_normal`` (None: its float64)."""
    kind = {} if dtype is None else {"dtype": dtype}
    K, std = cfg.latent_components, cfg.latent_std
    if K == 0:
        z = rng.standard_normal((n, cfg.latent_dim), **kind)           # N(0, I)
        return z if std == 1 else z * std                               # (1: no copy)
    k = rng.integers(0, K, n)                                           # (n,) components
    eps = rng.standard_normal((n, cfg.latent_dim - K), **kind)          # (n, latent_dim - K)
    xp = get_array_module(eps)
    one_hot = (k[:, None] == xp.arange(K)).astype(eps.dtype)            # (n, K)
    return xp.concatenate([one_hot, eps * std], axis=1)                 # (n, latent_dim)


def code_grid(cfg, rng, cols, dtype=None):
    """z for a grid of K rows (K = ``cfg.latent_components``) and ``cols`` columns: row k is
    drawn from component k, and column j has the same Gaussian part in every row. Returns
    (K * cols, latent_dim), row by row, on the host. It shows what each code draws, and for
    InfoGAN's codes (npgan/train.py) which kind of image each has come to stand for."""
    K = cfg.latent_components
    eps = draw_latent(cfg, rng, cols, dtype)[:, K:]                     # (cols, latent_dim - K)
    one_hot = np.repeat(np.eye(K, dtype=eps.dtype), cols, axis=0)       # (K * cols, K)
    return np.concatenate([one_hot, np.tile(eps, (K, 1))], axis=1)
