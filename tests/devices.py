"""The device backends the backend tests run on, as a fixture: ``strict`` (tests/
strict_backend.py) always, CuPy where a GPU answers; and ``same``, how their results are
compared with NumPy's."""

import numpy as np
import pytest

from npgan.backend import BackendError, load_backend, to_host
from strict_backend import strict


def cupy_or_none():
    try:
        return load_backend("cupy")
    except BackendError:
        return None


CUPY = cupy_or_none()
DEVICES = [pytest.param(strict, id="strict")] + ([pytest.param(CUPY, id="cupy")] if CUPY else [])


@pytest.fixture(params=DEVICES)
def xp(request):
    """Each device backend: the strict one always, CuPy where a GPU answers."""
    return request.param


def same(a, b, xp, atol=1e-5):
    """The strict backend computes with NumPy itself, so its results are bit-identical;
    a GPU's kernels round differently, so there results agree to float32 tolerance."""
    a, b = to_host(a), to_host(b)
    return np.array_equal(a, b) if xp is strict else np.allclose(a, b, rtol=1e-4, atol=atol)
