"""Finite-difference gradient checks: how npgan proves each hand-written backward.

The idea (cs231n's ``gradient_check.py``): to check dL/dx for a layer y = f(x), pick a random
upstream gradient g and define the scalar L(x) = sum(f(x) * g). Its true gradient is exactly
what ``backward(g)`` must return, and each entry can be estimated by centred differences:

    dL/dx[i] ~ (L(x + h e_i) - L(x - h e_i)) / (2 h)       error O(h^2)

In float64 with h = 1e-5 the estimate agrees with a correct backward to about 1e-8 relative
(truncation error ~h^2 against round-off ~1e-16 / h: smaller h is not better);
a wrong one is off by order 1. A random g (never all ones) matters: with g = 1, BatchNorm's
dx is ~0 whatever the code does, and a missing term goes unseen.

That costs two forwards per entry, too many for a layer at its real size (a 128x64x4x4
weight has 131,072 entries). ``check_directional`` checks the same gradient along a few
random unit directions v instead, from the definition of the gradient:

    <dL/dx, v>  ~  (L(x + h v) - L(x - h v)) / (2 h)           two forwards per direction

A wrong gradient almost surely disagrees along a random direction (it would have to be
wrong only in directions orthogonal to v), so a handful of directions catches a transposed
or 1% mis-scaled weight gradient, while every entry still contributes to each check.
"""

import numpy as np

from npgan.backend import get_array_module, to_host


def rel_error(a, b):
    """max|a - b| / max(1e-8, max(|a| + |b|)): 0 for equal arrays, ~1 for unrelated ones.

    a, b: host or device arrays; they are compared on the host, in float64."""
    a, b = to_host(a).astype(np.float64), to_host(b).astype(np.float64)
    return float(np.max(np.abs(a - b), initial=0.0) / max(1e-8, np.max(np.abs(a) + np.abs(b), initial=0.0)))


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of the scalar function ``f()`` with respect to array ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place one entry at a time
    and always restored. Returns an array of x's shape.
    """
    grad = get_array_module(x).zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)    # views: writes reach x and grad
    for i in range(flat_x.size):
        old = flat_x[i].copy()
        flat_x[i] = old + h
        f_plus = f()
        flat_x[i] = old - h
        f_minus = f()
        flat_x[i] = old
        flat_g[i] = (f_plus - f_minus) / (2 * h)
    return grad


def check_module(module, x, *, rng=None, h=1e-5, gradients=None):
    """Compare ``module.backward`` with finite differences, for the input and every parameter.

    module: a Module with float64 parameters.  x: its float64 input (integer indices are allowed
    for Embedding; they get no input gradient). Returns ``{"x": err, "<param name>": err, ...}``
    of relative errors (see ``rel_error``); a correct backward gives about 1e-8 or less.
    A dict passed as ``gradients`` receives ``{name: (backward's gradient, finite
    differences)}``, to look at what differs.
    """
    loss, targets = backward_of_random_upstream(module, x, rng)
    errors = {}
    for name, a, analytic in targets:
        numerical = numerical_gradient(loss, a, h)
        errors[name] = rel_error(analytic, numerical)
        if gradients is not None:                   # the caller wants the arrays too
            gradients[name] = (analytic, numerical)
    return errors


def backward_of_random_upstream(module, x, rng=None):
    """One forward and one backward of a random upstream gradient g, from zeroed gradients.

    Returns ``(loss, targets)``: ``loss()`` recomputes L = sum(module(x) * g), whose exact
    gradient backward has just computed, and ``targets`` lists ``(name, array, dL/d array)``
    for the input x (when it is floating point) and every parameter.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    xp = get_array_module(x)
    module.zero_grad()
    y = module(x)
    g = xp.asarray(rng.standard_normal(y.shape))            # random upstream gradient
    dx = module.backward(g)

    def loss():
        return float((module(x) * g).sum())

    targets = [("x", x, dx)] if np.issubdtype(x.dtype, np.floating) else []
    targets += [(name, p.data, p.grad) for name, p in module.named_parameters()]
    return loss, targets


def check_function(fn, x, *, h=1e-5):
    """Check a function that returns ``(scalar, gradient)``, such as a loss, at ``x``.

    fn(x) -> (value, dvalue/dx). Returns the relative error of that gradient.
    """
    _, grad = fn(x)
    return rel_error(grad, numerical_gradient(lambda: fn(x)[0], x, h))


def check_directional(module, x, *, n_directions=4, rng=None, h=1e-5):
    """Compare ``module.backward`` with centred differences along random unit directions.

    For the input and every parameter a, with L = sum(module(x) * g) for a random upstream g,
    compares <dL/da, v> with (L(a + h v) - L(a - h v)) / (2 h) for ``n_directions`` random
    unit vectors v of a's shape. For layers too big for ``check_module``; float64 throughout.
    Returns ``{"x": err, "<param name>": err, ...}``, each the ``rel_error`` between the
    n_directions analytic and numerical values (about 1e-8 or less for a correct backward).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    loss, targets = backward_of_random_upstream(module, x, rng)
    return {name: directional_error(loss, a, grad, n_directions=n_directions, rng=rng, h=h)
            for name, a, grad in targets}


def directional_error(loss, a, grad, *, n_directions=4, rng=None, h=1e-5):
    """rel_error between <grad, v> and (loss(a + h v) - loss(a - h v)) / (2 h) over
    ``n_directions`` random unit directions v of a's shape; ``a`` is perturbed in place and
    restored exactly. The core of ``check_directional``, for any scalar ``loss()``."""
    rng = np.random.default_rng(0) if rng is None else rng
    xp = get_array_module(a)
    analytic, numerical = [], []
    for _ in range(n_directions):
        v = rng.standard_normal(a.shape)
        v = xp.asarray(v / np.linalg.norm(v))               # a random unit direction
        old = a.copy()
        a[...] = old + h * v
        f_plus = loss()
        a[...] = old - h * v
        f_minus = loss()
        a[...] = old                                        # restored exactly
        analytic.append(float((grad * v).sum()))
        numerical.append((f_plus - f_minus) / (2 * h))
    return rel_error(np.array(analytic), np.array(numerical))


if __name__ == "__main__":                  # python -m npgan.gradcheck: see gradcheck_cli.py
    import sys

    from npgan.gradcheck_cli import main
    try:
        sys.exit(main())
    except BrokenPipeError:                 # e.g. piped into head: stop quietly
        sys.stdout = None
        sys.exit(1)
