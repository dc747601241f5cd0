"""Draw images from a trained generator: ``python -m npgan.sample CKPT -n 64 -o grid.png``.

Needs only the checkpoint, not the training data. ``-o FILE.png`` writes a grid;
``-o FILE.npy`` writes the raw samples, shape (n, 28, 28), values in [0, 1].
"""

import argparse
import os
import sys

import numpy as np

from npgan.checkpoint import CheckpointError, atomic_write
from npgan.plots import save_image_grid
from npgan.run import load_run


def generate(trainer, n, seed):
    """n images from G in eval mode, shape (n, 28, 28), values in [0, 1]."""
    z = np.random.default_rng(seed).standard_normal((n, trainer.cfg.latent_dim))
    images = trainer.sample(z.astype(trainer.dtype))
    side = int(round(np.sqrt(trainer.cfg.image_dim)))
    return ((images + 1) / 2).reshape(n, side, side)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.sample", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", help="a checkpoint.npz written by a demo")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("-o", "--output", default="samples.png",
                   help="output file: .png for a grid, .npy for the raw (n, 28, 28) array in [0, 1]")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"-n must be at least 1, got {args.n}")
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".npy"):
        p.error(f"-o must end in .png or .npy, got {args.output!r}")
    try:
        trainer, _, _ = load_run(args.checkpoint)
    except (CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    images = generate(trainer, args.n, args.seed)
    if ext == ".npy":
        atomic_write(args.output, lambda f: np.save(f, images.astype(np.float32)))
    else:
        save_image_grid(images * 2 - 1, args.output, title=f"{args.n} samples, step {trainer.step}")
    print(f"wrote {args.n} samples to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
