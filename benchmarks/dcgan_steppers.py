"""The DCGAN contenders of ``train_step.py --model dcgan``: npgan, PyTorch and the floor,
each doing one training step of the same DCGAN (npgan/models/dcgan.py's CLASSIC layout, the
DCGAN paper's at 28 x 28; the demo's default is a smaller, tuned one):

    G: Linear 100 -> 128*7*7 (no bias), BatchNorm1d, ReLU, ConvTranspose 128 -> 64 k4 s2 p1,
       BatchNorm2d, ReLU, ConvTranspose 64 -> 1 k4 s2 p1, Tanh
    D: Conv 1 -> 64 k4 s2 p1, LeakyReLU 0.2, Conv 64 -> 128 k4 s2 p1 (no bias), BatchNorm2d,
       LeakyReLU 0.2, Linear 6272 -> 1

Adam (2e-4, betas 0.5/0.999), BCE on logits, real and fake in separate D batches (D has
BatchNorm), the non-saturating G loss through the updated D.
"""

import numpy as np

from npgan.backend import to_device
from npgan.models import DCGANConfig
from npgan.models.dcgan import CLASSIC
from npgan.train import GANTrainer

CFG = DCGANConfig(**CLASSIC)


def npgan_stepper(batch, xp, fast=True):
    trainer = GANTrainer(CFG, seed=0, backend=xp, fast=fast)
    real = np.random.default_rng(0).uniform(-1, 1, (batch, CFG.image_dim)).astype(np.float32)
    real = to_device(real, xp)                              # once, outside the timed steps
    return lambda: trainer.train_step(real)


def matmul_shapes(batch):
    """(M, K, N) of every matrix product one step needs, in im2col form: a convolution of
    C -> F channels, kernel k, to an OH x OW output is (F, C*k*k) @ (C*k*k, OH*OW*B) forward,
    the same sizes again for its weight gradient and for its input gradient."""
    b = batch
    g = [(b, 100, 6272),                 # Linear: forward; dW (no dx: z is noise)
         (100, b, 6272),
         (1024, 128, 49 * b),            # ConvTranspose 128 -> 64: forward is W.T @ x, col2im
         (128, 49 * b, 1024),            #   dW
         (128, 1024, 49 * b),            #   dx = W @ im2col(dout)
         (16, 64, 196 * b),              # ConvTranspose 64 -> 1: forward, dW, dx
         (64, 196 * b, 16),
         (64, 16, 196 * b)]
    d_forward = [(64, 16, 196 * b), (128, 1024, 49 * b), (b, 6272, 1)]
    d_weight = [(64, 196 * b, 16), (128, 49 * b, 1024), (6272, b, 1)]
    d_input = [(1024, 128, 49 * b), (b, 1, 6272)]           # conv2's and the Linear's
    d_input_first = [(16, 64, 196 * b)]                     # conv1's: only the G step needs it
    # D step: two forwards (real, fake), two backwards with weight and input gradients
    # (but none into the images); G step: D forward, input gradients only, then G's backward.
    return (2 * d_forward + 2 * d_weight + 2 * d_input
            + d_forward + d_input + d_input_first + g)


def floor_stepper(batch, xp):
    """Only the matrix products of ``matmul_shapes``, on random float32 arrays."""
    rng = np.random.default_rng(0)
    pairs = [(to_device(rng.standard_normal((m, k)).astype(np.float32), xp),
              to_device(rng.standard_normal((k, n)).astype(np.float32), xp))
             for m, k, n in matmul_shapes(batch)]

    def step():
        for a, b in pairs:
            a @ b
    return step


def torch_stepper(batch, device):
    import torch
    from torch import nn

    torch.manual_seed(0)
    G = nn.Sequential(
        nn.Linear(100, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh()).to(device)
    D = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1)).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, 28, 28, device=device) * 2 - 1
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

    def step():
        fake = G(torch.randn(batch, 100, device=device))
        opt_d.zero_grad()
        d_loss = loss(D(real), ones) + loss(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = loss(D(fake), ones)
        g_loss.backward()
        opt_g.step()
    return step
