"""Train the classifier that npgan.metrics uses: ``python -m npgan.demos.train_classifier``.

    python -m npgan.demos.train_classifier --dataset mnist
    python -m npgan.demos.train_classifier --dataset fashion_mnist

An MLP 784-256-256-10 (ReLU, dropout; see npgan/classifier.py) trained with softmax
cross-entropy and Adam, the learning rate following a cosine from --lr down to 0 over the
epochs. Everything random (weights, dropout masks, shuffling) comes from --seed, so the same
command writes the same weights. The 10,000 test images are used once, at the end, to measure
the accuracy that is printed and saved with the weights (no model selection on them).
Writes runs/classifiers/DATASET.npz (or --out). With --install it replaces the classifier that
ships with npgan (npgan/datasets/classifiers/DATASET.npz), which npgan.metrics uses; the
shipped ones were made with the default settings.
"""

import argparse
import math
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from npgan.classifier import DATASETS, HIDDEN, Classifier, build_classifier, save_classifier, weights_path
from npgan.data import DataError, batches, load_fashion_mnist, load_mnist, scale_images
from npgan.demos.common import threads_for
from npgan.demos.flags import add_threads_flag
from npgan.losses import softmax_cross_entropy
from npgan.optim import Adam

LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
DEFAULT_EPOCHS = {"mnist": 30, "fashion_mnist": 30}


def train(x, y, *, hidden=HIDDEN, epochs, batch_size=128, lr=1e-3, dropout=0.3, seed=0,
          quiet=False):
    """Train a classifier on x: (N, 784) in [-1, 1], y: (N,) labels. Returns the model."""
    model = build_classifier(hidden, dropout=dropout, rng=np.random.default_rng([seed, 0]))
    opt = Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(x) // batch_size
    bar = tqdm(total=epochs * steps_per_epoch, disable=quiet, unit="step", mininterval=0.5)
    for epoch in range(epochs):
        opt.lr = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))    # cosine decay
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        total = 0.0
        for xb, yb in batches(x, batch_size, np.random.default_rng([seed, 1000 + epoch]), labels=y):
            opt.zero_grad()
            loss, dlogits = softmax_cross_entropy(model(xb), yb)
            model.backward(dlogits)
            opt.step()
            total += loss
            bar.update(1)
        bar.set_postfix(loss=f"{total / steps_per_epoch:.4f}")
    bar.close()
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.demos.train_classifier",
                                description=__doc__.split("\n")[0].replace("``", ""))
    p.add_argument("--dataset", choices=DATASETS, default="mnist", help="data to train on (default mnist)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 30)")
    p.add_argument("--batch-size", type=int, default=128, help="examples per step (default 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's starting learning rate (default 1e-3)")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout rate of the hidden layers (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, dropout and shuffling (default 0)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", default=None,
                       help="weights file (default runs/classifiers/DATASET.npz)")
    where.add_argument("--install", action="store_true",
                       help="replace the classifier that ships with npgan (used by npgan.metrics)")
    p.add_argument("--data-dir", default=None, help="read the IDX files from this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads_flag(p, tuned=False)
    args = p.parse_args(argv)
    _, threads_note = threads_for(args.threads, "numpy", tuned=False)
    if not args.quiet:
        print(threads_note)
    epochs = args.epochs or DEFAULT_EPOCHS[args.dataset]
    if epochs < 1 or args.batch_size < 1 or not args.lr > 0 or not 0 <= args.dropout < 1:
        p.error("need --epochs >= 1, --batch-size >= 1, --lr > 0 and 0 <= --dropout < 1")
    load = LOADERS[args.dataset]
    try:
        (train_images, train_labels), (test_images, test_labels) = (
            load(split, args.data_dir) for split in ("train", "test"))
    except (DataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    model = train(scale_images(train_images), train_labels.astype(np.int64), epochs=epochs,
                  batch_size=args.batch_size, lr=args.lr, dropout=args.dropout, seed=args.seed,
                  quiet=args.quiet)
    seconds = time.perf_counter() - start
    info = {"dataset": args.dataset, "hidden": list(HIDDEN), "epochs": epochs,
            "batch_size": args.batch_size, "lr": args.lr, "dropout": args.dropout,
            "seed": args.seed}
    clf = Classifier(model, info)
    info["train_accuracy"] = float((clf.predict(scale_images(train_images)) == train_labels).mean())
    info["test_accuracy"] = float((clf.predict(scale_images(test_images)) == test_labels).mean())
    out = (weights_path(args.dataset) if args.install
           else args.out or os.path.join("runs", "classifiers", f"{args.dataset}.npz"))
    try:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        save_classifier(out, model, info)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.dataset}: test accuracy {info['test_accuracy']:.4f} "
          f"(train {info['train_accuracy']:.4f}) after {epochs} epochs in {seconds:.0f} s; "
          f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
