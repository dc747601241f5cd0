"""The generator and discriminator of a fully connected GAN, built from npgan.nn layers.

The default sizes are the classic MNIST GAN (Goodfellow et al. 2014, as in PyTorch-GAN's gan.py):

    G: z (100) -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2) between layers,
       BatchNorm after every hidden Linear but the first, Tanh at the end (pixels in [-1, 1]).
    D: 784 -> 512 -> 256 -> 1, LeakyReLU(0.2), one logit (the sigmoid lives in the loss).

The conditional GAN (Mirza and Osindero 2014, as in PyTorch-GAN's cgan.py) gives both networks
the label too: each owns an Embedding(num_classes, embed_dim) whose output is joined to its
input, so G's first layer takes latent_dim + 10 inputs and D's takes 784 + 10.

Two deliberate differences from gan.py: its ``nn.BatchNorm1d(out, 0.8)`` sets eps = 0.8 by
position; the intent (the same author's Keras version uses BatchNormalization(momentum=0.8))
is Keras momentum 0.8, which is PyTorch-style momentum 0.2 with the usual eps = 1e-5. And a
Linear that feeds a BatchNorm gets no bias: BatchNorm subtracts the batch mean, so such a bias
would get exactly zero gradient and never learn.
"""

from dataclasses import asdict, dataclass, fields

import numpy as np

from npgan.backend import get_array_module
from npgan.nn import BatchNorm1d, Embedding, LeakyReLU, Linear, Module, Sequential, Tanh


@dataclass(frozen=True)
class GANConfig:
    """Sizes and constants of a GAN's two networks (everything needed to rebuild them)."""

    latent_dim: int = 100
    g_hidden: tuple = (128, 256, 512, 1024)
    d_hidden: tuple = (512, 256)
    image_dim: int = 784
    slope: float = 0.2                   # LeakyReLU negative slope
    bn_eps: float = 1e-5
    bn_momentum: float = 0.2
    num_classes: int = 0                 # 0: a plain GAN; 10: a conditional GAN on 10 classes
    embed_dim: int = 10                  # size of the label embedding (conditional only)

    @property
    def conditional(self):
        return self.num_classes > 0

    def __post_init__(self):
        object.__setattr__(self, "g_hidden", tuple(int(h) for h in self.g_hidden))
        object.__setattr__(self, "d_hidden", tuple(int(h) for h in self.d_hidden))
        for name in ("latent_dim", "image_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GANConfig: {name} must be a positive integer, got {getattr(self, name)}")
        if not self.g_hidden or not self.d_hidden or min(self.g_hidden + self.d_hidden) < 1:
            raise ValueError("GANConfig: g_hidden and d_hidden must be non-empty lists of positive sizes")

    def to_dict(self):
        d = asdict(self)
        d["g_hidden"], d["d_hidden"] = list(self.g_hidden), list(self.d_hidden)
        return d

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"GANConfig: unknown fields {unknown}")
        return cls(**d)


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


class Conditional(Module):
    """A network that sees its input joined with a learned embedding of a label.

        h = [x, E[labels]]        x: (N, D), labels: (N,) ints -> h: (N, D + embed_dim)
        y = net(h)

    Backward splits dL/dh: the first D columns are dL/dx (returned); the rest flow into the
    embedding, whose rows collect the gradient of every example with that label.
    """

    def __init__(self, net, num_classes, embed_dim, *, rng, dtype=np.float32):
        super().__init__()
        self.embed = Embedding(num_classes, embed_dim, rng=rng, dtype=dtype)
        self.net = net

    def forward(self, x, labels):
        xp = get_array_module(x)
        h = xp.concatenate([x, self.embed(labels)], axis=1)
        self.cache = x.shape[1]
        return self.net(h)

    def backward(self, dout):
        d = self.pop_cache()
        dh = self.net.backward(dout)
        self.embed.backward(dh[:, d:])
        return dh[:, :d]


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
