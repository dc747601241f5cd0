"""The convolutional GAN (DCGAN; Radford, Metz and Chintala 2016), for 28 x 28 grey images by
default, and for any C x H x W (C = 1 or 3, H and W divisible by 4) through ``image_shape``.

Shapes after every layer of the demos' networks (batch N, latent 100; DCGANConfig with the
demos' DCGAN_MODEL of demos/flags.py, g_hidden = d_hidden = (256,)):

    G (transposed convolutions, upsample="transpose"; channels g_channels = (64, 32)):
        z                                            (N, 100)
        Linear(100 -> 256, no bias)                  (N, 256)      g_hidden
        BatchNorm1d, ReLU                            (N, 256)
        Linear(256 -> 64*7*7, no bias)               (N, 3136)
        BatchNorm1d, ReLU                            (N, 3136)
        Unflatten                                    (N, 64, 7, 7)
        ConvTranspose2d(64 -> 32, k4 s2 p1)          (N, 32, 14, 14)
        BatchNorm2d, ReLU                            (N, 32, 14, 14)
        ConvTranspose2d(32 -> 1, k4 s2 p1)           (N, 1, 28, 28)
        Tanh, Flatten                                (N, 784)      pixels in [-1, 1]

    G with upsample="nearest" (Odena, Dumoulin and Olah 2016, "Deconvolution and
    Checkerboard Artifacts"): each ConvTranspose2d(k4 s2 p1) becomes
        Upsample(2), Conv2d(k3 s1 p1)                the same output shape

    D (channels d_channels = (32, 64)):
        x                                            (N, 784)
        Unflatten                                    (N, 1, 28, 28)
        Conv2d(1 -> 32, k4 s2 p1), LeakyReLU(0.2)    (N, 32, 14, 14)
        Dropout(0.3)                                 (N, 32, 14, 14)
        Conv2d(32 -> 64, k4 s2 p1)                   (N, 64, 7, 7)
        LeakyReLU(0.2), Dropout(0.3)                 (N, 64, 7, 7)
        Flatten                                      (N, 3136)
        Linear(64*7*7 -> 256), LeakyReLU(0.2)        (N, 256)      d_hidden
        Linear(256 -> 1)                             (N, 1)        one logit
                                                     (N, 1 + K)    with InfoGAN's code head

Without the two hidden layers (g_hidden = d_hidden = (), DCGANConfig's defaults) these are
the DCGAN paper's layout at half its channels, with dropout in D where the paper has
BatchNorm (the paper's own is ``CLASSIC``, below). With them they have the layout of InfoGAN's MNIST
networks (Chen et al. 2016, appendix: G FC 1024, FC 7 x 7 x 128, two transposed
convolutions; D two convolutions, FC 1024), at a quarter of InfoGAN's widths. Why both:

- Without g_hidden, z reaches the 7 x 7 grid through one Linear and a ReLU, and everything
  after it is local (each output pixel of a 4 x 4 transposed convolution sees 2 x 2 inputs).
  Which digit to draw is one decision for the whole image, and one layer can hardly make it:
  the samples were often blends of two digits (after 4 epochs at lr 5e-4, the classifier
  was unsure of 49% of them with d_hidden alone, of 34% with both layers, and of 7.5% of
  real digits).
- Without d_hidden, D's logit is a weighted sum of the 7 x 7 grid's features, each of which
  sees a 10 x 10 patch of the image: D scores patches and adds the scores, and nothing in it
  judges whether the patches make one digit.

A conditional G is told which digit to draw, and a conditional D which one to expect: the
conditional DCGAN was already close to the data without them (Frechet 8.5; with them 7.1),
and they took its label accuracy from 93% to 99% (README "Results").

``CLASSIC`` is the DCGAN paper's layout at this size, the one benchmarks/ times against
PyTorch: channels (128, 64) and (64, 128), and BatchNorm2d (no bias) after D's second
convolution instead of dropout, no hidden layers.

How the demos' network was chosen (MNIST, seed 0, batch 64, Adam betas (0.5, 0.999), G_ema
0.999, one BLAS thread each, two runs at once; classifier score and Frechet distance of
npgan.evaluate, 10,000 samples). Before the hidden layers:

    half the paper's channels, BatchNorm in D, 9,000 steps, lr 2e-4          6.52   98.4
    the same without BatchNorm, dropout 0.3 in D (TensorFlow's DCGAN
        tutorial's D): the previous default, 14 epochs                       7.14   68.9
    G at the paper's channels (128, 64), 11 epochs (1.0 GB)                  7.13   66.4
    D at the paper's channels (64, 128), 8 epochs (2x slower)                6.87   78.7
    no dropout in D, 14 epochs                                               7.11   66.6

With BatchNorm, D sees a batch of only real and then only fake images and tells them apart
by the batch's statistics: it wins (the first row). Then, 4 epochs (3,748 steps) each:

                                                     lr 2e-4          lr 5e-4      1e-3
    neither hidden layer (the previous default)    5.98  108.3      6.60   88.6
    d_hidden (256,)                                6.45   86.5      7.15   60.2   7.21  59.7
    a third convolution in D (64 -> 128, k3 s2)    6.12  101.8
    d_hidden, sampled from a 0.99 average          6.46   89.0
    d_hidden, no dropout in D                                       7.04   75.8
    g_hidden (256,)                                                 7.50   58.7
    g_hidden and d_hidden (256,): the default      7.71   36.4      8.32   16.3
    g_hidden (1024,), d_hidden (256,)                               8.39   14.7 (1.3x slower)

and d_hidden (256,) alone at lr 5e-4 and 1e-3 for 12 epochs: 7.42 / 56.7 and 7.42 / 58.6.
This network for 10 epochs, seeds 0, 1, 2: 8.88 / 6.12, 8.81 / 7.96, 8.87 / 6.79
(2026-12-07, one thread; on 2026-12-01, before BatchNorm2d summed a convolution's output in
one sum: 8.92 / 5.97, 8.92 / 6.39, 8.89 / 5.79). The MNIST demo's plain DCGAN adds
InfoGAN's code head (demos/flags.py DCGAN_PLAIN_MODEL: 10 codes at weight 0.3, D's 1 + K outputs
above) and trains 14 epochs, about 10 minutes on 2 cores: 9.35 / 5.25, 9.47 / 6.70, 9.27 /
7.17 (2026-12-08; README "Results", beside the fully connected GAN's and the screen that
chose it).

Other image sizes: for C x H x W images (``image_shape``, see config.py) G's last Linear goes
to c1 x H/4 x W/4, its last layer makes C channels, and D's first convolution takes C
channels; everything else is as above (a 3 x 32 x 32 image: G's last Linear to 64 x 8 x 8, D's first
Linear from 64 x 8 x 8). Each convolution halves (or doubles) the height and width, so both must be
divisible by 4.

Both networks take and give flat (N, C*H*W) images, like the fully connected GAN's, so the
trainer, checkpoints, sampling and metrics are the same code for both; the first and last
layers reshape. As in DCGAN: no pooling (strided convolutions), BatchNorm in G but not at
its output, ReLU in G, LeakyReLU(0.2) in D. A layer that feeds a BatchNorm has no bias
(BatchNorm subtracts the mean, so the bias could not learn).

Conditional (``num_classes > 0``), through the same ``Conditional`` wrapper as the MLP:
G sees [z, E_G[label]] (a learned embed_dim-vector joined to the noise); D sees its image
joined with a learned 28 x 28 (H x W) *label plane* E_D[label] as one more input channel, so
every convolution window sees the label next to the pixels.
"""

from dataclasses import dataclass

import numpy as np

from npgan.models.config import (check_image_shape, check_kinds, config_from_fields,
                                 config_to_dict, d_outputs, image_shape_of)
from npgan.models.mlp import hidden_blocks
from npgan.nn import (BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Flatten,
                      LeakyReLU, Linear, ReLU, Sequential, Tanh, Unflatten, Upsample)

UPSAMPLE = ("transpose", "nearest")


@dataclass(frozen=True)
class DCGANConfig:
    """Sizes and constants of a DCGAN's two networks (everything needed to rebuild them)."""

    model: str = "dcgan"                 # tells a checkpoint's config from GANConfig's
    latent_dim: int = 100
    latent_components: int = 0           # 0: z ~ N(0, I); K: a mixture of K (npgan/latent.py)
    latent_std: float = 1.0              # the std of z's Gaussian entries
    info_weight: float = 0.0             # > 0: InfoGAN, D also guesses z's component (train.py)
    g_channels: tuple = (64, 32)         # G's channels at 7 x 7 and at 14 x 14 (H/4, H/2)
    d_channels: tuple = (32, 64)         # D's channels at 14 x 14 and at 7 x 7
    g_hidden: tuple = ()                 # widths of hidden Linear + BatchNorm + ReLU layers
                                         # between z and G's first convolution; (): none
    image_dim: int = 784                 # C * H * W: 28 x 28, one channel
    upsample: str = "transpose"          # "transpose": ConvTranspose2d; "nearest": Upsample + Conv2d
    slope: float = 0.2                   # D's LeakyReLU negative slope
    d_dropout: float = 0.3               # dropout after each of D's LeakyReLUs
    d_batchnorm: bool = False            # BatchNorm2d after D's second convolution
    d_hidden: tuple = ()                 # widths of hidden Linear + LeakyReLU layers before
                                         # D's logit (the demos': (256,)); (): none, as in DCGAN
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    num_classes: int = 0                 # 0: a plain GAN; 10: conditional on 10 classes
    embed_dim: int = 10                  # G's label embedding (D's is one H x W plane)
    image_shape: tuple = ()              # (C, H, W) of the flat images; (): square grey

    pixel_low = -1.0                     # not a field: G ends in Tanh, pixels in [-1, 1]

    @property
    def conditional(self):
        return self.num_classes > 0

    def __post_init__(self):
        check_kinds(self)
        for name in ("g_channels", "d_channels"):
            if len(getattr(self, name)) != 2 or min(getattr(self, name)) < 1:
                raise ValueError(f"DCGANConfig: {name} must be two positive channel counts, "
                                 f"got {list(getattr(self, name))}")
        for name in ("g_hidden", "d_hidden"):
            if getattr(self, name) and min(getattr(self, name)) < 1:
                raise ValueError(f"DCGANConfig: {name} must be positive widths (or [] for none), "
                                 f"got {list(getattr(self, name))}")
        if self.model != "dcgan":
            raise ValueError(f"DCGANConfig: model must be 'dcgan', got {self.model!r}")
        check_image_shape(self)
        try:
            _, h, w = image_shape_of(self)
        except ValueError as e:
            raise ValueError(f"DCGANConfig: {e}") from None
        if h % 4 or w % 4:
            raise ValueError(f"DCGANConfig: the DCGAN halves its images' height and width twice, "
                             f"so both must be divisible by 4; got {h} x {w}")
        if self.upsample not in UPSAMPLE:
            raise ValueError(f"DCGANConfig: upsample must be one of {UPSAMPLE}, got {self.upsample!r}")

    def to_dict(self):
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d):
        return config_from_fields(cls, d)

    def linear_widths(self):
        """The widths of G's Linears, from z to its c1 x H/4 x W/4 grid (100, 256, 3136 for
        the demos'), and of D's, from its c2 x H/4 x W/4 features to the logit (3136, 256, 1;
        1 + K with InfoGAN's code head, ``d_outputs``)."""
        (g1, _), (_, d2), (_, h, w) = self.g_channels, self.d_channels, image_shape_of(self)
        s = (h // 4) * (w // 4)                                     # pixels at the smallest size
        return (self.latent_dim, *self.g_hidden, g1 * s), (d2 * s, *self.d_hidden, d_outputs(self))

    def weight_count(self):
        """The number of weights in the convolutions and Linears: what a checkpoint of this
        config must hold at least (checked before anything is allocated)."""
        (g1, g2), (d1, d2), (c, _, _) = self.g_channels, self.d_channels, image_shape_of(self)
        k = 4 if self.upsample == "transpose" else 3                # G's kernels
        d_in = c + 1 if self.conditional else c                     # D's input channels
        linears = sum(a * b for w in self.linear_widths() for a, b in zip(w, w[1:]))
        return linears + g1 * g2 * k * k + g2 * c * k * k + d_in * d1 * 16 + d1 * d2 * 16


CLASSIC = dict(g_channels=(128, 64), d_channels=(64, 128), d_batchnorm=True, d_dropout=0.0)


def up_block(c_in, c_out, cfg, *, rng, dtype, bias):
    """Double the height and width: ConvTranspose2d(k4 s2 p1), or Upsample(2) + Conv2d(k3 p1)."""
    if cfg.upsample == "transpose":
        return [ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=bias, rng=rng, dtype=dtype)]
    return [Upsample(2), Conv2d(c_in, c_out, 3, padding=1, bias=bias, rng=rng, dtype=dtype)]


def build_dcgan_generator(cfg, *, rng, dtype=np.float32, in_dim=None):
    """G: (N, latent_dim) noise -> (N, C*H*W) images in [-1, 1] (see the module docstring)."""
    (c1, c2), (c, h, w) = cfg.g_channels, image_shape_of(cfg)
    h4, w4 = h // 4, w // 4                                         # 7 x 7 for 28 x 28 images
    bn = dict(eps=cfg.bn_eps, momentum=cfg.bn_momentum, dtype=dtype)
    widths = (in_dim or cfg.latent_dim, *cfg.linear_widths()[0][1:])    # 100, 256, 3136
    return Sequential(                                              # Linear, BatchNorm1d, ReLU:
        *hidden_blocks(widths, cfg, act="relu", batchnorm="all",    # (N, c1*H/4*W/4)
                       dropout=0.0, rng=rng, dtype=dtype),
        Unflatten((c1, h4, w4)),                                    # (N, c1, H/4, W/4)
        *up_block(c1, c2, cfg, rng=rng, dtype=dtype, bias=False),   # (N, c2, H/2, W/2)
        BatchNorm2d(c2, **bn), ReLU(),
        *up_block(c2, c, cfg, rng=rng, dtype=dtype, bias=True),     # (N, C, H, W)
        Tanh(), Flatten())                                          # (N, C*H*W)


def build_dcgan_discriminator(cfg, *, rng, dtype=np.float32, in_channels=None):
    """D: (N, in_channels*H*W) images -> (N, 1) logits, (N, 1 + K) with InfoGAN's code head
    (see the module docstring).
    ``in_channels``: the image's C by default (a conditional D adds its label plane)."""
    (c1, c2), (c, h, w) = cfg.d_channels, image_shape_of(cfg)
    in_channels = in_channels or c
    drop = [Dropout(cfg.d_dropout, rng=rng)] if cfg.d_dropout else []
    bn = [BatchNorm2d(c2, eps=cfg.bn_eps, momentum=cfg.bn_momentum, dtype=dtype)] if cfg.d_batchnorm else []
    widths = cfg.linear_widths()[1]                                             # 3136, 256, 1
    head = hidden_blocks(widths[:-1], cfg, act="leaky_relu", batchnorm="none",  # (N, 256)
                         dropout=0.0, rng=rng, dtype=dtype)                     # Linear, LeakyReLU
    return Sequential(
        Unflatten((in_channels, h, w)),                                         # (N, C, H, W)
        Conv2d(in_channels, c1, 4, stride=2, padding=1, rng=rng, dtype=dtype),  # (N, c1, H/2, W/2)
        LeakyReLU(cfg.slope), *drop,
        Conv2d(c1, c2, 4, stride=2, padding=1, bias=not bn, rng=rng, dtype=dtype),  # (N, c2, H/4, W/4)
        *bn, LeakyReLU(cfg.slope), *([Dropout(cfg.d_dropout, rng=rng)] if drop else []),
        Flatten(), *head, Linear(widths[-2], widths[-1], rng=rng, dtype=dtype))  # (N, 1 or 1 + K)
