"""The GAN's two networks, one file per model family.

    config.py        GANConfig: the sizes a checkpoint stores and rebuilds from
    mlp.py           the fully connected G and D (Goodfellow et al. 2014)
    conditional.py   the wrapper that gives either network the class label (Mirza and Osindero 2014)

``build_networks(cfg)`` returns the (G, D) pair a ``GANTrainer`` trains.
"""

import numpy as np

from npgan.models.conditional import Conditional
from npgan.models.config import GANConfig
from npgan.models.mlp import build_discriminator, build_generator


def build_networks(cfg, *, rng, dtype=np.float32):
    """Return (G, D) for ``cfg``: plain Sequentials, or Conditional wrappers around them."""
    if not cfg.conditional:
        return (build_generator(cfg, rng=rng, dtype=dtype),
                build_discriminator(cfg, rng=rng, dtype=dtype))
    k, e = cfg.num_classes, cfg.embed_dim
    G = Conditional(build_generator(cfg, rng=rng, dtype=dtype, in_dim=cfg.latent_dim + e),
                    k, e, rng=rng, dtype=dtype)
    D = Conditional(build_discriminator(cfg, rng=rng, dtype=dtype, in_dim=cfg.image_dim + e),
                    k, e, rng=rng, dtype=dtype)
    return G, D


__all__ = ["Conditional", "GANConfig", "build_discriminator", "build_generator", "build_networks"]
