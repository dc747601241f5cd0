"""The GAN's two networks, one file per model family.

    config.py        GANConfig: the fully connected GAN's sizes, which a checkpoint stores
    mlp.py           the fully connected G and D (Goodfellow et al. 2014)
    dcgan.py         DCGANConfig and the convolutional G and D (Radford et al. 2016)
    conditional.py   the wrapper that gives either network the class label (Mirza and Osindero 2014)

``build_networks(cfg)`` returns the (G, D) pair a ``GANTrainer`` trains, for either config;
``config_from_dict`` reads a checkpoint's config back as the right one.
"""

import numpy as np

from npgan.models.conditional import Conditional, Projection
from npgan.models.config import GANConfig, image_shape_of, shape_fields
from npgan.models.dcgan import DCGANConfig, build_dcgan_discriminator, build_dcgan_generator
from npgan.models.mlp import build_discriminator, build_generator
from npgan.nn import Sequential

MODELS = {"mlp": GANConfig, "dcgan": DCGANConfig}


def config_from_dict(d):
    """GANConfig or DCGANConfig from ``cfg.to_dict()``'s output (a config without a "model"
    field is a fully connected GAN's, as every checkpoint written before the DCGAN)."""
    d = dict(d)
    name = d.get("model", "mlp")
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; npgan has {', '.join(MODELS)}")
    if name == "mlp":
        d.pop("model", None)
    return MODELS[name].from_dict(d)


def build_networks(cfg, *, rng, dtype=np.float32):
    """Return (G, D) for ``cfg``: plain Sequentials, or Conditional wrappers around them."""
    k, e = cfg.num_classes, cfg.embed_dim
    if isinstance(cfg, DCGANConfig):
        if not cfg.conditional:
            return (build_dcgan_generator(cfg, rng=rng, dtype=dtype),
                    build_dcgan_discriminator(cfg, rng=rng, dtype=dtype))
        G = Conditional(build_dcgan_generator(cfg, rng=rng, dtype=dtype, in_dim=cfg.latent_dim + e),
                        k, e, rng=rng, dtype=dtype)
        c, h, w = image_shape_of(cfg)
        D = Conditional(build_dcgan_discriminator(cfg, rng=rng, dtype=dtype, in_channels=c + 1),
                        k, h * w, rng=rng, dtype=dtype)                # a label plane
        return G, D
    if not cfg.conditional:
        return (build_generator(cfg, rng=rng, dtype=dtype),
                build_discriminator(cfg, rng=rng, dtype=dtype))
    G = Conditional(build_generator(cfg, rng=rng, dtype=dtype, in_dim=cfg.latent_dim + e),
                    k, e, rng=rng, dtype=dtype)
    if cfg.d_label == "projection":
        d = build_discriminator(cfg, rng=rng, dtype=dtype)
        body, head = Sequential(*d.layers[:-1]), d.layers[-1]
        return G, Projection(body, head, k, rng=rng, dtype=dtype)
    D = Conditional(build_discriminator(cfg, rng=rng, dtype=dtype, in_dim=cfg.image_dim + e),
                    k, e, rng=rng, dtype=dtype)
    return G, D


__all__ = ["Conditional", "Projection", "DCGANConfig", "GANConfig", "MODELS", "build_dcgan_discriminator",
           "build_dcgan_generator", "build_discriminator", "build_generator", "build_networks",
           "config_from_dict", "image_shape_of", "shape_fields"]
