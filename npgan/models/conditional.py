"""The conditional GAN (Mirza and Osindero 2014, as in PyTorch-GAN's cgan.py) gives both
networks the label too: each owns an Embedding(num_classes, embed_dim) whose output is joined
to its input, so G's first layer takes latent_dim + 10 inputs and D's takes 784 + 10
(``Conditional``). With ``d_label="projection"`` D is told the label at its end instead
(``Projection``, Miyato and Koyama 2018).
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


class Projection(Module):
    """A discriminator that is told the label by a projection (Miyato and Koyama 2018,
    "cGANs with Projection Discriminator"), instead of by a joined embedding:

        h = body(x)                                x: (N, D) -> h: (N, H), D's last features
        y = head(h) + sum_k E[labels]_k h_k        head: Linear(H, 1); E: (num_classes, H)

    The label enters only at the end, as the inner product of its learned vector with D's
    features: D's verdict is "looks real" plus "looks like this class". The paper derives it
    from the form of the optimal D when p(y|x) is a softmax over the features.

    Gradients (dout: (N, 1)):
        dE[labels] += dout * h                     (Embedding scatters each row to its label)
        dh = head.backward(dout) + dout * E[labels]
        dx = body.backward(dh)
    """

    def __init__(self, body, head, num_classes, *, rng, dtype=np.float32):
        super().__init__()
        self.body, self.head = body, head
        width = head.weight.shape[0]
        self.embed = Embedding(num_classes, width, rng=rng, dtype=dtype)
        # N(0, 1 / H) rather than Embedding's N(0, 1): then the projection starts about as
        # large as the head's output (a Linear's init is ~1 / sqrt(H)), not sqrt(H) times it
        self.embed.weight.data = self.embed.weight.data * width ** -0.5

    def forward(self, x, labels):
        h = self.body(x)                                        # (N, H)
        e = self.embed(labels)                                  # (N, H)
        self.cache = (h, e)                  # cache: the features and the label vectors
        return self.head(h) + (e * h).sum(axis=1, keepdims=True)    # (N, 1)

    def backward(self, dout):                                   # dout: (N, 1)
        h, e = self.pop_cache()
        self.embed.backward(dout * h)                           # (N, H)
        dh = self.head.backward(dout) + dout * e                # (N, H)
        return self.body.backward(dh)                           # (N, D)
