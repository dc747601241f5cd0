"""Batch normalization over the batch axis of (N, D) activations."""

import numpy as np

from npgan.backend import get_array_module
from npgan.nn.module import Module, Parameter


class BatchNorm1d(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.   x, y: (N, D).

    Training mode normalizes with the batch's own mean and (biased) variance and updates the
    running statistics; eval mode uses the running statistics. ``momentum`` follows PyTorch:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    ``eps`` and ``momentum`` are keyword-only, so ``BatchNorm1d(256, 0.8)`` cannot set eps by
    accident (a bug in PyTorch-GAN's gan.py). gamma starts at 1 and beta at 0.
    """

    buffers = ("running_mean", "running_var")

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be > 0, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.gamma = Parameter(np.ones(num_features, dtype=dtype))
        self.beta = Parameter(np.zeros(num_features, dtype=dtype))
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def forward(self, x):                    # x: (N, D) -> (N, D)
        xp = get_array_module(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects input of shape "
                             f"(N, {self.num_features}), got {x.shape}")
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError("BatchNorm1d in training mode needs a batch of at least 2 "
                                 f"(got {n}): the variance of one example is 0; call .eval() "
                                 "to use the running statistics instead")
            mean = x.mean(axis=0)
            xc = x - mean                               # centred, (N, D)
            var = (xc * xc).mean(axis=0)                # biased variance, reusing x - mean
            m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += (m * n / (n - 1)) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        inv_std = 1 / xp.sqrt(var + self.eps)           # (D,)
        x_hat = xc * inv_std                            # (x - mean) / sqrt(var + eps)
        self.cache = (x_hat, inv_std, self.training)
        y = self.gamma.data * x_hat
        y += self.beta.data
        return y

    def backward(self, dout):                # dout: (N, D) -> dx: (N, D)
        """Gradients of the forward that ran.

            dbeta = sum_n dout        dgamma = sum_n dout * x_hat        g = dout * gamma

        Eval mode: mean and var are constants, so dx = g * inv_std.

        Training mode: mean and var depend on every x in the batch. With
        x_hat = (x - mean) * inv_std, mean = sum(x)/N, var = sum((x - mean)^2)/N:
            dx_hat/dx_k    = inv_std * (delta - 1/N)  -  x_hat * inv_std * x_hat_k / N
        (the first term from x and the mean, the second from the variance). Summing over
        the batch with weights g:
            dx = inv_std / N * (N * g - sum_n g - x_hat * sum_n (g * x_hat))
        and since sum_n g = gamma * dbeta and sum_n g * x_hat = gamma * dgamma:
            dx = gamma * inv_std / N * (N * dout - dbeta - x_hat * dgamma)
        which reuses the two parameter gradients (8 passes over (N, D) arrays instead of 12).
        Forgetting the variance term (x_hat * dgamma) is the classic bug; the tests catch it.
        """
        x_hat, inv_std, training = self.pop_cache()
        dbeta = dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=0)
        if self.gamma.requires_grad:
            self.gamma.grad += dgamma
        if self.beta.requires_grad:
            self.beta.grad += dbeta
        if not training:
            return dout * (self.gamma.data * inv_std)
        n = dout.shape[0]
        dx = n * dout - dbeta - x_hat * dgamma
        dx *= self.gamma.data * inv_std / n
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
