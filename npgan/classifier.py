"""The small MNIST and Fashion-MNIST classifiers that npgan.metrics measures samples with.

Each is an MLP built from npgan's own layers:

    x (784, pixels in [-1, 1]) -> Linear 256 -> ReLU -> Dropout
                               -> Linear 256 -> ReLU -> Dropout   (these 256 are the "features")
                               -> Linear 10  (logits; softmax gives p(y|x))

trained with softmax cross-entropy by ``python -m npgan.demos.train_classifier`` and shipped
as ``npgan/datasets/classifiers/{mnist,fashion_mnist}.npz`` (float32 weights, about 1 MB each,
written with ``npgan.checkpoint``, so loading never unpickles). Inputs use the GAN's own
scaling (``data.scale_images``), so generated images go in as they come out of G.
"""

from pathlib import Path

import numpy as np

from npgan.checkpoint import CheckpointError, check_arrays, load_checkpoint, save_checkpoint
from npgan.nn import Dropout, Linear, ReLU, Sequential

DATASETS = ("mnist", "fashion_mnist")
HIDDEN = (256, 256)
CLASSIFIER_DIR = Path(__file__).resolve().parent / "datasets" / "classifiers"


def build_classifier(hidden=HIDDEN, *, dropout=0.0, rng=None, dtype=np.float32):
    """An MLP 784 -> hidden... -> 10 with ReLU and Dropout(dropout) after each hidden layer.

    The Dropout layers are always there (identity with p = 0 and in eval mode), so the layer
    indices, and with them the names of the saved weights, do not depend on ``dropout``.
    """
    rng = np.random.default_rng() if rng is None else rng
    sizes = (784,) + tuple(hidden)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(n_in, n_out, rng=rng, dtype=dtype), ReLU(), Dropout(dropout, rng=rng)]
    layers.append(Linear(sizes[-1], 10, rng=rng, dtype=dtype))
    return Sequential(*layers)


def weights_path(dataset):
    """Where the shipped weights of ``dataset``'s classifier live."""
    if dataset not in DATASETS:
        raise ValueError(f"no classifier for dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return CLASSIFIER_DIR / f"{dataset}.npz"


class Classifier:
    """A trained classifier: ``features(x)``, ``probabilities(x)`` and ``predict(x)``.

    x: (N, 784) images in [-1, 1], any float dtype. Everything runs in eval mode (Dropout off)
    in batches of ``batch_size`` rows, so N can be large. ``info`` holds what was saved with
    the weights: dataset, hidden sizes, test accuracy, training settings.
    """

    def __init__(self, model, info, *, batch_size=2000):
        self.model, self.info, self.batch_size = model.eval(), info, batch_size
        self.dtype = model[0].weight.data.dtype

    @property
    def accuracy(self):
        """Test-set accuracy measured when the weights were written (a fraction)."""
        return self.info["test_accuracy"]

    def _batches(self, x, layers):
        x = np.asarray(x)
        out = []
        for start in range(0, max(len(x), 1), self.batch_size):     # (an empty x: one empty batch)
            h = x[start:start + self.batch_size].astype(self.dtype, copy=False)
            for layer in layers:
                h = layer(h)
                layer.cache = None                      # inference only: no backward follows
            out.append(h)
        return np.concatenate(out)

    def logits(self, x):
        """(N, 784) -> (N, 10) logits."""
        return self._batches(x, list(self.model))

    def features(self, x):
        """(N, 784) -> (N, hidden[-1]): the penultimate layer, what the Frechet distance compares."""
        return self._batches(x, self.model.layers[:-1])

    def features_and_probabilities(self, x):
        """Both at once (one pass): (N, hidden[-1]) features and (N, 10) softmax probabilities."""
        feats = self.features(x)
        return feats, softmax(self._batches(feats, self.model.layers[-1:]))

    def probabilities(self, x):
        """(N, 784) -> (N, 10) softmax probabilities p(y | x)."""
        return softmax(self.logits(x))

    def predict(self, x):
        """(N, 784) -> (N,) the most probable class."""
        return self.logits(x).argmax(axis=1)


def softmax(z):
    """Row-wise softmax of (N, C) logits, computed as float64 after subtracting the row max."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def save_classifier(path, model, info):
    """Write ``model``'s weights (as float32) and ``info`` (JSON-able dict) to ``path``."""
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in model.state_dict().items()}
    save_checkpoint(path, arrays, {"kind": "classifier", **info})


def load_classifier(dataset="mnist", path=None):
    """Load a trained classifier: the one shipped for ``dataset``, or the file ``path``.

    Raises FileNotFoundError if the file is missing (train it with
    ``python -m npgan.demos.train_classifier --dataset DATASET``) and CheckpointError if it is
    not a classifier or its arrays do not fit the architecture it names.
    """
    path = weights_path(dataset) if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"classifier weights {path} do not exist; write them with "
                                f"`python -m npgan.demos.train_classifier --dataset {dataset}`")
    arrays, meta = load_checkpoint(path)
    if meta.get("kind") != "classifier":
        raise CheckpointError(f"{path} holds a {meta.get('kind')!r}, not a 'classifier'")
    try:
        hidden = tuple(int(h) for h in meta["hidden"])
        float(meta["test_accuracy"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its metadata is incomplete or invalid ({e!r})") from e
    sizes = (784,) + hidden + (10,)
    if min(sizes) < 1 or sum(a * b for a, b in zip(sizes, sizes[1:])) > sum(a.size for a in arrays.values()):
        raise CheckpointError(f"{path}: its hidden sizes {list(hidden)} do not fit its arrays")
    model = build_classifier(hidden)
    check_arrays(arrays, {k: (v.shape, np.float32) for k, v in model.state_dict().items()},
                 what=f"classifier 784-{'-'.join(map(str, hidden))}-10")
    model.load_state_dict(arrays)
    return Classifier(model, meta)
