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
        """Returns dL/dx; None if a layer returned None (one inside ``without_input_grad``):
        no gradient flows below it, so the layers under it are not run (their caches are
        cleared, as their backward would have)."""
        for i in reversed(range(len(self.layers))):
            dout = self.layers[i].backward(dout)
            if dout is None:
                for below in self.layers[:i]:
                    below.cache = None
                return None
        return dout

    def first_trained_layer(self):
        """The first layer with parameters, if every layer before it has none (e.g. the
        Conv2d after a DCGAN discriminator's Unflatten); else None. When this Sequential's
        input is data, that layer's dL/d(input) is never needed."""
        for layer in self.layers:
            if layer.parameters():
                return layer
        return None

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
