"""G_ema: the average of the generator's weights that sampling uses.

An exponential moving average of G's weights (Yazici et al. 2019, "The Unusual Effectiveness of
Averaging in GAN Training"): G's own weights circle around a good solution as G and D chase
each other; their average sits nearer its middle, so its samples are cleaner, at no cost to
training (G_ema is never trained). After each training step t = 1, 2, ...

    G_ema <- b * G_ema + (1 - b) * G        for every weight and BatchNorm statistic of G

with b = ``ema`` once the run is long enough, and at most (1 + t) / (10 + t) before that, as
in TensorFlow's ExponentialMovingAverage, so that the random initial weights do not linger in
the average of a short run. ``average_weights`` is that rule as code; ``FlatAverage`` beside it
computes the same bits faster (GANTrainer.update_ema uses it on NumPy with ``fast``).
"""

from npgan.nn.module import pack_parameters
from npgan.threads import parallel_for


def decay(ema, step):
    """b after training step ``step`` (1, 2, ...) for a run that averages with ``ema``."""
    return min(ema, (1 + step) / (10 + step))


def average_into(pairs, b):
    """average <- b * average + (1 - b) * now, in place, for each (average, now) pair."""
    for average, now in pairs:
        average *= b
        average += (1 - b) * now


def average_weights(G_ema, G, b):
    """The rule of the module docstring, for every weight and BatchNorm statistic of G."""
    average_into(zip(G_ema.state_dict().values(), G.state_dict().values()), b)


class FlatAverage:
    """Fast beside ``average_weights``: the same operations, so the same bits, on two flat
    buffers in cache-sized chunks spread over npgan.threads' threads.

    G's weights are already one flat buffer, its optimizer's (``flat_weights``, cut into
    ``chunks``; npgan.optim); G_ema's are packed alike here, once. The temporary
    (1 - b) * now is then one chunk in cache instead of a fresh 6 MB array, and no step walks
    the two networks' layers as state_dict() does. Measured on the default GAN: one thread,
    1.13 -> 0.64 ms a step for the chunks (0.64-0.70 ms with a kept scratch chunk per thread
    instead, no faster, so there is none); two threads, 0.80-0.82 -> 0.66-0.68 ms for the flat
    buffers against chunks of each array (2026-12-07; the walk was 0.3 ms a step through the
    main command under cProfile). tests/test_fast_paths.py checks it against average_weights.
    """

    def __init__(self, G_ema, G, flat_weights, chunks):
        shapes = [p.shape for p in G_ema.parameters()]
        if shapes != [p.shape for p in G.parameters()]:
            raise ValueError(f"G_ema's parameters {shapes} do not match G's")
        self.average, _ = pack_parameters(G_ema.parameters())      # in G's order
        self.now, self.chunks = flat_weights, chunks
        # the BatchNorm statistics, averaged as they are (a few thousand numbers)
        self.layers = [(a, g) for a, g in zip(G_ema.modules(), G.modules()) if a.buffers]

    def update(self, b):
        average, now = self.average, self.now
        parallel_for(lambda i: average_into([(average[i], now[i])], b), self.chunks)
        average_into(((getattr(a, name), getattr(g, name))
                      for a, g in self.layers for name in a.buffers), b)
