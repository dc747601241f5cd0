"""Batch normalization: BatchNorm1d for (N, D) activations, BatchNorm2d for (N, C, H, W) images.

Both are the same layer. Each feature (a column of an (N, D) batch, a channel of an image batch)
is normalized with the mean and variance of all its values in the batch: the N rows for
BatchNorm1d, the N * H * W pixels for BatchNorm2d. So the one class ``_BatchNorm`` holds all
the code, parametrized by the axes it reduces over, and in the derivation (see
``_BatchNorm.backward``) "N" is the number of values each feature is normalized over.
"""

import numpy as np

from npgan.backend import get_array_module
from npgan.nn.module import Module, Parameter


class _BatchNorm(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature (the code both layers share).

    Training mode normalizes with the batch's own mean and (biased) variance and updates the
    running statistics; eval mode uses the running statistics. ``momentum`` follows PyTorch:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance
    (var * N / (N - 1), N the number of values per feature). ``eps`` and ``momentum`` are
    keyword-only, so ``BatchNorm1d(256, 0.8)`` cannot set eps by accident (a bug in PyTorch-GAN's
    gan.py). gamma starts at 1 and beta at 0.

    ``staged=True`` computes the gradient node by node through the forward's computational graph
    (``backward_staged``, the reference to read first); the default, ``staged=False``, uses the
    simplified formula (``backward_simplified``, the fast path). Both give the same gradients to
    rounding. Choose before a forward: the two cache different things.

    A subclass sets ``axes``, the input axes reduced over (always the batch axis 0, then any pixel
    axes), and ``input_shape``, the input shape it describes in errors.
    """

    buffers = ("running_mean", "running_var")
    axes = ()            # e.g. (0,) for (N, D); (0, 2, 3) for (N, C, H, W)
    input_shape = ""     # e.g. "(N, {C})", for error messages

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1, dtype=np.float32, staged=False):
        super().__init__()
        name = type(self).__name__
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.staged = staged
        self.gamma = Parameter(np.ones(num_features, dtype=dtype))
        self.beta = Parameter(np.zeros(num_features, dtype=dtype))
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        # Per-feature arrays (C,) are viewed as (1, C) or (1, C, 1, 1) to broadcast against x.
        self.feature_shape = (1, num_features) + (1,) * (len(self.axes) - 1)

    # -- helpers -------------------------------------------------------------------------
    def per_feature(self, a):                # (C,) -> (1, C) or (1, C, 1, 1), a view
        return a.reshape(self.feature_shape)

    def feature_sum(self, a):                # (N, C, ...) -> (1, C, 1, ...)
        """The sum over self.axes: every value of each feature."""
        if len(self.axes) == 1 or a.strides[0] <= a.strides[-1]:     # rows, or batch last
            return a.sum(axis=self.axes, keepdims=True)
        return self.feature_sum_c_order(a)              # fast beside, for images in C order

    def feature_sum_c_order(self, a):
        """Fast beside, for (N, C, H, W) images stored in C order: summed over the batch axis
        first, adding whole contiguous (C, H, W) slabs, then over the pixels; one sum over
        (0, 2, 3) would walk the short pixel rows one at a time. A convolution's output keeps
        the batch axis last in memory (conv.py), and there the one sum is the faster.
        Measured on this project's 2-core machine, 2026-12-07, one thread, median of 300 calls,
        one sum against this one: C order (64, 64, 14, 14) 0.166 -> 0.063 ms, (64, 128, 7, 7)
        0.166 -> 0.030 ms; batch last 0.113 against 0.276 ms and 0.057 against 0.138 ms
        (until that day this one served both). Sums in another order, so the last bits can
        differ (tests/test_batchnorm.py)."""
        return a.sum(axis=0, keepdims=True).sum(axis=self.axes[1:], keepdims=True)

    def check_input(self, x):
        """Raise a ValueError naming the layer if x has the wrong rank or feature count; return
        N, the number of values each feature is normalized over."""
        if getattr(x, "ndim", None) is None:
            raise TypeError(f"{type(self).__name__}({self.num_features}) expects an array, got "
                            f"{type(x).__name__}")
        if x.ndim != len(self.feature_shape) or x.shape[1] != self.num_features:
            shape = self.input_shape.format(C=self.num_features)
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects input of shape "
                             f"{shape}, got {tuple(x.shape)}" + self.shape_hint(x))
        return x.size // self.num_features

    def shape_hint(self, x):
        return ""

    def too_few_values(self, x, n):
        return (f"{type(self).__name__} in training mode needs at least 2 values per feature "
                f"(got {n})")

    # -- forward and backward -----------------------------------------------------------
    def forward(self, x):                    # x: (N, C) or (N, C, H, W) -> y: the same shape
        """cache: (x_hat, inv_std, training); staged: (xc, x_hat, inv_std, training).
        x_hat, xc: x's shape; inv_std: (1, C) or (1, C, 1, 1)."""
        xp = get_array_module(x)
        n = self.check_input(x)              # values per feature: N, or N*H*W
        if self.training:
            if n < 2:
                raise ValueError(self.too_few_values(x, n) + ": the variance of one value is "
                                 "0; call .eval() to use the running statistics instead")
            mean = self.feature_sum(x) / n                  # (1, C, ...)
            xc = x - mean                                   # centred, x's shape
            var = self.feature_sum(xc * xc) / n             # biased variance, reusing x - mean
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean.reshape(-1)
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var.reshape(-1)   # unbiased
        else:
            xc = x - self.per_feature(self.running_mean)
            var = self.per_feature(self.running_var)
        inv_std = 1 / xp.sqrt(var + self.eps)               # (1, C, ...)
        x_hat = xc * inv_std                                # (x - mean) / sqrt(var + eps)
        if self.staged:
            self.cache = (xc, x_hat, inv_std, self.training)
        else:
            self.cache = (x_hat, inv_std, self.training)
        y = self.per_feature(self.gamma.data) * x_hat
        y += self.per_feature(self.beta.data)
        return y

    def backward(self, dout):                # dout: x's shape -> dx: x's shape
        """Gradients of the forward that ran: staged (node by node) or simplified (fast).

        Features never interact, so take one feature and drop its index. Symbols:

            N          the number of values the feature is normalized over: the batch size
                       for BatchNorm1d, N * H * W (batch times pixels) for BatchNorm2d
            n          runs over those values, n = 1 .. N (a row; for images a (row, pixel))
            k          the value whose gradient dL/dx_k we take
            delta_nk   the Kronecker delta: 1 if n == k, else 0 (so dx_n/dx_k = delta_nk)
            g_n        dL/dy_n, the upstream gradient dout

        Forward, node by node (the staged backward walks these in reverse):

            mean    = (1/N) sum_n x_n
            xc_n    = x_n - mean                           centred
            var     = (1/N) sum_n xc_n^2                   biased
            inv_std = (var + eps)^(-1/2)
            x_hat_n = xc_n * inv_std
            y_n     = gamma * x_hat_n + beta

        Parameters (y is linear in both):

            dbeta  = sum_n g_n                 dgamma = sum_n g_n * x_hat_n

        Eval mode: mean and var are the running statistics, constants, so only the x_hat node
        depends on x:   dx_k = gamma * inv_std * g_k.

        Training mode: mean and var depend on every x_n. Chain rule, from the output back:

        1. dL/dx_hat_n = gamma * g_n                                    (call it dx_hat_n)

        2. var reaches L only through inv_std, which multiplies every x_hat_n:
               dL/dinv_std = sum_n dx_hat_n * xc_n
               d inv_std / d var = -1/2 (var + eps)^(-3/2) = -1/2 inv_std^3
               dL/dvar = -1/2 inv_std^3 * sum_n dx_hat_n * xc_n

        3. Each xc_n reaches L through x_hat_n and through var (d var / d xc_n = 2 xc_n / N):
               dL/dxc_n = dx_hat_n * inv_std + dL/dvar * 2 xc_n / N
           mean reaches L through every xc_n (d xc_n / d mean = -1):
               dL/dmean = -sum_n dL/dxc_n
                        = -inv_std * sum_n dx_hat_n - dL/dvar * (2/N) sum_n xc_n
                        = -inv_std * sum_n dx_hat_n          (deviations sum to 0: sum_n xc_n = 0)

        4. x_k reaches L through xc_k (d xc_n / d x_k = delta_nk) and through mean
           (d mean / d x_k = 1/N):
               dL/dx_k = sum_n dL/dxc_n * delta_nk + dL/dmean / N
                       = dx_hat_k * inv_std + dL/dvar * 2 xc_k / N + dL/dmean / N

        5. Simplify. Write xc through x_hat (xc_n = x_hat_n / inv_std) and take out inv_std / N:
               dx_hat_k * inv_std      =  inv_std / N * N * dx_hat_k
               dL/dvar * 2 xc_k / N    = -1/2 inv_std^3 * (sum_n dx_hat_n * x_hat_n) / inv_std
                                             * 2 x_hat_k / (inv_std * N)
                                       = -inv_std / N * x_hat_k * sum_n dx_hat_n * x_hat_n
               dL/dmean / N            = -inv_std / N * sum_n dx_hat_n
           so
               dL/dx_k = inv_std / N * (N * dx_hat_k - sum_n dx_hat_n
                                        - x_hat_k * sum_n dx_hat_n * x_hat_n)
           The two sums are the parameter gradients times gamma (dx_hat_n = gamma * g_n):
           sum_n dx_hat_n = gamma * dbeta and sum_n dx_hat_n * x_hat_n = gamma * dgamma. So

               dx = gamma * inv_std / N * (N * dout - dbeta - x_hat * dgamma)

        Forgetting the variance term (x_hat * dgamma) is the classic bug; the tests catch it.
        """
        if self.cache is not None and len(self.cache) != (4 if self.staged else 3):
            raise RuntimeError(f"{type(self).__name__}: staged was changed between forward and "
                               "backward; the two backwards need different caches, so set it "
                               "before the forward")
        if self.staged:
            return self.backward_staged(dout)
        return self.backward_simplified(dout)

    def add_parameter_grads(self, dbeta, dgamma):        # both (1, C, ...)
        if self.gamma.requires_grad:
            self.gamma.grad += dgamma.reshape(-1)
        if self.beta.requires_grad:
            self.beta.grad += dbeta.reshape(-1)

    def backward_staged(self, dout):
        """The reference: steps 1-4 of ``backward``'s derivation, one graph node at a time."""
        xc, x_hat, inv_std, training = self.pop_cache()
        gamma = self.per_feature(self.gamma.data)
        dbeta = self.feature_sum(dout)                     # y = gamma * x_hat + beta
        dgamma = self.feature_sum(dout * x_hat)
        self.add_parameter_grads(dbeta, dgamma)
        dx_hat = dout * gamma                              # 1.
        dxc = dx_hat * inv_std                             # x_hat = xc * inv_std, via xc
        if not training:
            return dxc                                     # eval: xc = x - constant, dx = dxc
        n = x_hat.size // self.num_features                # values per feature
        dinv_std = self.feature_sum(dx_hat * xc)           # 2. ... and via inv_std  (1, C, ...)
        dvar = -0.5 * inv_std ** 3 * dinv_std              #    inv_std = (var + eps)^(-1/2)
        dxc += dvar * 2 * xc / n                           # 3. var = sum(xc^2) / N   x's shape
        dmean = -self.feature_sum(dxc)                     #    xc = x - mean, via mean  (1, C, ...)
        return dxc + dmean / n                             # 4. ... and via x; mean = sum(x) / N

    def backward_simplified(self, dout):
        """The fast path: step 5's one formula, reusing dbeta and dgamma.

        It exists because the staged backward makes 12 passes over x-sized arrays (and its cache
        keeps xc as well as x_hat); this one makes 7. Backward alone, float32, one BLAS thread,
        median of 400 interleaved calls (each after a forward), staged -> simplified:
            BatchNorm1d (64, 1024)          0.32 ms -> 0.077 ms   (4.2x)
            BatchNorm1d (128, 512)          0.33 ms -> 0.087 ms   (3.8x)
            BatchNorm2d (64, 64, 14, 14)    5.1 ms  -> 1.9 ms     (2.7x)
            BatchNorm2d (64, 128, 7, 7)     1.57 ms -> 0.88 ms    (1.8x)
        """
        x_hat, inv_std, training = self.pop_cache()
        gamma = self.per_feature(self.gamma.data)
        dbeta = self.feature_sum(dout)
        dgamma = self.feature_sum(dout * x_hat)
        self.add_parameter_grads(dbeta, dgamma)
        if not training:
            return dout * (gamma * inv_std)
        # Step 5's formula with the 1/N moved inside: gamma * inv_std * (dout - dbeta / N -
        # x_hat * dgamma / N), so dbeta / N and dgamma / N are (1, C) arrays: 4 passes, not 5.
        n = x_hat.size // self.num_features                # values per feature
        dx = dout - dbeta / n
        dx -= x_hat * (dgamma / n)
        dx *= gamma * inv_std
        return dx

    def extra_repr(self):
        staged = ", staged=True" if self.staged else ""
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}{staged}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, D) activations: each of the D features over the N rows.

    x, y: (N, D). gamma, beta, running_mean, running_var: (D,). See ``_BatchNorm``.
    """

    axes = (0,)
    input_shape = "(N, {C})"

    def too_few_values(self, x, n):
        return f"BatchNorm1d in training mode needs a batch of at least 2 (got {n})"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images: each channel over all N * H * W of its values.

    x, y: (N, C, H, W). gamma, beta, running_mean, running_var: (C,). The same code as
    BatchNorm1d (see ``_BatchNorm``) with N * H * W in place of N; BatchNorm2d(C)(x) equals
    BatchNorm1d(C) applied to x.transpose(0, 2, 3, 1).reshape(-1, C), with no transposes.
    """

    axes = (0, 2, 3)
    input_shape = "(N, {C}, H, W)"

    def shape_hint(self, x):
        if x.ndim == 2:
            return "; for (N, D) activations use BatchNorm1d"
        if x.ndim == 4:
            return f": {x.shape[1]} channels, not {self.num_features}"
        return ""

    def too_few_values(self, x, n):
        return (f"BatchNorm2d in training mode needs at least 2 values per channel "
                f"(N * H * W), got {n} from an input of shape {tuple(x.shape)}")
