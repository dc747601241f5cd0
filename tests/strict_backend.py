"""A test backend as strict as CuPy, for machines without a GPU.

``StrictArray`` wraps a NumPy array but behaves like a ``cupy.ndarray`` where it matters: it
refuses every implicit conversion to NumPy (``np.asarray(a)``, ``np.tanh(a)``,
``np.concatenate([a])``, ``a + numpy_array`` all raise TypeError), so any place in npgan that
calls NumPy on a model array, or mixes host and device arrays, fails loudly in CI. Explicit
moves work as on CuPy: ``strict.asarray(host_array)`` (a copy "to the device") and
``a.get()`` (a copy back). ``float(a)`` of a 0-d array is allowed, as CuPy allows it.

``strict`` is the module-like namespace the arrays point to (through
``__array_namespace_module__``, which ``npgan.backend.get_array_module`` looks for); it holds
only the functions npgan calls on its ``xp``. Arithmetic is NumPy's, so results are
bit-identical to the NumPy backend's.
"""

import types

import numpy as np

IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly.")            # CuPy's own message


def unwrap(value):
    """The NumPy array inside a StrictArray; scalars pass; host arrays are refused."""
    if isinstance(value, StrictArray):
        return value.a
    if isinstance(value, np.ndarray):
        raise TypeError("a NumPy array was mixed with a device (strict) array; move it "
                        "explicitly with npgan.backend.to_device(a, xp)")
    if isinstance(value, tuple):                               # an index like (rows, labels)
        return tuple(unwrap(v) for v in value)
    return value                                               # int, float, slice, None, ...


def wrap(result):
    """NumPy results as StrictArrays (a reduction's scalar becomes a 0-d array, as on CuPy)."""
    if isinstance(result, (np.ndarray, np.generic)):
        return StrictArray(np.asarray(result))
    return result


def _binary(op, reflected=False):
    def method(self, other):
        a, b = (unwrap(other), self.a) if reflected else (self.a, unwrap(other))
        return wrap(op(a, b))
    return method


def _inplace(op):
    def method(self, other):
        op(self.a, unwrap(other), out=self.a)                  # in place: views stay views
        return self
    return method


class StrictArray:
    __array_ufunc__ = None            # np.ufunc(a) and ndarray <op> a raise TypeError
    __hash__ = None

    def __init__(self, a):
        assert isinstance(a, np.ndarray), type(a)
        self.a = a

    # -- the refusals: what makes this backend strict -----------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"np.{func.__name__} called on a device (strict) array; use the "
                        "array's module (npgan.backend.get_array_module)")

    def get(self):
        """An explicit copy to the host, as ``cupy.ndarray.get()``."""
        return self.a.copy()

    # -- scalars: allowed for 0-d (and 1-element) arrays, as on CuPy ---------------------
    def __float__(self):
        return float(self.a)

    def __int__(self):
        return int(self.a)

    def __bool__(self):
        return bool(self.a)

    # -- attributes and methods --------------------------------------------------------------
    shape = property(lambda self: self.a.shape)
    ndim = property(lambda self: self.a.ndim)
    dtype = property(lambda self: self.a.dtype)
    size = property(lambda self: self.a.size)
    T = property(lambda self: StrictArray(self.a.T))

    def __len__(self):
        return len(self.a)

    def __repr__(self):
        return f"StrictArray({self.a!r})"

    def reshape(self, *shape):
        return StrictArray(self.a.reshape(*shape))

    strides = property(lambda self: self.a.strides)             # bytes, as on CuPy
    flags = property(lambda self: self.a.flags)                 # .c_contiguous, as on CuPy

    def transpose(self, *axes):
        return StrictArray(self.a.transpose(*axes))

    def astype(self, dtype, copy=True):
        return StrictArray(self.a.astype(dtype, copy=copy))

    def copy(self):
        return StrictArray(self.a.copy())

    def __getitem__(self, key):
        return wrap(self.a[unwrap(key)])

    def __setitem__(self, key, value):
        self.a[unwrap(key)] = unwrap(value)

    def _reduce(name):
        def method(self, *args, **kwargs):
            return wrap(getattr(self.a, name)(*args, **kwargs))
        method.__name__ = name
        return method

    sum, mean, var, min, max, any, all, argmax = map(_reduce, (
        "sum", "mean", "var", "min", "max", "any", "all", "argmax"))
    del _reduce

    __add__, __radd__ = _binary(np.add), _binary(np.add, True)
    __sub__, __rsub__ = _binary(np.subtract), _binary(np.subtract, True)
    __mul__, __rmul__ = _binary(np.multiply), _binary(np.multiply, True)
    __truediv__, __rtruediv__ = _binary(np.true_divide), _binary(np.true_divide, True)
    __matmul__, __rmatmul__ = _binary(np.matmul), _binary(np.matmul, True)
    __pow__, __rpow__ = _binary(np.power), _binary(np.power, True)
    __lt__, __le__ = _binary(np.less), _binary(np.less_equal)
    __gt__, __ge__ = _binary(np.greater), _binary(np.greater_equal)
    __eq__, __ne__ = _binary(np.equal), _binary(np.not_equal)
    __iadd__, __isub__ = _inplace(np.add), _inplace(np.subtract)
    __imul__, __itruediv__ = _inplace(np.multiply), _inplace(np.true_divide)

    def __neg__(self):
        return wrap(-self.a)

    def __abs__(self):
        return wrap(np.abs(self.a))

    def __invert__(self):
        return wrap(~self.a)


def _function(np_func):
    """np_func on unwrapped arguments; an ``out=`` StrictArray is written in place."""
    def function(*args, out=None, **kwargs):
        args = [unwrap(a) for a in args]
        if out is None:
            return wrap(np_func(*args, **kwargs))
        np_func(*args, out=unwrap(out), **kwargs)
        return out
    function.__name__ = np_func.__name__
    return function


def asarray(a, dtype=None):
    """The explicit move to the "device": host data is copied, as ``cupy.asarray`` copies."""
    if isinstance(a, StrictArray):
        return a if dtype is None else a.astype(dtype, copy=False)
    return StrictArray(np.array(a, dtype=dtype, copy=True))


def concatenate(arrays, axis=0):
    return StrictArray(np.concatenate([unwrap(a) for a in arrays], axis=axis))


class Generator:
    """A device-side generator: its draws are StrictArrays (like ``cupy.random.Generator``)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def standard_normal(self, size=None, dtype=np.float64):
        return StrictArray(np.asarray(self.rng.standard_normal(size, dtype=dtype)))

    def random(self, size=None, dtype=np.float64):
        return StrictArray(np.asarray(self.rng.random(size, dtype=dtype)))

    def integers(self, low, high=None, size=None, dtype=np.int64):
        return StrictArray(np.asarray(self.rng.integers(low, high, size, dtype=dtype)))


strict = types.ModuleType("strict", __doc__)
for _name in ("tanh", "sqrt", "exp", "log", "log1p", "abs", "maximum", "where", "clip",
              "isfinite", "multiply", "divide", "subtract", "zeros_like", "empty_like",
              "ones_like", "matmul", "sign", "fmax", "ascontiguousarray", "argmax"):
    setattr(strict, _name, _function(getattr(np, _name)))
strict.add = _function(np.add)
strict.add.at = lambda a, idx, values: np.add.at(unwrap(a), unwrap(idx), unwrap(values))
for _name in ("zeros", "ones", "empty", "arange"):                 # from shapes: no arrays in
    setattr(strict, _name, _function(getattr(np, _name)))
for _name in ("float32", "float64", "int64", "integer", "floating"):
    setattr(strict, _name, getattr(np, _name))                     # CuPy re-exports NumPy's
strict.asarray, strict.concatenate = asarray, concatenate
strict.broadcast_to = _function(np.broadcast_to)
strict.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(      # as cupy.lib
    as_strided=_function(np.lib.stride_tricks.as_strided)))
strict.random = types.SimpleNamespace(default_rng=Generator)
StrictArray.__array_namespace_module__ = strict
