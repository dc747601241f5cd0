r"""Convolution and transposed convolution, as im2col + one matrix product.

Read conv_reference.py first: it computes the same things with plain loops, and the tests
check that these layers agree with it. This file is the fast version of the same arithmetic.

im2col ("image to columns") copies every kh x kw window of the padded input into one column
of a matrix, so that a convolution becomes one matrix product:

    cols = im2col(x)              (C*kh*kw, OH*OW*N)   row (c, i, j), column (oh, ow, n)
    y    = W.reshape(F, -1) @ cols      (F, OH*OW*N)   y[f, (oh, ow, n)] = <W[f], window>

col2im is its adjoint: it adds each entry of a column matrix back onto the pixel it was
copied from (overlapping windows sum). So the two layers share the two functions:

    Conv2d           forward: im2col, then W @ cols      input gradient: W.T @ dy, then col2im
    ConvTranspose2d  forward: W.T @ x, then col2im      input gradient: im2col, then W @ dcols

A transposed convolution is exactly the input gradient of a convolution (with the weight
read as (in, out, kh, kw)), and its input gradient is exactly a convolution.

Memory layout. Arrays are (N, C, H, W) to their users, as in PyTorch, but these layers keep
the batch axis *last in memory* (C, H, W, N), the layout of Krizhevsky's cuda-convnet. Then
every copy in im2col and col2im moves runs of N contiguous numbers instead of OW (7 in a
DCGAN's discriminator), 2.5-3x faster at the DCGAN's sizes (this project's 2-core machine,
2026-12-01), and the matrix product's output
is already in that layout. Outputs are (N, C, H, W) views of (C, H, W, N) memory
(``a.transpose(3, 0, 1, 2)``): no copy is made to hand them on. NumPy's element-wise
operations keep an input's layout, so activations and BatchNorm pass it along, and the next
layer reads it without a transpose. Any (N, C, H, W) array is accepted; one in another layout
costs one transposing copy.

Threads. With more than one (npgan.threads.set_threads), im2col and col2im hand blocks of
channels to every thread (``im2col_threaded``, ``col2im_blocked``): each number is
copied or summed exactly as on one thread, so the results are identical (tests/test_conv.py).
"""

import numpy as np

from npgan.backend import get_array_module
from npgan.nn.linear import Linear
from npgan.nn.module import Module, Parameter
from npgan.threads import get_threads, parallel_for


def im2col(x, kernel, stride, padding):
    """Every kh x kw window of the zero-padded x, one per column.

    x: (N, C, H, W) -> cols: (C*kh*kw, OH*OW*N), OH = (H + 2p - kh) // s + 1, with
    cols[(c, i, j), (oh, ow, n)] = x_padded[n, c, oh*s + i, ow*s + j].
    """
    xp = get_array_module(x)
    if threaded(xp, x.shape[1]):
        return im2col_threaded(x, kernel, stride, padding)     # fast beside, same numbers
    (kh, kw), s, p = kernel, stride, padding
    N, C, H, W = x.shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    x_pad = xp.zeros((C, H + 2 * p, W + 2 * p, N), dtype=x.dtype)    # batch last in memory
    x_pad[:, p:p + H, p:p + W, :] = x.transpose(1, 2, 3, 0)            # (C, H, W, N)
    # every window is read through one strided view of x_pad (no copy: windows_of); reshape
    # then copies the windows into the matrix
    return windows_of(x_pad, kernel, s, OH, OW).reshape(C * kh * kw, OH * OW * N)


def windows_of(x_pad, kernel, s, OH, OW):
    """The (C, kh, kw, OH, OW, N) view of a padded (C, H, W, N) array: element (c, i, j, oh,
    ow, n) is x_pad[c, oh*s + i, ow*s + j, n]. A view, no copy: moving one step along i (j)
    moves one row (column) in x_pad, and along oh (ow) moves s rows (columns)."""
    (kh, kw), (C, _, _, N) = kernel, x_pad.shape
    sc, sh, sw, sn = x_pad.strides
    return get_array_module(x_pad).lib.stride_tricks.as_strided(
        x_pad, (C, kh, kw, OH, OW, N), (sc, sh, sw, s * sh, s * sw, sn))


def threaded(xp, C):
    """Whether im2col and col2im split their channels over threads (NumPy, >1 thread, >1
    channel). The split changes which thread copies or adds a number, never its value: each
    number is one copy, or the same adds in the same order, so the result is identical."""
    return xp is np and get_threads() > 1 and C > 1


def im2col_threaded(x, kernel, stride, padding):
    """im2col's fast path: the same two copies (padding, then the windows), a block of
    channels at a time on every thread (npgan.threads.parallel_for), into two arrays made
    for the call (the padded input and the matrix).
    Why: the copies are a DCGAN's largest element-wise work, and NumPy runs each on one
    thread. Measured at the benchmark DCGAN's D conv2 (64 channels, 14 x 14, batch 64),
    2 cores, quiet: 1.08 -> 0.72 ms a call (tests/test_conv.py checks it equals im2col)."""
    (kh, kw), s, p = kernel, stride, padding
    N, C, H, W = x.shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    x_pad = np.empty((C, H + 2 * p, W + 2 * p, N), dtype=x.dtype)
    cols = np.empty((C, kh, kw, OH, OW, N), dtype=x.dtype)
    x_chwn, block = x.transpose(1, 2, 3, 0), -(-C // (2 * get_threads()))

    def copy(c):                                    # channels c .. c + block - 1
        pad = x_pad[c:c + block]
        if p:                                       # zero the border only
            pad[:, :p], pad[:, -p:], pad[:, :, :p], pad[:, :, -p:] = 0, 0, 0, 0
        pad[:, p:p + H, p:p + W, :] = x_chwn[c:c + block]
        cols[c:c + block] = windows_of(pad, kernel, s, OH, OW)
    parallel_for(copy, range(0, C, block))
    return cols.reshape(C * kh * kw, OH * OW * N)


def col2im(cols, x_shape, kernel, stride, padding):
    """The adjoint of im2col: add each entry of cols back onto the pixel it came from.

    cols: (C*kh*kw, OH*OW*N) -> (N, C, H, W), a view of (C, H, W, N) memory.
    One strided add per kernel offset (i, j), each over the whole batch.
    """
    xp = get_array_module(cols)
    (kh, kw), s, p = kernel, stride, padding
    N, C, H, W = x_shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    cols = cols.reshape(C, kh, kw, OH, OW, N)
    x_pad = xp.zeros((C, H + 2 * p, W + 2 * p, N), dtype=cols.dtype)
    if xp is not np:                            # the plain loops (CuPy, and the tests' strict
        for i in range(kh):                     # backend); NumPy takes the fast path below
            for j in range(kw):
                # offset (i, j) of window (oh, ow) is pixel (oh*s + i, ow*s + j)
                x_pad[:, i:i + s * OH:s, j:j + s * OW:s, :] += cols[:, i, j]  # (C, OH, OW, N)
    else:
        col2im_blocked(cols, x_pad, s)          # fast beside: the same adds, the same sums
    return x_pad[:, p:p + H, p:p + W, :].transpose(3, 0, 1, 2)           # (N, C, H, W)


BLOCK_BYTES = 1 << 20                   # col2im's channel blocks: at most 1 MB of x_pad


def col2im_blocked(cols, x_pad, s):
    """col2im's fast path (NumPy): its adds, in place into x_pad, a block of channels at a
    time, and the blocks handed to every thread (npgan.threads.parallel_for; on one thread,
    a plain loop over them). Channels never mix, so every pixel gets the same adds in the same
    order: the same sums (tests/test_conv.py checks both against the loop above).
    Why: all kh*kw adds of a block land in the block of x_pad (<= BLOCK_BYTES), which stays in
    the CPU's cache between them. At the DCGAN's D conv2 (64 channels, 16 x 16 padded, batch
    64, float32; 16 channels a block), this project's 2-core machine, 2026-12-01: 2.45 ms a
    call for the plain loop, 2.12 ms in blocks on one thread; later that day 2.35 ms in
    blocks on one thread and 1.55 ms on two."""
    C, kh, kw, OH, OW, _ = cols.shape
    block = max(1, BLOCK_BYTES // x_pad[0].nbytes)

    def add(c):                                     # channels c .. c + block - 1
        x_block, cols_block = x_pad[c:c + block], cols[c:c + block]
        for i in range(kh):
            for j in range(kw):
                x_block[:, i:i + s * OH:s, j:j + s * OW:s, :] += cols_block[:, i, j]
    parallel_for(add, range(0, C, block))


def whole(value, minimum):
    """Is ``value`` a whole number (a Python or NumPy int, not a bool) >= ``minimum``?"""
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and value >= minimum)


def kernel_pair(kernel_size):
    """(kh, kw) from an int k (a k x k kernel) or a pair."""
    pair = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
    if len(pair) != 2 or not all(whole(k, 1) for k in pair):
        raise ValueError(f"kernel_size must be an int >= 1 or a pair (kh, kw) of them, "
                         f"got {kernel_size!r}")
    return int(pair[0]), int(pair[1])


class _Conv(Module):
    """What Conv2d and ConvTranspose2d share: settings, init, input checks, input_grad."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, bias, rng,
                 dtype, transposed):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not whole(value, 1):
                raise ValueError(f"{type(self).__name__}: {what} must be an int >= 1, "
                                 f"got {value!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = kernel_pair(kernel_size)
        for what, value, minimum in (("stride", stride, 1), ("padding", padding, 0)):
            if not whole(value, minimum):
                raise ValueError(f"{type(self).__name__}: {what} must be an int >= {minimum} "
                                 f"(the same along H and W), got {value!r}")
        self.stride, self.padding = int(stride), int(padding)
        # PyTorch's weight layouts: (out, in, kh, kw), and (in, out, kh, kw) when transposed.
        # Its default init (kaiming_uniform with a = sqrt(5)) comes to U(-k, k) with
        # k = 1 / sqrt(fan_in), for W and b alike, fan_in read from the weight's axis 1.
        C_in, C_out, (kh, kw) = self.in_channels, self.out_channels, self.kernel_size
        weight_shape = ((C_in, C_out) if transposed else (C_out, C_in)) + (kh, kw)
        k = 1.0 / np.sqrt(weight_shape[1] * kh * kw)
        self.weight = Parameter(rng.uniform(-k, k, weight_shape).astype(dtype))
        self.bias = Parameter(rng.uniform(-k, k, self.out_channels).astype(dtype)) if bias else None
        self.input_grad = True              # False inside without_input_grad()

    # Linear's switch, as is: within the block, backward returns None instead of dx.
    without_input_grad = Linear.without_input_grad

    @property
    def name(self):
        kh, kw = self.kernel_size
        return (f"{type(self).__name__}({self.in_channels} -> {self.out_channels}, kernel "
                f"{kh}x{kw}, stride {self.stride}, padding {self.padding})")

    def _check_input(self, x):
        shape = getattr(x, "shape", type(x).__name__)
        if getattr(x, "ndim", 0) != 4:
            hint = ("; add a batch axis with x[None] for a single image"
                    if getattr(x, "ndim", 0) == 3 else "")
            raise ValueError(f"{self.name} expects a 4-D input (N, {self.in_channels}, H, W), "
                             f"got shape {shape}{hint}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{self.name} expects {self.in_channels} input channels, got "
                             f"{x.shape[1]} (input shape {shape}; layout is (N, C, H, W))")
        if x.dtype != self.weight.data.dtype:
            raise TypeError(f"{self.name} has {self.weight.data.dtype} weights but got "
                            f"{x.dtype} input; convert the input with "
                            f".astype({self.weight.data.dtype}) (npgan never upcasts silently)")

    def extra_repr(self):
        kh, kw = self.kernel_size
        return (f"{self.in_channels}, {self.out_channels}, kernel_size=({kh}, {kw}), "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Conv2d(_Conv):
    """y[n, f] = b[f] + sum over c of (x[n, c] cross-correlated with W[f, c]).

    x: (N, C, H, W) -> y: (N, F, OH, OW),  OH = (H + 2p - kh) / s + 1  (and OW alike).

    ``kernel_size`` is an int or (kh, kw); ``stride`` s and ``padding`` p are ints. The
    weight is PyTorch's (F, C, kh, kw) = (out, in, kh, kw), initialized as PyTorch does:
    W and b ~ U(-k, k), k = 1 / sqrt(C * kh * kw), drawn from ``rng``. A size for which
    (H + 2p - kh) / s is not a whole number is refused (PyTorch would drop the last rows).
    The plain loops are ``conv_reference.conv2d``; this is im2col + one matrix product (see
    the module docstring, which also explains the output's memory layout).
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, padding=0,
                 bias=True, rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, rng,
                         dtype, transposed=False)

    def output_size(self, H, W):
        """(OH, OW) for an H x W input; a ValueError saying what would fit if there is none."""
        (kh, kw), s, p = self.kernel_size, self.stride, self.padding
        out = []
        for size, k, what in ((H, kh, "height"), (W, kw, "width")):
            if size + 2 * p < k:
                raise ValueError(f"{self.name}: kernel {what} {k} is larger than the padded "
                                 f"input {what} {size} + 2*{p} = {size + 2 * p}")
            r = (size + 2 * p - k) % s
            if r:
                fits = " or ".join(str(n) for n in (size - r, size - r + s) if n + 2 * p >= k)
                raise ValueError(
                    f"{self.name}: input {what} {size} gives ({size} + 2*{p} - {k}) / {s} + 1 "
                    f"= {(size + 2 * p - k) / s + 1:g} outputs, not a whole number; "
                    f"input {what}s {fits} would work (or change padding or stride)")
            out.append((size + 2 * p - k) // s + 1)
        return tuple(out)

    def forward(self, x):                        # x: (N, C, H, W) -> y: (N, F, OH, OW)
        """Caches (cols, x.shape, y.shape): backward needs the windows for dW, x's shape for
        dx, and y's to check dout."""
        self._check_input(x)
        N = x.shape[0]
        OH, OW = self.output_size(*x.shape[2:])
        F = self.out_channels
        cols = im2col(x, self.kernel_size, self.stride, self.padding)   # (C*kh*kw, OH*OW*N)
        y = self.weight.data.reshape(F, -1) @ cols                      # (F, OH*OW*N)
        if self.bias is not None:
            y += self.bias.data.reshape(F, 1)
        self.cache = (cols, x.shape, (N, F, OH, OW))
        return y.reshape(F, OH, OW, N).transpose(3, 0, 1, 2)           # (N, F, OH, OW), a view

    def backward(self, dout):                    # dout: (N, F, OH, OW) -> dx: (N, C, H, W)
        """Gradients. Forward is y = Wm @ cols + b, with Wm = W.reshape(F, C*kh*kw), a Linear
        layer applied to each window (column). So, as for Linear (dy = dout as (F, OH*OW*N)):

            dW    = dy @ cols.T        (F, C*kh*kw)   summed over every window and image
            db    = dy.sum(1)          (F,)           b is added at every output pixel
            dcols = Wm.T @ dy          (C*kh*kw, OH*OW*N)
            dx    = col2im(dcols)      (N, C, H, W)   each pixel gathers from every window
                                                      that copied it (im2col's adjoint)

        dW and db are added into ``.grad`` (skipped where ``requires_grad`` is False); dx is
        returned, or None inside ``without_input_grad``.
        """
        cols, x_shape, y_shape = self.pop_cache()
        F = self.out_channels
        self.check_dout(dout, y_shape)
        dy = dout.transpose(1, 2, 3, 0).reshape(F, -1)     # (F, OH*OW*N), a view if the
                                                            # layout is this layer's output's
        if self.weight.requires_grad:
            self.weight.grad += (dy @ cols.T).reshape(self.weight.shape)    # (F, C, kh, kw)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += dy.sum(axis=1)                                 # (F,)
        if not self.input_grad:
            return None
        dcols = self.weight.data.reshape(F, -1).T @ dy                      # (C*kh*kw, OH*OW*N)
        return col2im(dcols, x_shape, self.kernel_size, self.stride, self.padding)


class ConvTranspose2d(_Conv):
    """The transposed convolution ("deconvolution"): each input pixel stamps the kernel,
    scaled by its value, onto the output, s pixels apart; overlapping stamps add.

    x: (N, C_in, H, W) -> y: (N, C_out, OH, OW),  OH = (H - 1)s - 2p + kh + output_padding.

    Its forward is Conv2d's input gradient (W.T @ x, then col2im) and its input gradient is
    Conv2d's forward (im2col, then W @ dcols): the two layers share im2col and col2im. The
    weight is PyTorch's (C_in, C_out, kh, kw), initialized as PyTorch does: U(-k, k) with
    k = 1 / sqrt(C_out * kh * kw) (PyTorch takes the fan-in from weight.size(1)). padding
    p crops p rows and columns from each border; ``output_padding`` (< stride) adds rows and
    columns at the bottom and right, so that a stride-2 layer can double an odd size too.
    The plain loops are ``conv_reference.conv_transpose2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, padding=0,
                 output_padding=0, bias=True, rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, rng,
                         dtype, transposed=True)
        if not (whole(output_padding, 0) and output_padding < self.stride):
            raise ValueError(f"{self.name}: output_padding must be an int with 0 <= "
                             f"output_padding < stride = {self.stride}, got {output_padding!r}")
        self.output_padding = int(output_padding)

    def output_size(self, H, W):
        """(OH, OW) for an H x W input; a ValueError if the padding leaves nothing."""
        (kh, kw), s, p, op = self.kernel_size, self.stride, self.padding, self.output_padding
        OH, OW = (H - 1) * s - 2 * p + kh + op, (W - 1) * s - 2 * p + kw + op
        if OH < 1 or OW < 1:
            raise ValueError(f"{self.name}: an input of {H}x{W} gives an output of {OH}x{OW} "
                             f"((H - 1)*{s} - 2*{p} + k + {op}); use less padding")
        return OH, OW

    def forward(self, x):                        # x: (N, C_in, H, W) -> y: (N, C_out, OH, OW)
        """Caches (x as a (C_in, H*W*N) matrix, x.shape, y.shape): dW needs x, dx its shape,
        and y's checks dout."""
        self._check_input(x)
        N, C_in, H, W = x.shape
        OH, OW = self.output_size(H, W)
        x_mat = x.transpose(1, 2, 3, 0).reshape(C_in, -1)      # (C_in, H*W*N); a view from a conv
        cols = self.weight.data.reshape(C_in, -1).T @ x_mat      # (C_out*kh*kw, H*W*N)
        y = col2im(cols, (N, self.out_channels, OH, OW), self.kernel_size, self.stride,
                   self.padding)                                 # (N, C_out, OH, OW)
        if self.bias is not None:
            y += self.bias.data.reshape(1, -1, 1, 1)
        self.cache = (x_mat, x.shape, y.shape)
        return y

    def backward(self, dout):                    # dout: (N, C_out, OH, OW) -> dx: (N, C_in, H, W)
        """Gradients. Forward is y = col2im(Wm.T @ x) + b with Wm = W.reshape(C_in, -1), and
        im2col is col2im's adjoint, so (with dcols = im2col(dout), one column per input pixel):

            dcols = im2col(dout)       (C_out*kh*kw, H*W*N)   the window each pixel stamped
            dW    = x @ dcols.T        (C_in, C_out*kh*kw)
            db    = dout.sum((0, 2, 3))  (C_out,)
            dx    = Wm @ dcols         (C_in, H*W*N)          a convolution of dout with W

        dW and db are added into ``.grad`` (skipped where ``requires_grad`` is False); dx is
        returned, or None inside ``without_input_grad``.
        """
        x_mat, (N, C_in, H, W), y_shape = self.pop_cache()
        self.check_dout(dout, y_shape)
        # im2col's floor((OH + 2p - kh) / s) + 1 is exactly H here, since output_padding < s
        dcols = im2col(dout, self.kernel_size, self.stride, self.padding)  # (C_out*kh*kw, H*W*N)
        if self.weight.requires_grad:
            self.weight.grad += (x_mat @ dcols.T).reshape(self.weight.shape) # (C_in, C_out, kh, kw)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += dout.sum(axis=(0, 2, 3))                   # (C_out,)
        if not self.input_grad:
            return None
        dx = self.weight.data.reshape(C_in, -1) @ dcols                 # (C_in, H*W*N)
        return dx.reshape(C_in, H, W, N).transpose(3, 0, 1, 2)          # (N, C_in, H, W)

    def extra_repr(self):
        return super().extra_repr() + f", output_padding={self.output_padding}"
