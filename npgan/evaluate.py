"""Measure a trained generator: ``python -m npgan.evaluate CKPT [-n 10000] [--seed S]``.

Prints the classifier score, the Frechet distance of classifier features to the test set,
the class shares (mode coverage) and, for a conditional checkpoint, the label accuracy, each
beside the same figure for real test images (see npgan/metrics.py). The classifier is the
one shipped for the dataset the checkpoint was trained on (MNIST unless it says otherwise).
``--parzen`` adds the Parzen-window log-likelihood of Goodfellow et al. 2014 (npgan/parzen.py).
"""

import argparse
import os
import sys

from npgan.checkpoint import CheckpointError
from npgan.classifier import DATASETS
from npgan.data import DataError
from npgan.metrics import evaluate, format_metrics, save_metrics
from npgan.run_state import load_run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.evaluate",
                                description=__doc__.split("\n")[0].replace("``", ""),
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", help="a checkpoint.npz written by a demo, or its run "
                                       "folder")
    p.add_argument("-n", type=int, default=10000, help="number of samples (and real images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and of the real subset")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the figures here")
    p.add_argument("--data-dir", default=None, help="read the dataset's IDX files from here")
    p.add_argument("--parzen", action="store_true",
                   help="also the Gaussian Parzen-window log-likelihood of the test images, the "
                        "GAN paper's protocol (npgan/parzen.py; about 15 s more)")
    args = p.parse_args(argv)
    if args.n < 2:
        p.error(f"-n must be at least 2, got {args.n}")
    if args.seed < 0:
        p.error(f"--seed must be 0 or more, got {args.seed}")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        p.error(f"--json {args.json}: its folder does not exist")
    try:
        trainer, _, info = load_run(args.checkpoint)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dataset = info.get("dataset", "mnist")
    if dataset not in DATASETS:
        print(f"error: {args.checkpoint}: no classifier for its dataset {dataset!r}; npgan "
              f"ships classifiers for {' and '.join(DATASETS)} only, so a GAN trained on other "
              "images (npgan.demos.images) has no classifier metrics", file=sys.stderr)
        return 2
    if trainer.cfg.image_dim != 784:
        print(f"error: {args.checkpoint}: its images have {trainer.cfg.image_dim} pixels; the "
              "classifiers take 28 x 28 = 784", file=sys.stderr)
        return 2
    try:
        metrics = evaluate(trainer, dataset, n=args.n, seed=args.seed, data_dir=args.data_dir,
                           parzen=args.parzen)
        print(format_metrics(metrics))
        if args.json:
            save_metrics(metrics, args.json)
            print(f"wrote {args.json}")
    except (CheckpointError, DataError, OSError) as e:    # classifier weights, dataset files
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
