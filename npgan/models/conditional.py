"""The conditional GAN (Mirza and Osindero 2014, as in PyTorch-GAN's cgan.py) gives both
networks the label too: each owns an Embedding(num_classes, embed_dim) whose output is joined
to its input, so G's first layer takes latent_dim + 10 inputs and D's takes 784 + 10.
"""

import numpy as np

from npgan.backend import get_array_module
from npgan.nn import Embedding, Module


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
        self.cache = x.shape[1]                  # cache: D, where dL/dh splits into dx and dE
        return self.net(h)

    def backward(self, dout):
        d = self.pop_cache()
        dh = self.net.backward(dout)
        self.embed.backward(dh[:, d:])
        return dh[:, :d]
