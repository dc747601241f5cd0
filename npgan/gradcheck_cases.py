"""Every layer, loss and whole model of npgan, each set up for a finite-difference check.

``python -m npgan.gradcheck`` runs them all and prints the worst relative error of each (the
same checks the test suite asserts, without pytest). Each case is a function that returns
``{gradient name: relative error}``; shapes are small, so that full finite differences take
a moment, and every array is float64.
"""

import numpy as np

from npgan.gradcheck import (check_directional, check_function, check_module,
                             directional_error, numerical_gradient, rel_error)
from npgan.latent import draw_latent
from npgan.losses import bce, bce_with_logits, info_term, mode_seeking, softmax_cross_entropy
from npgan.models import DCGANConfig, GANConfig, build_networks, shape_fields
from npgan.models.dcgan import CLASSIC
from npgan.nn import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding,
                      Flatten, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh, Unflatten,
                      Upsample)

F64 = np.float64
SEED = 1234


def off_kink(rng, shape, margin=0.05):
    """Normal samples at least ``margin`` from 0, where ReLU-type layers have their kink: a
    finite-difference step across a kink measures the jump, not the derivative."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (margin + np.abs(x))


class FixedMaskDropout(Dropout):
    """Dropout whose mask is drawn once, so that repeated forwards are the same function."""

    def make_mask(self, shape, dtype):
        if not hasattr(self, "fixed_mask"):
            self.fixed_mask = super().make_mask(shape, dtype)
        return self.fixed_mask


def batchnorm(rng, training, *, staged=False, images=False):
    """A BatchNorm with random gamma and beta, and an input that is not centred (STYLE.md):
    (8, 5) for BatchNorm1d, (3, 5, 3, 4) for BatchNorm2d."""
    bn = (BatchNorm2d if images else BatchNorm1d)(5, dtype=F64, staged=staged)
    bn.gamma.data[:] = rng.uniform(0.5, 2, 5)
    bn.beta.data[:] = rng.standard_normal(5)
    shape = (3, 5, 3, 4) if images else (8, 5)
    if not training:
        bn(5 * rng.standard_normal(shape) + 12)             # running statistics with values
        bn.eval()
    return bn, 5 * rng.standard_normal(shape) + 12


def layer_cases():
    """(name, function of rng returning (module, x))."""
    return [
        ("Linear", lambda r: (Linear(7, 5, rng=r, dtype=F64), r.standard_normal((4, 7)))),
        ("Linear (no bias)", lambda r: (Linear(3, 6, bias=False, rng=r, dtype=F64),
                                        r.standard_normal((5, 3)))),
        ("ReLU", lambda r: (ReLU(), off_kink(r, (6, 5)))),
        ("LeakyReLU", lambda r: (LeakyReLU(0.2), off_kink(r, (6, 5)))),
        ("Tanh", lambda r: (Tanh(), 3 * r.standard_normal((6, 5)))),
        ("Sigmoid", lambda r: (Sigmoid(), 3 * r.standard_normal((6, 5)))),
        ("BatchNorm1d (train)", lambda r: batchnorm(r, True)),
        ("BatchNorm1d (eval)", lambda r: batchnorm(r, False)),
        ("BatchNorm1d (train, staged backward)", lambda r: batchnorm(r, True, staged=True)),
        ("BatchNorm2d (train)", lambda r: batchnorm(r, True, images=True)),
        ("BatchNorm2d (eval)", lambda r: batchnorm(r, False, images=True)),
        ("BatchNorm2d (train, staged backward)",
         lambda r: batchnorm(r, True, staged=True, images=True)),
        ("Dropout (mask held fixed)", lambda r: (FixedMaskDropout(0.4, rng=r),
                                                 r.standard_normal((10, 6)))),
        ("Embedding", lambda r: (Embedding(6, 4, rng=r, dtype=F64), np.array([2, 5, 2, 2, 0, 5]))),
        ("Sequential", lambda r: (Sequential(Linear(6, 8, bias=False, rng=r, dtype=F64),
                                             BatchNorm1d(8, dtype=F64), Tanh(),
                                             Linear(8, 2, rng=r, dtype=F64)),
                                  r.standard_normal((7, 6)))),
        ("Conv2d (k3 s1 p1)", lambda r: (Conv2d(2, 3, 3, padding=1, rng=r, dtype=F64),
                                         r.standard_normal((2, 2, 5, 4)))),
        ("Conv2d (k4 s2 p1, no bias)", lambda r: (Conv2d(2, 3, 4, stride=2, padding=1, bias=False,
                                                         rng=r, dtype=F64),
                                                  r.standard_normal((2, 2, 6, 8)))),
        ("Conv2d (k5 s1 p2)", lambda r: (Conv2d(2, 2, 5, padding=2, rng=r, dtype=F64),
                                         r.standard_normal((2, 2, 5, 6)))),
        ("Conv2d (2x3 kernel, s2 p2)", lambda r: (Conv2d(3, 2, (2, 3), stride=2, padding=2,
                                                         rng=r, dtype=F64),
                                                  r.standard_normal((2, 3, 6, 7)))),
        ("ConvTranspose2d (k4 s2 p1)", lambda r: (ConvTranspose2d(3, 2, 4, stride=2, padding=1,
                                                                  rng=r, dtype=F64),
                                                  r.standard_normal((2, 3, 3, 4)))),
        ("ConvTranspose2d (k3 s2 p1, output_padding 1)",
         lambda r: (ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1, rng=r,
                                    dtype=F64), r.standard_normal((2, 2, 3, 3)))),
        ("Upsample (x2)", lambda r: (Upsample(2), r.standard_normal((2, 3, 3, 4)))),
        ("Flatten", lambda r: (Flatten(), r.standard_normal((2, 3, 2, 2)))),
        ("Unflatten", lambda r: (Unflatten((3, 2, 2)), r.standard_normal((2, 12)))),
    ]


def directional_cases():
    """Real DCGAN layer sizes (batch 2), checked along 3 random directions per gradient
    (``check_directional``): a full sweep of a 128x64x4x4 weight alone is 131,072 pairs
    of forwards."""
    return [
        ("Conv2d 64->128 k4 s2 p1 on 14x14 (directional)",
         lambda r: (Conv2d(64, 128, 4, stride=2, padding=1, rng=r, dtype=F64),
                    r.standard_normal((2, 64, 14, 14)))),
        ("ConvTranspose2d 128->64 k4 s2 p1 on 7x7 (directional)",
         lambda r: (ConvTranspose2d(128, 64, 4, stride=2, padding=1, rng=r, dtype=F64),
                    r.standard_normal((2, 128, 7, 7)))),
        ("BatchNorm2d 64 on 14x14 (directional)",
         lambda r: (BatchNorm2d(64, dtype=F64), 5 * r.standard_normal((2, 64, 14, 14)) + 12)),
    ]


def loss_cases():
    """(name, function of rng returning {"input": error}): each loss's gradient at random
    inputs and soft targets."""
    def bce_case(rng):
        p, y = rng.uniform(0.05, 0.95, (8, 1)), rng.uniform(0, 1, (8, 1))
        return {"p": check_function(lambda p: bce(p, y), p)}

    def logits_case(rng):
        z, y = 3 * rng.standard_normal((8, 1)), rng.uniform(0, 1, (8, 1))
        return {"z": check_function(lambda z: bce_with_logits(z, y), z)}

    def softmax_case(rng):
        z, labels = 2 * rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
        return {"z": check_function(lambda z: softmax_cross_entropy(z, labels), z)}

    def mode_seeking_case(rng):
        images, z = rng.uniform(-1, 1, (7, 5)), rng.standard_normal((7, 3))   # 3 pairs, 1 spare
        return {"images": check_function(lambda x: mode_seeking(x, z), images)}

    return [("bce (probabilities)", bce_case), ("bce_with_logits", logits_case),
            ("softmax_cross_entropy", softmax_case), ("mode_seeking (MSGAN)", mode_seeking_case)]


def gan_losses(cfg, rng, *, n=6, directions=None, h=1e-5):
    """The two losses of a GAN step: returns errors of D's parameters for
    L_D = BCE(D(real), 1) + BCE(D(fake), 0) (two backwards adding up), and of G's for
    L_G = BCE(D(G(z)), 1) through D. Every entry by finite differences, or, with
    ``directions``, that many random unit directions per parameter (for real sizes). With
    InfoGAN's code head (``cfg.info_weight`` w), D's verdict is its first output, and
    w * L_I, the cross-entropy of its other outputs against z's code, joins both fake terms.

    The DCGAN cases take h = 1e-6, not 1e-5: a DCGAN has thousands of ReLU inputs, and a step that
    carries one across its kink at 0 measures the jump, not the derivative (seen with
    h = 1e-5 on one seed of three). A ten times smaller step crosses one ten times less
    often, and float64 round-off, about 1e-16 / h, is still far below the tolerance."""
    G, D = build_networks(cfg, rng=rng, dtype=F64)
    real = rng.uniform(-1, 1, (n, cfg.image_dim))
    z = draw_latent(cfg, rng, n)
    labels = (rng.integers(0, cfg.num_classes, n),) if cfg.conditional else ()
    codes = z[:, :cfg.latent_components].argmax(axis=1) if cfg.info_weight else None

    def loss_and_grad(out, target, fake):       # BCE on the verdict (+ w L_I on a fake)
        loss, dverdict = bce_with_logits(out[:, :1], target)
        if not cfg.info_weight:
            return loss, dverdict
        info, dout = info_term(out, dverdict, codes if fake else None, cfg.info_weight)
        return loss + cfg.info_weight * info, dout

    def d_loss():
        fake = G(z, *labels)
        return (loss_and_grad(D(real, *labels), 1.0, False)[0]
                + loss_and_grad(D(fake, *labels), 0.0, True)[0])

    def g_loss():
        return loss_and_grad(D(G(z, *labels), *labels), 1.0, True)[0]

    D.zero_grad()
    D.backward(loss_and_grad(D(real, *labels), 1.0, False)[1])
    D.backward(loss_and_grad(D(G(z, *labels), *labels), 0.0, True)[1])

    def error(loss, p):                             # p.grad holds backward's dL/dp
        if directions is None:
            return rel_error(p.grad, numerical_gradient(loss, p.data, h))
        return directional_error(loss, p.data, p.grad, n_directions=directions, rng=rng, h=h)

    errors = {f"D.{k}": error(d_loss, p) for k, p in D.named_parameters()}
    G.zero_grad()
    G.backward(D.backward(loss_and_grad(D(G(z, *labels), *labels), 1.0, True)[1]))
    errors.update({f"G.{k}": error(g_loss, p) for k, p in G.named_parameters()})
    return errors


SMALL = dict(latent_dim=3, g_hidden=(5, 6, 4), d_hidden=(6, 5), image_dim=4)
TINY_DCGAN = dict(latent_dim=3, g_channels=(2, 2), d_channels=(2, 2), d_dropout=0.0)  # a
# fresh dropout mask each forward would make the loss a different function every time
COLOUR = shape_fields((3, 8, 12))     # RGB, not square: every shape is used where it belongs


def model_cases():
    return [
        ("GAN: D loss and G loss through D", lambda r: gan_losses(GANConfig(**SMALL), r)),
        ("cGAN: D loss and G loss through D",
         lambda r: gan_losses(GANConfig(**SMALL, num_classes=3, embed_dim=2), r)),
        ("cGAN with a projection discriminator: D loss and G loss through D",
         lambda r: gan_losses(GANConfig(**SMALL, num_classes=3, embed_dim=2,
                                        d_label="projection"), r)),
        ("InfoGAN (a code head on D, L_I in both losses): D loss and G loss through D",
         lambda r: gan_losses(GANConfig(**{**SMALL, "latent_dim": 5}, latent_components=3,
                                        info_weight=0.7), r)),
        ("DCGAN with InfoGAN's code head, small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, latent_components=2, info_weight=0.7,
                                          d_hidden=(3,)), r, n=3, h=1e-6)),
        ("GAN with ReLU, BatchNorm in every block and a Sigmoid G; BatchNorm in D",
         lambda r: gan_losses(GANConfig(**SMALL, g_activation="relu", g_batchnorm="all",
                                        output="sigmoid", d_batchnorm="all"), r, h=1e-6)),
        ("DCGAN, small channels: D loss and G loss through D",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN), r, n=3, h=1e-6)),
        ("DCGAN with upsample + conv, small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, upsample="nearest"), r, n=3, h=1e-6)),
        ("DCGAN with fully connected layers in G and D (the demos'), small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, g_hidden=(3,), d_hidden=(3, 2)), r, n=3,
                              h=1e-6)),
        ("DCGAN with BatchNorm in D, small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, d_batchnorm=True), r, n=3, h=1e-6)),
        ("conditional DCGAN, small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, num_classes=3, embed_dim=2), r, n=3,
                              h=1e-6)),
        ("DCGAN on 3 x 8 x 12 colour images, small channels",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, **COLOUR), r, n=3, h=1e-6)),
        ("conditional DCGAN on 3 x 8 x 12 colour images, small channels, fully connected layers",
         lambda r: gan_losses(DCGANConfig(**TINY_DCGAN, **COLOUR, num_classes=3, embed_dim=2,
                                          g_hidden=(4,), d_hidden=(3,)), r, n=3, h=1e-6)),
        ("DCGAN, the paper's sizes (directional)",
         lambda r: gan_losses(DCGANConfig(**CLASSIC), r, n=2, directions=2, h=1e-6)),
    ]


def all_cases():
    """[(group, name, function of rng returning {gradient: error})] for every check."""
    def module_case(build):
        return lambda rng: check_module(*build(rng), rng=rng)
    def directional_case(build):
        return lambda rng: check_directional(*build(rng), rng=rng, n_directions=3)
    return ([("layer", name, module_case(build)) for name, build in layer_cases()]
            + [("layer", name, directional_case(build)) for name, build in directional_cases()]
            + [("loss", name, fn) for name, fn in loss_cases()]
            + [("model", name, fn) for name, fn in model_cases()])
