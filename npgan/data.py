"""Datasets and minibatches: bundled MNIST, Fashion-MNIST, scaling, shuffling.

    images, labels = load_mnist("train")      # (60000, 28, 28) uint8, (60000,) uint8
    x = scale_images(images)                  # (60000, 784) float32 in [-1, 1]
    for xb, yb in batches(x, 64, rng, labels=labels):   # one epoch
        ...

MNIST ships inside the package (npgan/datasets/mnist/) and is checked against
its SHA-256 sums on every load. Fashion-MNIST comes from Debian's
`dataset-fashion-mnist` package, or from any folder holding the four files.
"""

import hashlib
import math
from pathlib import Path

import numpy as np

from npgan.idx import DataError, read_idx

__all__ = [
    "DataError", "read_idx", "verify_sha256", "load_mnist", "load_fashion_mnist",
    "scale_images", "batches", "MNIST_CLASSES", "FASHION_MNIST_CLASSES",
]

MNIST_CLASSES = tuple("0123456789")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
SPLITS = {  # split -> (images file, labels file), each also found without ".gz"
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_DIR = Path(__file__).resolve().parent / "datasets" / "mnist"
MNIST_SHA256 = {  # of the compressed files as bundled
    "t10k-images-idx3-ubyte.gz": "cfeddb84311ecf044fc6a5b0f6ee8a24d265d4e83e388400186eb114082f4209",
    "t10k-labels-idx1-ubyte.gz": "e41c74e484045d39b462a7790a4af51301bd9b0b24f0154798d713ec68c45920",
    "train-images-idx3-ubyte.gz": "db8f937d487057fb14a9f0fbe97f0bc8d311ab41b750d41e1ff37c43b9e55e19",
    "train-labels-idx1-ubyte.gz": "51fc562b6747b666fbf6e84ce29d43c3cb5f9c388c664d43b33f02095313405a",
}
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian: dataset-fashion-mnist
FASHION_MNIST_HELP = (
    "Fashion-MNIST is not bundled. Install it with `sudo apt-get install dataset-fashion-mnist` "
    f"(it goes to {FASHION_MNIST_DIR}), or pass --data-dir DIR (data_dir=DIR) naming a folder "
    "with the four IDX files: " + ", ".join(f for pair in SPLITS.values() for f in pair)
    + " (gzipped or not)."
)


def verify_sha256(path, expected):
    """Check a file's SHA-256 against `expected` (64 hex digits).

    Raises DataError naming the file, the expected and the actual hash.
    """
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != expected.lower():
        raise DataError(f"{path}: SHA-256 mismatch, expected {expected}, got {digest} "
                        "(the file is damaged or not the one npgan ships)")


def load_mnist(split="train", data_dir=None):
    """Load MNIST handwritten digits.

    split: "train" (60000 images) or "test" (the t10k files, 10000 images).
    data_dir: None for the bundled copy (verified by SHA-256), or a folder
        holding the four IDX files, gzipped or not (not verified: any copy works).
    Returns images (N, 28, 28) uint8 in 0..255 and labels (N,) uint8 in 0..9;
    class names are MNIST_CLASSES.
    """
    if data_dir is None:
        return _load_split(MNIST_DIR, split, sha256=MNIST_SHA256)
    return _load_split(Path(data_dir), split)


def load_fashion_mnist(split="train", data_dir=None):
    """Load Fashion-MNIST (Zalando's clothing images, same format as MNIST).

    split: "train" (60000) or "test" (10000).
    data_dir: a folder with the four IDX files; None for FASHION_MNIST_DIR,
        where Debian's `dataset-fashion-mnist` package installs them.
    Returns images (N, 28, 28) uint8 and labels (N,) uint8 in 0..9; class names
    are FASHION_MNIST_CLASSES. A missing file raises FileNotFoundError saying
    how to get the data.
    """
    folder = FASHION_MNIST_DIR if data_dir is None else Path(data_dir)
    return _load_split(folder, split, hint=FASHION_MNIST_HELP)


def _load_split(folder, split, sha256=None, hint=""):
    """Load one split from folder; verify each file against sha256[name] if given."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    paths = [_find(folder, name, hint) for name in SPLITS[split]]
    if sha256 is not None:
        for path in paths:
            verify_sha256(path, sha256[path.name])
    (images_path, labels_path) = paths
    images, labels = read_idx(images_path), read_idx(labels_path)

    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{images_path}: expected images (N, 28, 28) uint8, "
                        f"got {images.shape} {images.dtype}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels (N,) uint8, "
                        f"got {labels.shape} {labels.dtype}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} has {len(images)} images but {labels_path} "
                        f"has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} is outside 0..9")
    return images, labels


def _find(folder, name, hint=""):
    """Path of `name` in folder, or of the same name without ".gz"."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    if not folder.is_dir():
        kind = "not a folder (a file)" if folder.exists() else "no such folder"
        raise FileNotFoundError(f"{folder}: {kind}." + (f" {hint}" if hint else ""))
    raise FileNotFoundError(f"{folder / name}: no such file (nor without .gz). {hint}".rstrip())


def scale_images(images, dtype=np.float32, *, low=-1.0):
    """Flatten uint8 images and scale 0..255 to [-1, 1], the range of the generator's Tanh
    (or, with ``low=0``, to [0, 1], a Sigmoid generator's: ``cfg.pixel_low``).

    images: (N, H, W), (N, H, W, C) colour (channels last, as Pillow gives them) or (N, D)
    uint8.  Returns (N, H*W), (N, C*H*W) or (N, D) of `dtype`: x = pixel / 127.5 - 1, so
    0 -> -1.0 and 255 -> 1.0; with low=0, x = pixel / 255. Colour rows are laid out channels
    first, (C, H, W), as the networks make them (npgan/models/config.py).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(f"scale_images expects (N, ...) uint8 pixels, "
                         f"got {images.shape} {images.dtype}")
    if low not in (-1, 0):
        raise ValueError(f"scale_images: low must be -1 or 0, got {low}")
    if images.ndim == 4:
        images = images.transpose(0, 3, 1, 2)             # (N, C, H, W), a view
    x = np.empty((len(images), math.prod(images.shape[1:])), dtype)   # (N, D), a new array
    x.reshape(images.shape)[...] = images                 # cast and lay out in one pass
    if low == 0:
        x /= 255.0
        return x
    x /= 127.5
    x -= 1.0
    return x


def batches(x, batch_size, rng, labels=None):
    """Shuffled minibatches for one epoch: a generator of x[idx] (or (x[idx], labels[idx])).

    x: (N, ...) array.  labels: None or (N, ...).  rng: np.random.Generator,
    which draws one permutation of 0..N-1 per call, so each call is a new epoch
    and the same seed gives the same order.
    Yields N // batch_size batches of exactly batch_size rows (batch_size, ...).
    The last N % batch_size samples of the permutation are dropped: BatchNorm
    needs full batches (a batch of 1 has zero variance), and the shuffle means
    a different few are left out each epoch.
    Arguments are checked here, at the call, not at the first next().
    """
    n = len(x)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and the dataset size {n}, got {batch_size}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    if labels is not None and len(labels) != n:
        raise ValueError(f"x has {n} rows but labels has {len(labels)}")
    return _epoch(x, labels, int(batch_size), rng.permutation(n))


def _epoch(x, labels, batch_size, order):
    """The generator behind batches(): consecutive slices of the permutation `order`."""
    for start in range(0, len(order) - batch_size + 1, batch_size):
        idx = order[start:start + batch_size]  # (batch_size,)
        yield x[idx] if labels is None else (x[idx], labels[idx])
