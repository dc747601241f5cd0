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

Every hidden layer of either network is one block, in this order:

    Linear [-> BatchNorm1d] -> activation [-> Dropout (D only)]

and ``GANConfig`` chooses the parts: ``g_hidden`` / ``d_hidden`` the widths,
``g_activation`` / ``d_activation`` "leaky_relu" (negative slope ``slope``) or "relu",
``g_batchnorm`` / ``d_batchnorm`` which blocks have a BatchNorm ("all_but_first", "all",
"none"), ``d_dropout`` the dropout probability in D's blocks, and ``output`` G's last
activation: "tanh" for data in [-1, 1] or "sigmoid" for data in [0, 1]. That covers the
networks of the well-known tutorials (``demos/configs/``).
"""

import numpy as np

from npgan.models.config import d_outputs
from npgan.nn import BatchNorm1d, Dropout, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh


def activation(name, cfg):
    return LeakyReLU(cfg.slope) if name == "leaky_relu" else ReLU()


def normalized(block, placement):
    """Does hidden block ``block`` (0 = the first) have a BatchNorm under ``placement``?"""
    return placement == "all" or (placement == "all_but_first" and block > 0)


def hidden_blocks(sizes, cfg, *, act, batchnorm, dropout, rng, dtype):
    """The blocks Linear(sizes[i] -> sizes[i+1]) [-> BatchNorm1d] -> act [-> Dropout]."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bn = normalized(i, batchnorm)
        layers.append(Linear(n_in, n_out, bias=not bn, rng=rng, dtype=dtype))
        if bn:
            layers.append(BatchNorm1d(n_out, eps=cfg.bn_eps, momentum=cfg.bn_momentum, dtype=dtype))
        layers.append(activation(act, cfg))
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
    return layers


def build_generator(cfg, *, rng, dtype=np.float32, in_dim=None):
    """G: (N, latent_dim) noise -> (N, image_dim) images in [-1, 1] (Tanh) or [0, 1] (Sigmoid).

    ``in_dim`` overrides the input width (a conditional G takes noise joined with a label
    embedding).
    """
    sizes = (in_dim or cfg.latent_dim,) + cfg.g_hidden
    layers = hidden_blocks(sizes, cfg, act=cfg.g_activation, batchnorm=cfg.g_batchnorm,
                           dropout=0.0, rng=rng, dtype=dtype)
    layers += [Linear(sizes[-1], cfg.image_dim, rng=rng, dtype=dtype),
               Tanh() if cfg.output == "tanh" else Sigmoid()]
    return Sequential(*layers)


def build_discriminator(cfg, *, rng, dtype=np.float32, in_dim=None):
    """D: (N, image_dim) images -> (N, 1) logits (real if > 0); with InfoGAN's code head
    (``cfg.info_weight``), (N, 1 + K): the logit, then Q's K logits for z's component."""
    sizes = (in_dim or cfg.image_dim,) + cfg.d_hidden
    layers = hidden_blocks(sizes, cfg, act=cfg.d_activation, batchnorm=cfg.d_batchnorm,
                           dropout=cfg.d_dropout, rng=rng, dtype=dtype)
    layers.append(Linear(sizes[-1], d_outputs(cfg), rng=rng, dtype=dtype))   # 1, or 1 + K
    return Sequential(*layers)
