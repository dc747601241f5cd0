"""NumPy or CuPy: choosing a backend, asking an array for its module, moving arrays.

Layers never import CuPy and never branch on "gpu". They ask the array they were given for
its module, the idiom of ``cupy.get_array_module``, and call ``xp.tanh``, ``xp.sqrt`` ... on it.
NumPy is always the answer unless CuPy is installed and the array lives on a GPU.

A backend is a module (``numpy`` or ``cupy``), chosen once, when models are built
(``load_backend``). Arrays cross between host and device only where the code says so:
``to_device`` and ``to_host``. CuPy refuses implicit conversions (``np.asarray`` on a GPU
array raises TypeError), and the tests run a backend just as strict, so a forgotten
conversion fails in CI rather than on someone's GPU.
"""

import numpy as np

BACKENDS = ("numpy", "cupy")
GPU_INSTALL = 'pip install "npgan[gpu]" (CuPy built for CUDA 12)'


class BackendError(RuntimeError):
    """The backend asked for cannot run here (CuPy missing, or no usable CUDA GPU)."""


def load_backend(backend="numpy"):
    """Return the array module for ``backend``: "numpy", "cupy", or a module given as is.

    "cupy" imports CuPy and checks that a CUDA GPU answers; if not, it raises BackendError
    saying what to install or check. It never falls back to NumPy silently.
    """
    if not isinstance(backend, str):
        return backend                                  # already a module (or a test backend)
    if backend == "numpy":
        return np
    if backend != "cupy":
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    try:
        import cupy
    except ImportError as e:
        raise BackendError(f"the cupy backend needs CuPy, which is not installed ({e}); "
                           f"install it with {GPU_INSTALL}, or use the numpy backend "
                           "(--backend numpy)") from e
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("0 devices")
        float(cupy.arange(3).sum())                      # one kernel: CUDA really works
    except Exception as e:                               # CUDARuntimeError, a missing library
        raise BackendError(f"CuPy is installed but found no usable CUDA GPU ({e}); check that "
                           "`nvidia-smi` lists a GPU and that its driver supports the CUDA "
                           "version of your CuPy package, or use the numpy backend "
                           "(--backend numpy)") from e
    return cupy


def backend_name(xp):
    """The name of the backend module ``xp``: "numpy", "cupy" (or a test backend's)."""
    return xp.__name__


def get_array_module(*arrays):
    """Return the module (``numpy`` or ``cupy``) that owns ``arrays``.

    Plain NumPy arrays, Python scalars and ``None`` give ``numpy``. An array type may name its
    own module by a ``__array_namespace_module__`` attribute (the strict test backend does);
    CuPy is found via ``cupy.get_array_module`` when it is importable.
    """
    for a in arrays:
        if a is None or isinstance(a, (np.ndarray, np.generic, int, float)):
            continue
        module = getattr(type(a), "__array_namespace_module__", None)
        if module is not None:
            return module
        try:
            import cupy
        except ImportError:
            return np
        return cupy.get_array_module(a)
    return np


def to_host(a):
    """``a`` as a NumPy array: a copy from the device (``a.get()``), or ``a`` itself on NumPy."""
    if get_array_module(a) is np:
        return np.asarray(a)
    return a.get()


def to_device(a, xp):
    """``a`` (host or device array, or a list) as an array of backend ``xp``.

    A no-op when ``a`` is already there; otherwise one explicit copy (``xp.asarray``, which
    on CuPy copies host memory to the GPU). ``to_device(a, numpy)`` is ``to_host(a)``.
    """
    if xp is np:
        return to_host(a)
    if get_array_module(a) is xp:
        return a
    return xp.asarray(to_host(a))
