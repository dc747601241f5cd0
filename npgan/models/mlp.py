"""The generator and discriminator of a fully connected GAN, built from npgan.nn layers.

The default sizes are the classic MNIST GAN (Goodfellow et al. 2014, as in PyTorch-GAN's gan.py):

    G: z (100) -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2) between layers,
       BatchNorm after every hidden Linear but the first, Tanh at the end (pixels in [-1, 1]).
    D: 784 -> 512 -> 256 -> 1, LeakyReLU(0.2), one logit (the sigmoid lives in the loss).

Two deliberate differences from gan.py: its ``nn.BatchNorm1d(out, 0.8)`` sets eps = 0.8 by
position; the intent (the same author's Keras version uses BatchNormalization(momentum=0.8))
is Keras momentum 0.8, which is PyTorch-style momentum 0.2 with the usual eps = 1e-5. And a
Linear that feeds a BatchNorm gets no bias: BatchNorm subtracts the batch mean, so such a bias
would get exactly zero gradient and never learn.
"""

import numpy as np

from npgan.nn import BatchNorm1d, LeakyReLU, Linear, Sequential, Tanh


def build_generator(cfg, *, rng, dtype=np.float32, in_dim=None):
    """G: (N, latent_dim) noise -> (N, image_dim) images in [-1, 1].

    ``in_dim`` overrides the input width (a conditional G takes noise joined with a label
    embedding).
    """
    sizes = (in_dim or cfg.latent_dim,) + cfg.g_hidden
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        normalize = i > 0
        layers.append(Linear(n_in, n_out, bias=not normalize, rng=rng, dtype=dtype))
        if normalize:
            layers.append(BatchNorm1d(n_out, eps=cfg.bn_eps, momentum=cfg.bn_momentum, dtype=dtype))
        layers.append(LeakyReLU(cfg.slope))
    layers += [Linear(sizes[-1], cfg.image_dim, rng=rng, dtype=dtype), Tanh()]
    return Sequential(*layers)


def build_discriminator(cfg, *, rng, dtype=np.float32, in_dim=None):
    """D: (N, image_dim) images -> (N, 1) logits (real if > 0)."""
    sizes = (in_dim or cfg.image_dim,) + cfg.d_hidden
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(n_in, n_out, rng=rng, dtype=dtype), LeakyReLU(cfg.slope)]
    layers.append(Linear(sizes[-1], 1, rng=rng, dtype=dtype))
    return Sequential(*layers)
