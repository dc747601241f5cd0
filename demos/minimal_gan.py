"""The whole GAN in one file, to read top to bottom: ``python -m npgan.demos.minimal_gan``.

Goodfellow et al. (2014) with the non-saturating generator loss, on MNIST, built from
npgan's layers, with none of the demos' flags, checkpoints or fast paths. About 3 minutes on
2 CPU cores; writes minimal_gan.png (64 digits) in the current folder.
"""

import numpy as np

from npgan.data import load_mnist
from npgan.losses import bce_with_logits
from npgan.nn import BatchNorm1d, LeakyReLU, Linear, Sequential, Tanh
from npgan.optim import Adam
from npgan.plots import save_image_grid


def main(steps=8000, batch_size=64, latent_dim=100, out="minimal_gan.png", seed=0):
    rng = np.random.default_rng(seed)
    images, _ = load_mnist("train")                                 # (60000, 28, 28) uint8
    real_data = (images.reshape(-1, 784) / 127.5 - 1).astype(np.float32)   # in [-1, 1]

    # G: noise (N, 100) -> image (N, 784) in [-1, 1].   D: image -> one logit (real if > 0).
    G = Sequential(Linear(latent_dim, 256, rng=rng), LeakyReLU(0.2),
                   Linear(256, 512, bias=False, rng=rng), BatchNorm1d(512), LeakyReLU(0.2),
                   Linear(512, 1024, bias=False, rng=rng), BatchNorm1d(1024), LeakyReLU(0.2),
                   Linear(1024, 784, rng=rng), Tanh())
    D = Sequential(Linear(784, 512, rng=rng), LeakyReLU(0.2),
                   Linear(512, 256, rng=rng), LeakyReLU(0.2),
                   Linear(256, 1, rng=rng))
    opt_g = Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))       # DCGAN's settings
    opt_d = Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    for step in range(1, steps + 1):
        real = real_data[rng.integers(0, len(real_data), batch_size)]           # (N, 784)
        z = rng.standard_normal((batch_size, latent_dim), dtype=np.float32)     # (N, 100)
        fake = G(z)                                                             # (N, 784)

        # D step: tell real from fake.  L_D = BCE(D(real), 1) + BCE(D(fake), 0)
        opt_d.zero_grad()
        loss_real, dlogits = bce_with_logits(D(real), 1.0)
        D.backward(dlogits)                                 # adds dL/dW into D's .grad
        loss_fake, dlogits = bce_with_logits(D(fake), 0.0)
        D.backward(dlogits)                                 # ... and adds the fake half
        opt_d.step()

        # G step: fool the updated D.  L_G = BCE(D(G(z)), 1) = -mean log D(G(z))
        opt_g.zero_grad()
        loss_g, dlogits = bce_with_logits(D(fake), 1.0)
        dfake = D.backward(dlogits)                         # dL/d(fake), through D
        G.backward(dfake)                                   # into G's .grad (D's are unused)
        opt_g.step()

        if step % 500 == 0 or step == steps:
            print(f"step {step}/{steps}: D loss {loss_real + loss_fake:.3f}, G loss {loss_g:.3f}")

    G.eval()                                                # BatchNorm: running statistics
    save_image_grid(G(rng.standard_normal((64, latent_dim), dtype=np.float32)), out)
    print(f"wrote {out}")
    return G


if __name__ == "__main__":
    import sys
    if sys.argv[1:]:                        # it takes no flags: say what it is, train nothing
        print(__doc__.replace("``", ""))
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    main()
