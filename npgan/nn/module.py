"""The two small classes everything else builds on: ``Parameter`` and ``Module``.

A Module's contract (see micrograd's ``nn.py`` for the same idea in scalar form):

    y  = module(x)              # forward: compute y, remember in self.cache what backward needs
    dx = module.backward(dy)    # backward: return dL/dx, ADD dL/dW into every parameter's .grad

Backward never changes a weight: only an optimizer's ``step()`` does. Because gradients
accumulate (``p.grad += ...``), a discriminator's passes over real and fake batches simply add
up, and ``zero_grad()`` is the one place they are cleared.
"""

from npgan.backend import get_array_module


class Parameter:
    """A trainable array ``data`` and the gradient ``grad`` of the loss with respect to it.

    ``grad`` has the shape and dtype of ``data`` and starts at zero.
    """

    def __init__(self, data):
        self.data = data
        self.grad = data * 0  # zeros of the same shape, dtype and array module

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


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

    def __call__(self, x):
        return self.forward(x)

    def pop_cache(self):
        """Return what forward stored and clear it, so that a second backward is an error."""
        if self.cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() called without a forward() before it "
                "(or twice after one forward)")
        cache, self.cache = self.cache, None
        return cache

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
        """Set every parameter's gradient to zero, in place."""
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode=True):
        """Switch this module and its sub-modules to training (or, with False, eval) mode."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Switch to evaluation mode: BatchNorm uses running statistics, Dropout is identity."""
        return self.train(False)

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
        error lists all that is wrong at once. Values keep this module's dtype and array module.
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
            target[...] = xp.asarray(state[k], dtype=target.dtype)

    # -- printing ----------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        kids = list(self.children())
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in kids]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
