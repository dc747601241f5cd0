"""A chain of modules: forward runs them in order, backward in reverse."""

from npgan.nn.module import Module


class Sequential(Module):
    """y = layers[-1](... layers[1](layers[0](x))).

    Backward is the chain rule, one layer at a time: each layer turns dL/d(its output) into
    dL/d(its input) and passes it down, adding its own parameter gradients on the way.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Module")
        self.layers = list(layers)

    def forward(self, x):
        """cache: nothing of its own; each layer keeps its own cache for its backward."""
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
