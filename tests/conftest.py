"""Shared test helpers. ``assert_grads_match`` is the one gradient-check assertion every layer
test uses; it also records the largest relative error per layer for the summary printed at the
end of the run."""

import os

# One BLAS thread for the whole session, set before NumPy is imported: the demos run in
# subprocesses use one (npgan/demos/__init__.py), and bit-identical comparisons between a
# subprocess and this process need the same thread count. It also keeps the suite fast when
# the machine is shared (spinning BLAS threads collapse under contention).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings

# Property tests use a fixed sequence of examples, so CI is never flaky; run
# `pytest --hypothesis-profile=explore` to search with fresh random examples.
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile("default")

from npgan.gradcheck import check_module, numerical_gradient, rel_error

TOL = 1e-6
_worst = {}


def assert_grads_match(module, x, *, tol=TOL, rng=None, label=None):
    """Assert every gradient of ``module`` at ``x`` matches finite differences within ``tol``."""
    errors = check_module(module, x, rng=rng)
    label = label or type(module).__name__
    _worst[label] = max(_worst.get(label, 0.0), *errors.values())
    bad = {k: e for k, e in errors.items() if not e < tol}
    assert not bad, f"{label}: gradients disagree with finite differences: {bad}"
    return errors


def record_error(label, error):
    _worst[label] = max(_worst.get(label, 0.0), error)


def check_grads_before_step(trainer, net, loss):
    """Make ``trainer``'s optimizer of ``net`` ("G" or "D") check, when it is about to step
    (the step's gradients complete, the weights not yet moved), every parameter's .grad
    against finite differences of ``loss()``. Returns the list their relative errors go into."""
    module, opt = getattr(trainer, net), getattr(trainer, "opt_" + net.lower())
    errors, step = [], opt.step

    def check_then_step():
        for _, p in module.named_parameters():
            errors.append(rel_error(p.grad.copy(), numerical_gradient(loss, p.data)))
        step()
    opt.step = check_then_step
    return errors


def off_kink(rng, shape, margin=0.05):
    """Normal samples pushed at least ``margin`` away from 0, so ReLU-type kinks (at 0) are
    never within a finite-difference step of an input."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (margin + np.abs(x))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def pytest_terminal_summary(terminalreporter):
    if _worst:
        terminalreporter.section("largest gradient-check relative error per layer / loss / model")
        for label in sorted(_worst):
            terminalreporter.write_line(f"{label:<34} {_worst[label]:.2e}")
