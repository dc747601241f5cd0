"""The two small classes everything else builds on: ``Parameter`` and ``Module``.

A Module's contract (see micrograd's ``nn.py`` for the same idea in scalar form):

    y  = module(x)              # forward: compute y, remember in self.cache what backward needs
    dx = module.backward(dy)    # backward: return dL/dx, ADD dL/dW into every parameter's .grad

Backward never changes a weight: only an optimizer's ``step()`` does. Because gradients
accumulate (``p.grad += ...``), a discriminator's passes over real and fake batches simply add
up, and ``zero_grad()`` is the one place they are cleared.
"""

from contextlib import contextmanager

from npgan.backend import get_array_module, to_device


class Parameter:
    """A trainable array ``data`` and the gradient ``grad`` of the loss with respect to it.

    ``grad`` has the shape and dtype of ``data`` and starts at zero; backward adds into it
    (``p.grad += ...``) and ``zero_grad()`` sets it back to zero. With ``requires_grad``
    False, layers skip this parameter's gradient in backward (see ``input_grad_only``).

    Assigning works as it reads: ``p.data = w`` and ``p.grad = np.zeros_like(p.data)`` (or
    ``p.grad = 0``) set the values. Once a fast optimizer has packed the parameter
    (``pack_parameters``: ``data`` and ``grad`` become views into one flat buffer that the
    optimizer updates), an assignment writes the new values into the view in place, so the
    optimizer keeps training this weight; an array of another shape is refused with an
    error. (Replacing the view would unlink the weight from the buffer, and the optimizer
    would silently stop moving it.)
    """

    def __init__(self, data):
        self._data = data
        self._grad = data * 0   # zeros of the same shape, dtype and array module
        self.requires_grad = True
        self.packed = None      # (data_buffer, grad_buffer) once pack_parameters has run
        self.zero_pending = False   # True only between zero_grad(lazy=True) and the next use

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = self._assign(self._data, value, "data")

    @property
    def grad(self):
        self.write_pending_zeros()
        return self._grad

    @grad.setter
    def grad(self, value):
        self.zero_pending = False
        self._grad = self._assign(self._grad, value, "grad")

    def _assign(self, current, value, name):
        """The array ``p.<name> = value`` leaves in place: ``value`` itself, or, for a packed
        parameter, ``current`` with value's numbers written into it."""
        if value is current or self.packed is None:     # ``p.grad += g`` lands here too
            return value
        shape = getattr(value, "shape", ())
        if tuple(shape) not in ((), tuple(current.shape)):
            raise ValueError(f"cannot assign an array of shape {tuple(shape)} to the "
                             f"{name} of a Parameter of shape {tuple(current.shape)}: its "
                             "optimizer holds it in a packed buffer of that shape")
        current[...] = value
        return current

    def zero_grad(self, *, lazy=False):
        """Set the gradient to zero.

        ``lazy=True`` is a fast path for the optimizers' ``fast`` mode: it only records that
        the gradient is zero. The zeros are written when ``grad`` is next read, or, by
        ``matmul_into_grad``, not at all: a layer's first product is written straight over
        the old values (benchmarks/README.md: 1.7 ms of a 25 ms step saved). Reading
        ``p.grad`` always gives the right numbers; only the optimizer's flat ``grad`` buffer
        may hold stale values until then, and a fast ``step()`` writes them first.
        """
        if lazy:
            self.zero_pending = True
        else:
            self.grad[...] = 0

    def write_pending_zeros(self):
        """Write the zeros a lazy zero_grad() promised, if nothing has touched grad since."""
        if self.zero_pending:
            self._grad[...] = 0
            self.zero_pending = False

    def matmul_into_grad(self, a, b):
        """Fast path for ``grad += a @ b`` right after ``zero_grad(lazy=True)``: the product
        is written straight into grad, with no zeroing pass, no temporary and no addition."""
        assert self.zero_pending, "matmul_into_grad is only for a lazily zeroed gradient"
        get_array_module(self._grad).matmul(a, b, out=self._grad)
        self.zero_pending = False

    @property
    def shape(self):
        return self._data.shape

    def __repr__(self):
        return f"Parameter(shape={self._data.shape}, dtype={self._data.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses implement ``forward(x)`` and ``backward(dout)``. Parameters are found by
    looking through the instance's attributes (Parameters, Modules and lists of Modules),
    in the order they were assigned, so ``parameters()`` needs no registration code.
    Attributes named in ``buffers`` (e.g. BatchNorm's running statistics) are state that is
    saved by ``state_dict()`` but not trained.
    """

    buffers = ()

    def __init__(self):
        self.training = True
        self.cache = None

    # -- the two methods a layer writes ------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def pop_cache(self):
        """Return what forward stored and clear it, so that a second backward is an error."""
        if self.cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() called without a forward() before it "
                "(or twice after one forward)")
        cache, self.cache = self.cache, None
        return cache

    def check_dout(self, dout, shape):
        """Raise a ValueError naming the layer unless dout has ``shape``, the shape its forward
        returned (a dout of another shape with as many numbers would reshape silently into a
        wrong gradient)."""
        got = getattr(dout, "shape", None)
        if got is None or tuple(got) != tuple(shape):
            name = getattr(self, "name", type(self).__name__)
            raise ValueError(f"{name}.backward expects dout of shape {tuple(shape)}, the shape "
                             f"its forward returned, got "
                             f"{tuple(got) if got is not None else type(dout).__name__}")

    # -- walking the tree ----------------------------------------------------------------
    def children(self):
        """Yield ``(name, module)`` for the direct sub-modules, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield str(i) if name == "layers" else f"{name}.{i}", item

    def own_parameters(self):
        """Yield ``(name, Parameter)`` for the parameters held directly by this module."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield name, value

    def modules(self):
        """Yield this module and every module inside it, depth first."""
        yield self
        for _, child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix=""):
        """Yield ``(dotted_name, Parameter)`` for this module and all sub-modules."""
        for name, p in self.own_parameters():
            yield prefix + name, p
        for name, child in self.children():
            yield from child.named_parameters(f"{prefix}{name}.")

    def parameters(self):
        """All Parameters, as a list (an optimizer keeps it)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        """Set every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Switch this module and its sub-modules to training (or, with False, eval) mode."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Switch to evaluation mode: BatchNorm uses running statistics, Dropout is identity."""
        return self.train(False)

    def to(self, xp):
        """Move every parameter (data and grad) and buffer, here and in sub-modules, to the
        backend ``xp`` (``numpy`` or ``cupy``, see ``npgan.backend``); returns self.

        Layers are built on the host (their initial weights come from a NumPy Generator) and
        moved once. Move before making an optimizer: it packs the parameters into one buffer
        on their backend, and a parameter moved afterwards would leave that buffer behind.
        """
        for m in self.modules():
            for name, p in m.own_parameters():
                if get_array_module(p.data) is xp:
                    continue
                if p.packed is not None:
                    raise RuntimeError(f"{type(m).__name__}.{name} is packed by an optimizer; "
                                       "call .to() before creating optimizers")
                p.data, p.grad = to_device(p.data, xp), to_device(p.grad, xp)
            for name in m.buffers:
                setattr(m, name, to_device(getattr(m, name), xp))
        return self

    # -- saving and loading ----------------------------------------------------------------
    def state_dict(self, prefix=""):
        """Return ``{dotted_name: array}`` of every parameter and buffer (arrays, not copies)."""
        state = {prefix + name: p.data for name, p in self.own_parameters()}
        for name in self.buffers:
            state[prefix + name] = getattr(self, name)
        for name, child in self.children():
            state.update(child.state_dict(f"{prefix}{name}."))
        return state

    def load_state_dict(self, state):
        """Copy arrays from ``state`` into this module's parameters and buffers, in place.

        Every key must be present with the right shape, and no extra keys are allowed; the
        error lists all that is wrong at once. Values keep this module's dtype and backend
        (host arrays are copied to a GPU module's device, and device arrays to the host).
        """
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        wrong = [f"{k}: got shape {tuple(state[k].shape)}, expected {tuple(own[k].shape)}"
                 for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or wrong:
            problems = ([f"missing keys {missing}"] if missing else []) + \
                       ([f"unexpected keys {unexpected}"] if unexpected else []) + wrong
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for k, target in own.items():
            xp = get_array_module(target)
            target[...] = to_device(state[k], xp).astype(target.dtype, copy=False)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        kids = list(self.children())
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in kids]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


@contextmanager
def input_grad_only(module):
    """Within this block, ``module.backward`` returns dL/dx but computes no parameter gradients.
    (The opposite of ``Linear.without_input_grad``.)

    The G step needs D's dL/d(input) to reach G, but D's own weight gradients from that pass
    would be thrown away; skipping them saves half of D's backward matrix products there (each
    layer's weight gradient; its input gradient stays), a third of that pass's products.
    """
    params = module.parameters()
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad = False
    try:
        yield module
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad = flag


def pack_parameters(params):
    """Move parameters into two contiguous 1-D buffers; return ``(data, grad)`` buffers.

    Afterwards each ``p.data`` and ``p.grad`` is a view (same shape and values) into the
    buffers, so an optimizer can update every parameter with a few whole-array operations
    instead of a loop of small ones. Parameters already packed together (by another optimizer
    over the same set) keep their buffers. All parameters must share one dtype.
    """
    params = list(params)
    if params and params[0].packed is not None:
        data, grad = params[0].packed
        if all(p.packed is params[0].packed for p in params) and \
                sum(p.data.size for p in params) == data.size and len(set(map(id, params))) == len(params):
            return data, grad
        raise ValueError("some of these parameters are already packed with a different set "
                         "of parameters (by another optimizer); give each optimizer one "
                         "whole model's parameters")
    dtypes = {p.data.dtype for p in params}
    if len(dtypes) != 1:
        raise TypeError(f"cannot pack parameters of mixed dtypes {sorted(map(str, dtypes))}")
    if len(set(map(id, params))) != len(params):
        raise ValueError("the same Parameter appears twice in the list")
    xp = get_array_module(params[0].data)
    total = sum(p.data.size for p in params)
    data, grad = xp.empty(total, dtype=dtypes.pop()), xp.zeros(total, dtype=params[0].data.dtype)
    packed, offset = (data, grad), 0
    for p in params:
        n, shape = p.data.size, p.data.shape
        data[offset:offset + n] = p.data.reshape(-1)
        grad[offset:offset + n] = p.grad.reshape(-1)
        p.data = data[offset:offset + n].reshape(shape)         # views, not copies
        p.grad = grad[offset:offset + n].reshape(shape)
        p.packed = packed
        offset += n
    return data, grad
