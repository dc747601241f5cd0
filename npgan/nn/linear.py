"""The fully connected layer: the first file to read in npgan."""

from contextlib import contextmanager

import numpy as np

from npgan.nn.module import Module, Parameter


class Linear(Module):
    """y = x @ W + b.    x: (N, in_features) -> y: (N, out_features).

    W is stored as (in_features, out_features), so forward is one matrix product with no
    transpose. Initialization is PyTorch's default: W and b ~ U(-k, k) with
    k = 1 / sqrt(in_features), drawn from ``rng`` (a ``np.random.Generator``) so that a seed
    reproduces them. Parameters have ``dtype`` (float32 for training, float64 for gradient
    checks), and inputs must have the same dtype: nothing is silently upcast.
    """

    def __init__(self, in_features, out_features, *, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        rng = np.random.default_rng() if rng is None else rng
        self.in_features, self.out_features = in_features, out_features
        k = 1.0 / np.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-k, k, (in_features, out_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-k, k, out_features).astype(dtype)) if bias else None
        self.input_grad = True              # False inside without_input_grad()

    def forward(self, x):                    # x: (N, in) -> (N, out)
        self._check_input(x)
        self.cache = x                       # cache: the input x, for dW = x.T @ dout
        y = x @ self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, dout):                # dout: (N, out) -> dx: (N, in)
        """Gradients, with y = x @ W + b summed into a scalar loss L:

            dW = x.T @ dout        (in, out)    each weight W[i, j] meets x[:, i] and dout[:, j]
            db = dout.sum(0)       (out,)       b is added to every row
            dx = dout @ W.T        (N, in)      each x[n, i] reaches every output j through W[i, j]

        dW and db are added into ``.grad`` (skipped for a parameter whose ``requires_grad`` is
        False); dx is returned (None inside ``without_input_grad``).
        """
        x = self.pop_cache()
        if self.weight.requires_grad:
            if not self.weight.zero_pending:
                self.weight.grad += x.T @ dout                  # dW = x.T @ dout     (in, out)
            else:
                # Fast path, after an optimizer's lazy zero_grad (GANTrainer's fast step):
                # the same product written straight into .grad, with no zeroing pass, no
                # temporary and no addition (see Parameter.zero_grad).
                self.weight.matmul_into_grad(x.T, dout)
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += dout.sum(axis=0)                  # db = dout.sum(0)    (out,)
        if not self.input_grad:
            return None                                         # see without_input_grad
        if self.out_features == 1:
            # Fast beside, for a discriminator's last layer: with one output, dout @ W.T is an
            # outer product, (N, 1) @ (1, in), whose every entry is a single product, so the
            # broadcast dout * W.T has the same values (a zero product may come out as -0.0
            # instead of 0.0, which no later sum can tell apart). OpenBLAS runs this shape at
            # 2 GFLOPS: at the DCGAN's (64, 6272), 0.42 ms a call against 0.03 ms, three calls
            # a step.
            return dout * self.weight.data.T                    # (N, 1) * (1, in) -> (N, in)
        return dout @ self.weight.data.T                        # dx = dout @ W.T     (N, in)

    @contextmanager
    def without_input_grad(self):
        """Within this block, backward computes dW and db but returns None instead of dx.

        For a network's first layer when its input is data, as D's images are in the D step:
        nothing uses dL/dx there, and it is one of the layer's three matrix products. (The
        opposite of ``npgan.nn.input_grad_only``, which keeps dx and skips the parameters.)
        """
        saved, self.input_grad = self.input_grad, False
        try:
            yield self
        finally:
            self.input_grad = saved

    def _check_input(self, x):
        name = f"Linear({self.in_features} -> {self.out_features})"
        if getattr(x, "ndim", 0) != 2:
            raise ValueError(f"{name} expects a 2-D input of shape (N, {self.in_features}), "
                             f"got shape {getattr(x, 'shape', type(x).__name__)}; "
                             "add a batch axis with x[None] for a single example")
        if x.shape[1] != self.in_features:
            raise ValueError(f"{name} expects {self.in_features} input features, got "
                             f"{x.shape[1]} (input shape {x.shape})")
        if x.dtype != self.weight.data.dtype:
            raise TypeError(f"{name} has {self.weight.data.dtype} weights but got "
                            f"{x.dtype} input; convert the input with "
                            f".astype({self.weight.data.dtype}) (npgan never upcasts silently)")

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
