"""The 2-D mode-coverage benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

Two mixtures of equally weighted Gaussians with tiny standard deviations:

    ring   8 modes evenly spaced on a circle of radius 1, std 0.01
    grid   25 modes at {-4, -2, 0, 2, 4}^2, std 0.05

The protocol: draw 2,500 samples from the generator. A sample is *high quality* when it lies
within 3 standard deviations of its nearest mode; a mode is *captured* when it is the nearest
mode of at least one high-quality sample. A generator that collapsed onto a few modes captures
few; one that smears mass between modes has few high-quality samples.
"""

import numpy as np

RING_STD = 0.01
GRID_STD = 0.05
N_SAMPLES = 2500


def ring_modes(k=8, radius=1.0):
    """(k, 2) points evenly spaced on a circle, the first at (radius, 0)."""
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_modes(side=5, spacing=2.0):
    """(side^2, 2) points of a square grid centred on 0: {-4, -2, 0, 2, 4}^2 by default."""
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


TOY_DATASETS = {"ring": (ring_modes(), RING_STD), "grid": (grid_modes(), GRID_STD)}


def sample_mixture(modes, std, n, rng):
    """n points from the equal mixture of N(mode, std^2 I): (n, 2) float64.

    modes: (K, 2). Each point picks a mode uniformly at random, then adds Gaussian noise.
    """
    modes = np.asarray(modes, dtype=np.float64)
    which = rng.integers(0, len(modes), n)
    return modes[which] + std * rng.standard_normal((n, modes.shape[1]))


def nearest_mode(samples, modes):
    """Index (N,) of each sample's nearest mode and the distance (N,) to it."""
    samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
    dist = np.sqrt(((samples[:, None, :] - modes[None, :, :]) ** 2).sum(axis=2))   # (N, K)
    idx = dist.argmin(axis=1)
    return idx, dist[np.arange(len(samples)), idx]


def mode_coverage(samples, modes, std, *, within=3.0):
    """Return ``(modes_captured, hq_fraction)`` for samples (N, 2) and modes (K, 2).

    hq_fraction:    the fraction of samples within ``within`` * std of their nearest mode.
    modes_captured: how many modes are the nearest mode of at least one such sample.
    """
    idx, dist = nearest_mode(samples, modes)
    high_quality = dist <= within * std
    captured = np.unique(idx[high_quality])
    return int(len(captured)), float(high_quality.mean())


DATA_SPREAD = 0.975        # mode_spread of the true mixtures, in std (tests/test_toy2d.py)


def mode_spread(samples, modes, std, *, within=3.0):
    """How far the high-quality samples (N, 2) lie from their modes (K, 2): the root mean
    square, per coordinate, of (sample - its nearest mode) over the samples within
    ``within`` * std of it, in data units (divide by std to compare with DATA_SPREAD).

    This checks what the protocol above does not: a generator that puts every sample exactly
    on a mode scores 100% high quality, with a spread of 0. The data's own spread is a little
    under std, since the 3-std cut drops its tails: DATA_SPREAD = 0.975 std (for within=3).
    With no high-quality sample there is no spread: 0.0 is returned, and mode_coverage says 0%.
    """
    samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
    idx, dist = nearest_mode(samples, modes)
    high_quality = dist <= within * std
    offsets = samples[high_quality] - modes[idx[high_quality]]          # (n_hq, 2)
    return float(np.sqrt((offsets ** 2).mean())) if len(offsets) else 0.0
