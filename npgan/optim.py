"""Optimizers, in order of complexity: SGD, RMSprop, Adam.

``step()`` is the only code in npgan that changes a weight. An optimizer first packs its
parameters into one contiguous buffer (``pack_parameters``: every ``p.data`` and ``p.grad``
becomes a view into it), so each update below is a handful of array operations over all
weights at once, written in place into reused scratch memory: no per-layer update code and no
large temporary arrays per step. Hyperparameter defaults are PyTorch's.

Speed: the update of the default GAN's 2M weights is ~12 element-wise passes, each over
arrays of 8 MB, which would stream from main memory on every pass. ``step()`` instead runs
``update`` on one chunk of 128K elements at a time (0.5 MB per array), so that after the first
pass the chunk's arrays are in cache. Measured on the default GAN (2 cores): the optimizer's
share of a training step fell from 9.7 to 7.8 ms. (Splitting the work over threads was tried
and measured slower: the BLAS threads already hold the other core; benchmarks/README.md.)
"""

import numpy as np

from npgan.backend import get_array_module, to_device
from npgan.nn.module import pack_parameters


CHUNK = 1 << 17                          # elements per update() call; see the module docstring


class Optimizer:
    """Base: packs ``params`` (a list of Parameters) and holds flat state of the same size.

    ``self.data`` and ``self.grad`` are the flat buffers behind every parameter; the state
    arrays named in ``state_names`` (momentum, moments) are flat arrays of the same size.
    Subclasses write ``update(i)``, the rule applied to the slice ``i`` of every flat array.
    ``step()`` calls it once per chunk, so a rule must be element-wise: one that needs a
    quantity over all weights (a gradient norm, for clipping) must compute it in ``step()``.
    Between ``zero_grad()`` and ``step()``, ``self.grad`` may hold stale values (zeroing is
    lazy, see ``Parameter``); read gradients through each ``p.grad``.
    """

    state_names = ()

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be > 0, got {lr}")
        self.lr = lr
        self.t = 0                                          # steps taken
        self.data, self.grad = pack_parameters(self.params)
        self.xp = get_array_module(self.data)
        self.tmp = self.xp.empty_like(self.data)            # scratch space for step()
        for name in self.state_names:
            setattr(self, name, self.xp.zeros_like(self.data))
        n = self.data.size
        # On a GPU, chunks would only add kernel launches: no CPU cache to fit.
        chunk = CHUNK if self.xp is np else n
        self.chunks = [slice(a, min(a + chunk, n)) for a in range(0, n, chunk)]

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()                                   # lazy: see Parameter

    def step(self):
        """Apply ``update`` to every chunk of the flat buffers."""
        self.t += 1
        for p in self.params:                               # a parameter no backward reached
            p.write_pending_zeros()                         # since zero_grad() has gradient 0
        for i in self.chunks:
            self.update(i)

    def update(self, i):
        raise NotImplementedError

    def state_dict(self):
        """``{"t": step count, <state name>: flat array}`` (arrays, not copies)."""
        return {"t": np.asarray(self.t), **{name: getattr(self, name) for name in self.state_names}}

    def load_state_dict(self, state):
        """Copy a ``state_dict()`` back in place; keys and shapes must match."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for name in self.state_names:
            target = own[name]
            if tuple(state[name].shape) != target.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has shape "
                                 f"{tuple(state[name].shape)}, expected {target.shape}")
            target[...] = to_device(state[name], self.xp).astype(target.dtype, copy=False)
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

    def update(self, i):
        v, tmp = self.velocity[i], self.tmp[i]
        v *= self.momentum
        v += self.grad[i]                                   # v = momentum * v + g
        self.xp.multiply(v, self.lr, out=tmp)
        self.data[i] -= tmp                                 # w -= lr * v


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

    def update(self, i):
        xp, g, s, tmp = self.xp, self.grad[i], self.square_avg[i], self.tmp[i]
        s *= self.alpha
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - self.alpha
        s += tmp                                            # s = alpha s + (1 - alpha) g^2
        xp.sqrt(s, out=tmp)
        tmp += self.eps
        xp.divide(g, tmp, out=tmp)                          # u = g / (sqrt(s) + eps)
        if self.momentum:
            b = self.buf[i]
            b *= self.momentum
            b += tmp                                        # b = momentum b + u
            xp.multiply(b, self.lr, out=tmp)
        else:
            tmp *= self.lr
        self.data[i] -= tmp                                 # w -= lr * b


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

    def update(self, i):
        xp, g, m, v, tmp = self.xp, self.grad[i], self.m[i], self.v[i], self.tmp[i]
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t         # bias corrections
        m *= b1
        xp.multiply(g, 1 - b1, out=tmp)
        m += tmp                                            # m = b1 m + (1 - b1) g
        v *= b2
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp                                            # v = b2 v + (1 - b2) g^2
        # lr * m_hat / (sqrt(v_hat) + eps) = (lr sqrt(c2) / c1) * m / (sqrt(v) + eps sqrt(c2)):
        # the same number, with one pass fewer. (Python floats keep float32 arrays float32.)
        xp.sqrt(v, out=tmp)
        tmp += self.eps * c2 ** 0.5
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr * c2 ** 0.5 / c1
        self.data[i] -= tmp
