"""Optimizers, in order of complexity: SGD, RMSprop, Adam.

Each holds the list of Parameters it updates and per-parameter state in lists parallel to it
(tinygrad's layout). ``step()`` is the only code in npgan that changes a weight; it updates
``p.data`` in place from ``p.grad``. Hyperparameter defaults are PyTorch's.
"""

import numpy as np

from npgan.backend import get_array_module


class Optimizer:
    """Base: holds ``params`` (a list of Parameters) and the names of its state lists."""

    state_names = ()

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be > 0, got {lr}")
        self.lr = lr
        self.t = 0                                          # steps taken

    def zeros(self):
        """One zero array per parameter, of its shape, dtype and array module."""
        return [get_array_module(p.data).zeros_like(p.data) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        raise NotImplementedError

    def state_dict(self):
        """``{"t": array, "<state>.<i>": array}`` for every state list (arrays, not copies)."""
        state = {"t": np.asarray(self.t)}
        for name in self.state_names:
            for i, a in enumerate(getattr(self, name)):
                state[f"{name}.{i}"] = a
        return state

    def load_state_dict(self, state):
        """Copy a ``state_dict()`` back in place; keys and shapes must match."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for k, target in own.items():
            if k == "t":
                continue
            if tuple(state[k].shape) != target.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {k} has shape "
                                 f"{tuple(state[k].shape)}, expected {target.shape}")
            target[...] = get_array_module(target).asarray(state[k], dtype=target.dtype)
        self.t = int(state["t"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (PyTorch's form).

        v <- momentum * v + g
        w <- w - lr * v             (with momentum = 0: w <- w - lr * g)
    """

    state_names = ("velocity",)

    def __init__(self, params, lr=0.01, momentum=0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.velocity = self.zeros()

    def step(self):
        self.t += 1
        for p, v in zip(self.params, self.velocity):
            v *= self.momentum
            v += p.grad
            p.data -= self.lr * v


class RMSprop(Optimizer):
    """RMSprop: divide the step by a running root-mean-square of recent gradients.

        s <- alpha * s + (1 - alpha) * g^2
        u  = g / (sqrt(s) + eps)
        b <- momentum * b + u       (only when momentum > 0; else b = u)
        w <- w - lr * b
    """

    state_names = ("square_avg", "buf")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0):
        super().__init__(params, lr)
        if not 0 <= alpha < 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1), got {alpha}")
        if not 0 <= momentum < 1:
            raise ValueError(f"RMSprop: momentum must be in [0, 1), got {momentum}")
        self.alpha, self.eps, self.momentum = alpha, eps, momentum
        self.square_avg = self.zeros()
        self.buf = self.zeros()

    def step(self):
        self.t += 1
        for p, s, b in zip(self.params, self.square_avg, self.buf):
            xp = get_array_module(p.data)
            s *= self.alpha
            s += (1 - self.alpha) * p.grad * p.grad
            u = p.grad / (xp.sqrt(s) + self.eps)
            if self.momentum:
                b *= self.momentum
                b += u
                u = b
            p.data -= self.lr * u


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum on g and on g^2, with bias correction.

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)       v_hat = v / (1 - beta2^t)     (t = 1, 2, ...)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at 0, so early averages are biased toward 0; dividing by (1 - beta^t)
    undoes that. GANs usually take lr = 2e-4 and betas = (0.5, 0.999) (DCGAN).
    """

    state_names = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        for b in betas:
            if not 0 <= b < 1:
                raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.m = self.zeros()
        self.v = self.zeros()

    def step(self):
        self.t += 1
        c1 = 1 - self.beta1 ** self.t                       # bias corrections
        c2 = 1 - self.beta2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            xp = get_array_module(p.data)
            m *= self.beta1
            m += (1 - self.beta1) * p.grad
            v *= self.beta2
            v += (1 - self.beta2) * p.grad * p.grad
            p.data -= (self.lr / c1) * m / (xp.sqrt(v / c2) + self.eps)
