"""Nearest-neighbour upsampling by an integer factor.

Upsample followed by a stride-1 Conv2d is the alternative to a stride-2 ConvTranspose2d in
generators: a transposed convolution whose kernel size is not a multiple of its stride
stamps overlapping kernels unevenly and leaves checkerboard artefacts; resizing first, then
convolving, cannot (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts",
Distill 2016).
"""

from npgan.backend import get_array_module
from npgan.nn.conv import whole
from npgan.nn.module import Module


class Upsample(Module):
    """y[n, c, h, w] = x[n, c, h // f, w // f]:  each pixel becomes an f x f block.

    x: (N, C, H, W) -> y: (N, C, H*f, W*f).
    Gradient: each input pixel was copied to f*f outputs, so dx sums dout over its block:
    dx[n, c, h, w] = sum over a, b < f of dout[n, c, h*f + a, w*f + b].

    Like the conv layers, it keeps the batch axis last in memory (see conv.py): its output is
    a (N, C, H*f, W*f) view of (C, H*f, W*f, N) memory.
    """

    def __init__(self, scale_factor):
        super().__init__()
        if not whole(scale_factor, 1):
            raise ValueError(f"Upsample: scale_factor must be an int >= 1 (nearest-neighbour "
                             f"only), got {scale_factor!r}")
        self.scale_factor = int(scale_factor)

    def forward(self, x):                    # x: (N, C, H, W) -> (N, C, H*f, W*f)
        """Caches the input's shape, to check dout's in backward."""
        if getattr(x, "ndim", 0) != 4:
            hint = "; add a batch axis with x[None]" if getattr(x, "ndim", 0) == 3 else ""
            raise ValueError(f"Upsample expects a 4-D input (N, C, H, W), got shape "
                             f"{getattr(x, 'shape', type(x).__name__)}{hint}")
        xp, f = get_array_module(x), self.scale_factor
        N, C, H, W = x.shape
        # Plainly, x.repeat(f, axis=2).repeat(f, axis=3): the same values (tests/test_conv.py).
        # These lines build them in the batch-last memory the next convolution reads (conv.py),
        # where repeat's output would be in C order and cost that convolution a transpose.
        x = x.transpose(1, 2, 3, 0)[:, :, None, :, None, :]           # (C, H, 1, W, 1, N)
        y = xp.broadcast_to(x, (C, H, f, W, f, N))                     # a view: no copy yet
        self.cache = (N, C, H, W)
        return y.reshape(C, H * f, W * f, N).transpose(3, 0, 1, 2)     # (N, C, H*f, W*f)

    def backward(self, dout):                # dout: (N, C, H*f, W*f) -> dx: (N, C, H, W)
        N, C, H, W = self.pop_cache()
        f = self.scale_factor
        self.check_dout(dout, (N, C, H * f, W * f))
        Hf, Wf = H * f, W * f
        blocks = dout.transpose(1, 2, 3, 0).reshape(C, Hf // f, f, Wf // f, f, N)
        return blocks.sum(axis=(2, 4)).transpose(3, 0, 1, 2)           # (N, C, H, W)

    def extra_repr(self):
        return f"scale_factor={self.scale_factor}"
