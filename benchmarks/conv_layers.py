"""Time each conv layer of the 28x28 DCGAN against its bare matrix products.

    python benchmarks/conv_layers.py                           # batch 64, float32
    OPENBLAS_NUM_THREADS=1 python benchmarks/conv_layers.py    # one core

For each layer: forward, backward (dW, db and dx), backward with dx skipped
(``without_input_grad``), each beside its floor: the same matrix products alone, on
ready-made contiguous operands (no im2col, col2im, padding or transposes). The difference is
what the layer adds to its products. Milliseconds, medians of --repeats calls.
"""

import argparse
import os
import time

import numpy as np

from npgan.nn import Conv2d, ConvTranspose2d

LAYERS = {   # name: (layer class, args, input shape without N)
    "D conv1  Conv2d 1->64 k4 s2 p1, 28->14": (Conv2d, (1, 64), (1, 28, 28)),
    "D conv2  Conv2d 64->128 k4 s2 p1, 14->7": (Conv2d, (64, 128), (64, 14, 14)),
    "G convT1 ConvT 128->64 k4 s2 p1, 7->14": (ConvTranspose2d, (128, 64), (128, 7, 7)),
    "G convT2 ConvT 64->1 k4 s2 p1, 14->28": (ConvTranspose2d, (64, 1), (64, 14, 14)),
}


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def matmul_floor(layer, x, dout, repeats):
    """The layer's three products, (forward, dW, dx), on contiguous operands of their shapes."""
    rng, dt = np.random.default_rng(0), x.dtype
    w = layer.weight.data.reshape(layer.weight.shape[0], -1)   # (F, C*k*k) or (C_in, C_out*k*k)
    if isinstance(layer, Conv2d):
        cols = rng.standard_normal((w.shape[1], dout.size // w.shape[0])).astype(dt)
        dy = rng.standard_normal((w.shape[0], cols.shape[1])).astype(dt)
        products = (lambda: w @ cols, lambda: dy @ cols.T, lambda: w.T @ dy)
    else:
        x_mat = rng.standard_normal((w.shape[0], x.size // w.shape[0])).astype(dt)
        dcols = rng.standard_normal((w.shape[1], x_mat.shape[1])).astype(dt)
        products = (lambda: w.T @ x_mat, lambda: x_mat @ dcols.T, lambda: w @ dcols)
    return [median_ms(p, repeats) for p in products]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"batch {args.batch}, float32, OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; ms, medians of {args.repeats} calls")
    print(f"{'layer':<42} {'fwd':>6} {'floor':>6} {'bwd':>6} {'floor':>6} {'bwd-dx':>7} "
          f"{'floor':>6}")
    for name, (cls, channels, shape) in LAYERS.items():
        layer = cls(*channels, 4, stride=2, padding=1, rng=rng)
        x = rng.standard_normal((args.batch,) + shape).astype(np.float32)
        y = layer(x)
        dout = y * 0 + rng.standard_normal(y.shape).astype(np.float32)   # y's memory layout

        def backward():
            layer(x)
            layer.backward(dout)

        def backward_without_dx():
            layer(x)
            with layer.without_input_grad():
                layer.backward(dout)

        fwd = median_ms(lambda: layer(x), args.repeats)
        bwd = median_ms(backward, args.repeats) - fwd
        bwd_w = median_ms(backward_without_dx, args.repeats) - fwd
        f_fwd, f_dw, f_dx = matmul_floor(layer, x, y, args.repeats)
        print(f"{name:<42} {fwd:6.2f} {f_fwd:6.2f} {bwd:6.2f} {f_dw + f_dx:6.2f} "
              f"{bwd_w:7.2f} {f_dw:6.2f}")


if __name__ == "__main__":
    main()
