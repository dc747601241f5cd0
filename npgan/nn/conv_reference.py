"""Convolution as plain loops: read this before conv.py.

These functions compute a convolution, a transposed convolution and their gradients one
output (or input) pixel at a time, the way the formulas are written. They are slow, and
exist to be read and to be the oracle: tests/test_conv.py checks that the fast layers in
conv.py (im2col + one matrix product) give the same numbers. NumPy only, float64 in tests.

Shapes: x (N, C, H, W); a convolution's weight w is (F, C, kh, kw); a transposed
convolution's is (C_in, C_out, kh, kw), as in PyTorch; s is the stride, p the padding.
"""

import numpy as np


def pad(x, p):
    """Zeros around each image: (N, C, H, W) -> (N, C, H + 2p, W + 2p)."""
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv2d(x, w, b=None, stride=1, padding=0):
    """y[n, f, i, j] = b[f] + sum(w[f] * window),  window = x_pad[n, :, i*s : i*s + kh,
    j*s : j*s + kw], the (C, kh, kw) block under the kernel.   -> y: (N, F, OH, OW)."""
    s, x_pad = stride, pad(x, padding)
    N, F, (_, _, kh, kw) = x.shape[0], w.shape[0], w.shape
    OH, OW = (x_pad.shape[2] - kh) // s + 1, (x_pad.shape[3] - kw) // s + 1
    y = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = x_pad[n, :, i * s:i * s + kh, j * s:j * s + kw]
                    y[n, f, i, j] = np.sum(window * w[f]) + (0 if b is None else b[f])
    return y


def conv2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of conv2d, given dout = dL/dy: (N, F, OH, OW). Returns dx, dw, db.

    Output y[n, f, i, j] was sum(window * w[f]) + b[f], so it sends dout[n, f, i, j] back as
        dw[f]    += dout[n, f, i, j] * window     (every weight met its pixel of the window)
        dx[window] += dout[n, f, i, j] * w[f]     (every pixel of the window met its weight)
        db[f]    += dout[n, f, i, j]
    """
    s, p, x_pad = stride, padding, pad(x, padding)
    N, F, OH, OW = dout.shape
    kh, kw = w.shape[2:]
    dx_pad, dw, db = np.zeros(x_pad.shape), np.zeros(w.shape), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    rows, cols = slice(i * s, i * s + kh), slice(j * s, j * s + kw)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
                    db[f] += dout[n, f, i, j]
    H, W = x.shape[2:]
    return dx_pad[:, :, p:p + H, p:p + W], dw, db


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Each input pixel x[n, c, i, j] adds the kernel w[c] (C_out, kh, kw), times its value,
    onto the output at rows i*s ..., columns j*s ...; then p rows and columns are cut from
    each border. OH = (H - 1)s - 2p + kh + output_padding: output_padding keeps that many
    more rows and columns at the bottom and right (with p = 0 they get only the bias; with
    p > 0 the first p of them are stamped rows that the crop would otherwise have cut).
    -> y: (N, C_out, OH, OW)."""
    s, p = stride, padding
    N, C_in, H, W = x.shape
    C_out, kh, kw = w.shape[1:]
    OH, OW = (H - 1) * s - 2 * p + kh + output_padding, (W - 1) * s - 2 * p + kw + output_padding
    y_pad = np.zeros((N, C_out, OH + 2 * p, OW + 2 * p))
    for n in range(N):
        for c in range(C_in):
            for i in range(H):
                for j in range(W):
                    y_pad[n, :, i * s:i * s + kh, j * s:j * s + kw] += x[n, c, i, j] * w[c]
    y = y_pad[:, :, p:p + OH, p:p + OW]
    return y if b is None else y + b.reshape(1, C_out, 1, 1)


def conv_transpose2d_backward(dout, x, w, stride=1, padding=0):
    """Gradients of conv_transpose2d, given dout: (N, C_out, OH, OW). Returns dx, dw, db.

    x[n, c, i, j] added itself times w[c] onto a window of the output, so
        dx[n, c, i, j] = sum(dout_window * w[c])    (a convolution of dout with w)
        dw[c]         += x[n, c, i, j] * dout_window
    with dout_window = dout_pad[n, :, i*s : i*s + kh, j*s : j*s + kw], and db sums dout.
    """
    s, dout_pad = stride, pad(dout, padding)
    N, C_in, H, W = x.shape
    kh, kw = w.shape[2:]
    dx, dw = np.zeros(x.shape), np.zeros(w.shape)
    for n in range(N):
        for c in range(C_in):
            for i in range(H):
                for j in range(W):
                    window = dout_pad[n, :, i * s:i * s + kh, j * s:j * s + kw]
                    dx[n, c, i, j] = np.sum(window * w[c])
                    dw[c] += x[n, c, i, j] * window
    return dx, dw, dout.sum(axis=(0, 2, 3))
