"""Which array module (NumPy or CuPy) an array belongs to.

Layers never import CuPy and never branch on "gpu". They ask the array they were given for
its module, the idiom of ``cupy.get_array_module``, and call ``xp.tanh``, ``xp.sqrt`` ... on it.
NumPy is always the answer unless CuPy is installed and the array lives on a GPU.
"""

import numpy as np


def get_array_module(*arrays):
    """Return the module (``numpy`` or ``cupy``) that owns ``arrays``.

    Plain NumPy arrays, Python scalars and ``None`` give ``numpy``. An array type may name its
    own module by a ``__array_namespace_module__`` attribute; CuPy is found via
    ``cupy.get_array_module`` when it is importable.
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
