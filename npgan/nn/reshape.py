"""Flatten and Unflatten: the bridge between Linear layers (N, D) and conv layers (N, C, H, W).

Neither changes a number, so each backward is the inverse reshape of its forward.
"""

import math

from npgan.backend import get_array_module
from npgan.nn.module import Module


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W), row-major (C outermost), as PyTorch's ``nn.Flatten()``.

    Gradient: dx = dout reshaped back to the input's shape. The reshape is a view whenever
    the input's memory allows (it does for a conv layer's output, see conv.py).
    """

    def forward(self, x):                    # x: (N, C, H, W) -> (N, C*H*W)
        """Caches the input shape, and whether x keeps its batch axis last in memory."""
        if getattr(x, "ndim", 0) < 2:
            raise ValueError(f"Flatten expects an input (N, ...) with a batch axis, got shape "
                             f"{getattr(x, 'shape', type(x).__name__)}; add one with x[None]")
        y = x.reshape(x.shape[0], -1)
        self.cache = (x.shape, y.strides[0] < y.strides[1])
        return y

    def backward(self, dout):                # dout: (N, C*H*W) -> dx: (N, C, H, W)
        shape, batch_last = self.pop_cache()
        if tuple(dout.shape) != (shape[0], math.prod(shape[1:])):
            raise ValueError(f"Flatten.backward expects dout of shape "
                             f"{(shape[0], math.prod(shape[1:]))} (its forward flattened "
                             f"{tuple(shape)}), got {tuple(dout.shape)}")
        if batch_last:
            # Fast path: hand dx back in the memory layout the input had (a conv layer's
            # batch-last (C, H, W, N), see conv.py), not a Linear's (N, C*H*W) rows, so that
            # the element-wise layers below and the conv's own transpose do not work across
            # two layouts. One transposing copy here; measured in the DCGAN step (batch 64,
            # one thread): the LeakyReLU backward below it 2.3 -> 0.4 ms per step (3 calls).
            dout = get_array_module(dout).ascontiguousarray(dout.T).T   # (N, C*H*W), batch last
        return dout.reshape(shape)


class Unflatten(Module):
    """(N, C*H*W) -> (N, C, H, W) for a given ``shape`` = (C, H, W): Flatten's inverse.

    Gradient: dx = dout reshaped to (N, C*H*W).
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(n) for n in shape)
        self.size = math.prod(self.shape)

    def forward(self, x):                    # x: (N, C*H*W) -> (N, C, H, W)
        """Caches the batch size, to check dout's shape in backward."""
        if getattr(x, "ndim", 0) != 2 or x.shape[1] != self.size:
            raise ValueError(f"Unflatten{self.shape} expects an input of shape "
                             f"(N, {self.size}) (= (N, {' * '.join(map(str, self.shape))})), "
                             f"got shape {getattr(x, 'shape', type(x).__name__)}")
        self.cache = x.shape[0]
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dout):                # dout: (N, C, H, W) -> dx: (N, C*H*W)
        n = self.pop_cache()
        self.check_dout(dout, (n,) + self.shape)
        return dout.reshape(n, self.size)

    def extra_repr(self):
        return f"{self.shape}"
