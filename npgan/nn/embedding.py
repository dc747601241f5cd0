"""A lookup table of learned vectors, indexed by integer labels."""

import numpy as np

from npgan.backend import get_array_module
from npgan.nn.module import Module, Parameter


class Embedding(Module):
    """y = W[idx].    idx: integers of any shape S -> y: S + (embedding_dim,).

    W has shape (num_embeddings, embedding_dim), initialized N(0, 1) as in PyTorch.
    """

    def __init__(self, num_embeddings, embedding_dim, *, rng=None, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def forward(self, idx):                  # idx: integers, shape S -> y: S + (embedding_dim,)
        """cache: idx, the indices as an array (backward scatters dout into their rows)."""
        xp = get_array_module(self.weight.data)
        if get_array_module(idx) is not xp:        # host labels for a GPU table, or the reverse
            raise TypeError(f"Embedding({self.num_embeddings}, {self.embedding_dim}) lives on "
                            f"{xp.__name__} but got indices on {get_array_module(idx).__name__}; "
                            "move them first with npgan.backend.to_device(idx, xp)")
        idx = xp.asarray(idx)                      # a list of ints becomes an array
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"Embedding({self.num_embeddings}, {self.embedding_dim}) expects "
                            f"integer indices, got dtype {idx.dtype}")
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self.num_embeddings):
            raise IndexError(f"Embedding({self.num_embeddings}, {self.embedding_dim}) got index "
                             f"range [{int(idx.min())}, {int(idx.max())}]; valid indices are "
                             f"0 .. {self.num_embeddings - 1}")
        self.cache = idx
        return self.weight.data[idx]

    def backward(self, dout):                # dout: S + (embedding_dim,) -> None
        """Gradient: dW[i] = sum of dout over every position where idx == i.

        ``add.at`` is an unbuffered scatter-add, so a label used k times in the batch adds
        all k rows (``dW[idx] += dout`` would keep only one of them). Integer indices have
        no gradient, so this returns None.
        """
        idx = self.pop_cache()
        if self.weight.requires_grad:
            get_array_module(dout).add.at(self.weight.grad, idx, dout)
        return None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
