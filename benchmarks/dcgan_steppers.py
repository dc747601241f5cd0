"""The DCGAN contenders of ``train_step.py --model dcgan`` and ``--model dcgan-demo``: npgan,
PyTorch and the floor, each doing one training step of the same DCGAN. ``dcgan`` is
npgan/models/dcgan.py's CLASSIC layout, the DCGAN paper's at 28 x 28 (the issue's):

    G: Linear 100 -> 128*7*7 (no bias), BatchNorm1d, ReLU, ConvTranspose 128 -> 64 k4 s2 p1,
       BatchNorm2d, ReLU, ConvTranspose 64 -> 1 k4 s2 p1, Tanh
    D: Conv 1 -> 64 k4 s2 p1, LeakyReLU 0.2, Conv 64 -> 128 k4 s2 p1 (no bias), BatchNorm2d,
       LeakyReLU 0.2, Linear 6272 -> 1

``dcgan-demo`` is the network ``python -m npgan.demos.mnist --model dcgan`` trains
(DCGANConfig with the demos' DCGAN_MODEL): channels (64, 32) in G and (32, 64) in D, in D
dropout 0.3 after each LeakyReLU instead of BatchNorm, a fully connected layer before G's
convolutions (Linear 100 -> 256, BatchNorm1d, ReLU; then Linear 256 -> 64*7*7) and one before
D's logit (Linear 3136 -> 256, LeakyReLU 0.2).

Adam (2e-4, betas 0.5/0.999), BCE on logits, real and fake in separate D batches, the
non-saturating G loss through the updated D.
"""

import numpy as np

from npgan.backend import to_device
from npgan.demos.flags import DCGAN_MODEL
from npgan.models import DCGANConfig
from npgan.models.dcgan import CLASSIC
from npgan.train import GANTrainer

CONFIGS = {"dcgan": DCGANConfig(**CLASSIC), "dcgan-demo": DCGANConfig(**DCGAN_MODEL)}


def check_supported(cfg):
    """The PyTorch twin and the floor below are written for 28 x 28 grey images, transposed
    convolutions and no labels; refuse anything else rather than time another network."""
    if cfg.image_dim != 784 or cfg.upsample != "transpose" or cfg.conditional:
        raise ValueError("dcgan_steppers times 28 x 28 grey, unconditional DCGANs with "
                         f"transposed convolutions, got {cfg}")


def npgan_stepper(batch, xp, fast=True, cfg=CONFIGS["dcgan"]):
    check_supported(cfg)
    trainer = GANTrainer(cfg, seed=0, backend=xp, fast=fast)
    real = np.random.default_rng(0).uniform(-1, 1, (batch, cfg.image_dim)).astype(np.float32)
    real = to_device(real, xp)                              # once, outside the timed steps
    return lambda: trainer.train_step(real)


def matmul_shapes(batch, cfg=CONFIGS["dcgan"]):
    """(M, K, N) of every matrix product one step needs, in im2col form: a convolution of
    C -> F channels, kernel k, to an OH x OW output is (F, C*k*k) @ (C*k*k, OH*OW*B) forward,
    the same sizes again for its weight gradient and for its input gradient."""
    check_supported(cfg)
    b = batch
    (g1, g2), (d1, d2) = cfg.g_channels, cfg.d_channels
    g_widths, d_widths = cfg.linear_widths()
    g_fc = list(zip(g_widths, g_widths[1:]))               # G's Linears, n_in -> n_out
    g = [(b, i, o) for i, o in g_fc]     # Linears: forward; dW; dx (none into z: it is noise)
    g += [(i, b, o) for i, o in g_fc] + [(b, o, i) for i, o in g_fc[1:]]
    g += [(g2 * 16, g1, 49 * b),         # ConvTranspose g1 -> g2: forward is W.T @ x, col2im
         (g1, 49 * b, g2 * 16),          #   dW
         (g1, g2 * 16, 49 * b),          #   dx = W @ im2col(dout)
         (16, g2, 196 * b),              # ConvTranspose g2 -> 1: forward, dW, dx
         (g2, 196 * b, 16),
         (g2, 16, 196 * b)]
    linears = list(zip(d_widths, d_widths[1:]))            # D's Linears, n_in -> n_out
    d_forward = [(d1, 16, 196 * b), (d2, d1 * 16, 49 * b)] + [(b, i, o) for i, o in linears]
    d_weight = [(d1, 196 * b, 16), (d2, 49 * b, d1 * 16)] + [(i, b, o) for i, o in linears]
    d_input = [(d1 * 16, d2, 49 * b)] + [(b, o, i) for i, o in linears]  # conv2's, the Linears'
    d_input_first = [(16, d1, 196 * b)]                     # conv1's: only the G step needs it
    # D step: two forwards (real, fake), two backwards with weight and input gradients
    # (but none into the images); G step: D forward, input gradients only, then G's backward.
    return (2 * d_forward + 2 * d_weight + 2 * d_input
            + d_forward + d_input + d_input_first + g)


def floor_stepper(batch, xp, cfg=CONFIGS["dcgan"]):
    """Only the matrix products of ``matmul_shapes``, on random float32 arrays."""
    rng = np.random.default_rng(0)
    pairs = [(to_device(rng.standard_normal((m, k)).astype(np.float32), xp),
              to_device(rng.standard_normal((k, n)).astype(np.float32), xp))
             for m, k, n in matmul_shapes(batch, cfg)]

    def step():
        for a, b in pairs:
            a @ b
    return step


def torch_networks(cfg, device="cpu"):
    """G and D of ``cfg`` in PyTorch, layer for layer as npgan builds them."""
    from torch import nn

    check_supported(cfg)
    (g1, g2), (d1, d2) = cfg.g_channels, cfg.d_channels
    g_widths, d_widths = cfg.linear_widths()
    G = nn.Sequential(
        *[layer for i, o in zip(g_widths, g_widths[1:])
          for layer in (nn.Linear(i, o, bias=False), nn.BatchNorm1d(o), nn.ReLU())],
        nn.Unflatten(1, (g1, 7, 7)),
        nn.ConvTranspose2d(g1, g2, 4, 2, 1, bias=False), nn.BatchNorm2d(g2), nn.ReLU(),
        nn.ConvTranspose2d(g2, 1, 4, 2, 1), nn.Tanh()).to(device)
    drop = [nn.Dropout(cfg.d_dropout)] if cfg.d_dropout else []
    bn = [nn.BatchNorm2d(d2)] if cfg.d_batchnorm else []
    D = nn.Sequential(
        nn.Conv2d(1, d1, 4, 2, 1), nn.LeakyReLU(cfg.slope), *drop,
        nn.Conv2d(d1, d2, 4, 2, 1, bias=not bn), *bn, nn.LeakyReLU(cfg.slope),
        *([nn.Dropout(cfg.d_dropout)] if drop else []),
        nn.Flatten(),
        *[layer for i, o in zip(d_widths, d_widths[1:-1])
          for layer in (nn.Linear(i, o), nn.LeakyReLU(cfg.slope))],
        nn.Linear(d_widths[-2], 1)).to(device)
    return G, D


def torch_stepper(batch, device, cfg=CONFIGS["dcgan"]):
    import torch
    from torch import nn

    torch.manual_seed(0)
    G, D = torch_networks(cfg, device)
    z = cfg.latent_dim
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, 28, 28, device=device) * 2 - 1
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

    def step():
        fake = G(torch.randn(batch, z, device=device))
        opt_d.zero_grad()
        d_loss = loss(D(real), ones) + loss(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = loss(D(fake), ones)
        g_loss.backward()
        opt_g.step()
    return step
