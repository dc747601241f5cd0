"""Draw images from a trained generator: ``python -m npgan.sample CKPT -n 64 -o grid.png``.

Needs only the checkpoint, not the training data.

    -o FILE.png          a grid of images (in colour for a colour checkpoint)
    -o FILE.npy          the raw samples in [0, 1]: (n, H, W) grey ((n, 28, 28) for MNIST),
                         or (n, H, W, 3) colour, RGB last
    --label K            (conditional checkpoints) draw class K only
    (no --label)         a conditional checkpoint draws the class grid: one row per class
    --code K             (InfoGAN checkpoints, --info) draw code K only; without it, the
                         code grid: one row per code
    --interpolate        rows of images along a path between two noise vectors (for InfoGAN's
                         codes, each row keeps one code, or --code's, and walks the rest):
      --path slerp       a great circle (the default): |z| stays near sqrt(latent_dim), as in
                         training (the docstring of ``slerp`` says why that matters)
      --path linear      the straight line, whose middle has |z| near 0.71 sqrt(latent_dim)
    --backend cupy       run G on an NVIDIA GPU (any checkpoint loads on either backend)

The noise is drawn on the host from --seed, so a seed gives the same images on both backends.
"""

import argparse
import os
import sys

import numpy as np

from npgan.backend import BACKENDS, BackendError, to_host
from npgan.checkpoint import CheckpointError, atomic_write
from npgan.data import FASHION_MNIST_CLASSES, MNIST_CLASSES
from npgan.latent import code_grid, draw_latent
from npgan.models import image_shape_of
from npgan.plots import as_pictures, save_image_grid
from npgan.run_state import load_run

CLASS_NAMES = {"mnist": MNIST_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES}
# The most images one output may hold: a grid past 10,000 is unreadable, and 1,000,000 images
# in a .npy are 3 GB. (GANTrainer.sample runs G on 1,000 at a time.)
MAX_IMAGES = {".png": 10_000, ".npy": 1_000_000}


def generate(trainer, z, labels=None):
    """G's images for noise z (n, latent_dim) [and labels (n,)] in [0, 1], as a NumPy array
    whatever the trainer's backend: (n, H, W) grey or (n, H, W, 3) colour (see
    ``npgan.plots.as_pictures``; (n, 28, 28) for MNIST)."""
    images = to_host(trainer.sample(z.astype(trainer.dtype), labels))
    images += 1
    images /= 2                                             # [-1, 1] -> [0, 1], in place
    return as_pictures(images, image_shape_of(trainer.cfg))


def noise(trainer, n, rng):
    return draw_latent(trainer.cfg, rng, n)


def draw(trainer, n, label, rng, code=None):
    """Return (images, rows) for a plain draw: n samples, of class ``label`` (or InfoGAN's
    ``code``) if given; for a conditional checkpoint without a label, a class grid of
    ceil(n / classes) columns, and for an InfoGAN one without a code, a code grid."""
    if trainer.info:
        K = trainer.cfg.latent_components
        if code is None:
            return generate(trainer, code_grid(trainer.cfg, rng, -(-n // K))), K
        z = noise(trainer, n, rng)
        z[:, :K] = np.arange(K) == code                     # every row: component ``code``
        return generate(trainer, z), None
    if not trainer.conditional:
        return generate(trainer, noise(trainer, n, rng)), None
    if label is not None:
        return generate(trainer, noise(trainer, n, rng), np.full(n, label)), None
    k = trainer.cfg.num_classes
    cols = -(-n // k)
    z = np.tile(noise(trainer, cols, rng), (k, 1))          # column j: the same z in every row
    return generate(trainer, z, np.repeat(np.arange(k), cols)), k


def lerp(z0, z1, t):
    """The straight line z(t) = (1 - t) z0 + t z1.   z0, z1: (d,); t: (m,) -> (m, d)."""
    t = np.asarray(t, dtype=np.float64)[:, None]            # (m, 1)
    return (1 - t) * z0 + t * z1


def slerp(z0, z1, t):
    """Spherical interpolation (White 2016, "Sampling Generative Networks"), the arc of the
    great circle from z0 to z1:

        slerp(z0, z1; t) = sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1,
        cos w = <z0, z1> / (|z0| |z1|),     z0, z1: (d,); t: (m,) in [0, 1] -> (m, d).

    t = 0 and t = 1 give z0 and z1 exactly. Between vectors of equal norm the walk keeps
    that norm and turns at constant speed: the angle between z(t) and z0 is t w.

    Why not the straight line: G was trained on z ~ N(0, I_d), whose norm is close to
    sqrt(d) (the chi distribution: mean about sqrt(d - 1/2), standard deviation about 0.71,
    for any d), and two such draws are nearly orthogonal (cos w ~ N(0, 1/d)). The straight
    line's midpoint (z0 + z1) / 2 then has norm about sqrt(d / 2) = 0.71 sqrt(d): for the
    demos' d = 100 that is 7.1, four standard deviations below the 10 around which the
    training z lay. The middle of a straight walk shows G inputs it never saw; slerp's
    path stays at the norms it did.

    When sin w < 1e-6 (or z0 or z1 is 0) the straight line is returned: for parallel
    vectors (w about 0) it is slerp's limit (the two differ by at most about w^2 / 8 of |z|),
    and for opposite ones (w about pi) no single great circle joins them. Gaussian draws are
    neither, in practice.
    """
    norms = np.linalg.norm(z0) * np.linalg.norm(z1)
    w = np.arccos(np.clip(np.dot(z0, z1) / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if np.sin(w) < 1e-6:
        return lerp(z0, z1, t)
    t = np.asarray(t, dtype=np.float64)[:, None]            # (m, 1)
    a, b = np.sin((1 - t) * w) / np.sin(w), np.sin(t * w) / np.sin(w)   # 1 and 0 at t = 0
    return a * z0 + b * z1                                  # (m, d)


PATHS = {"slerp": slerp, "linear": lerp}


def within_component(walk, a, b, t, K, code=None):
    """A walk for z of a mixture (npgan/latent.py): the one-hot code of a's component (or
    ``code``'s) stays, and only the Gaussian part walks from a's to b's: the prior has no
    path between two components, and G never saw a z between them. (m, latent_dim)."""
    one_hot = (np.arange(K) == (a[:K].argmax() if code is None else code)).astype(a.dtype)
    return np.concatenate([np.tile(one_hot, (len(t), 1)), walk(a[K:], b[K:], t)], axis=1)


def interpolate(trainer, steps, rows, label, rng, path="slerp", code=None):
    """Rows of ``steps`` images along ``PATHS[path]`` from z0 to z1, t from 0 to 1.

    A plain GAN: ``rows`` rows, each with its own pair (z0, z1); when z comes from a mixture
    (InfoGAN's codes), each row keeps one component, a random one or ``code``, and walks its
    Gaussian part. A conditional GAN: one row per class (or only ``label``'s), all walking
    between the same z0 and z1.
    """
    walk, t = PATHS[path], np.linspace(0, 1, steps)
    K = trainer.cfg.latent_components
    if K and not trainer.conditional:                       # a mixture (InfoGAN's codes)
        z = np.concatenate([within_component(walk, *noise(trainer, 2, rng), t, K, code)
                            for _ in range(rows)])
        return generate(trainer, z), rows
    if not trainer.conditional:
        ends = [noise(trainer, 2, rng) for _ in range(rows)]
        z = np.concatenate([walk(a, b, t) for a, b in ends])
        return generate(trainer, z), rows
    a, b = noise(trainer, 2, rng)
    classes = [label] if label is not None else list(range(trainer.cfg.num_classes))
    path = within_component(walk, a, b, t, K) if K else walk(a, b, t)
    z = np.tile(path, (len(classes), 1))
    return generate(trainer, z, np.repeat(classes, steps)), len(classes)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.sample",
                                description=__doc__.split("\n")[0].replace("``", ""),
                                epilog="\n".join(__doc__.split("\n")[4:]).replace("``", ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a checkpoint.npz written by a demo, or its run "
                                       "folder")
    p.add_argument("-n", type=int, default=None,
                   help="number of samples (default 64; at most 10,000 in a .png, 1,000,000 "
                        "in a .npy). A conditional checkpoint without --label draws a class grid "
                        "of -n rounded up to whole columns (default 10 per class), and an "
                        "InfoGAN one without --code a code grid (default 10 per code); "
                        "--label or --code alone: default 100 images. With "
                        "--interpolate: rows of a plain GAN (default 8); a conditional one draws "
                        "a row per class")
    p.add_argument("-o", "--output", default="samples.png",
                   help="output file: .png for a grid, .npy for the raw array in [0, 1], "
                        "(n, H, W) grey or (n, H, W, 3) colour (default samples.png)")
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional only)")
    p.add_argument("--code", type=int, default=None,
                   help="InfoGAN's code to draw (a checkpoint trained with --info only)")
    p.add_argument("--interpolate", action="store_true",
                   help="walk in latent space between two noise vectors")
    p.add_argument("--path", choices=tuple(PATHS), default=None,
                   help="the walk of --interpolate. slerp (default): along the great circle, "
                        "where |z| stays near sqrt(latent_dim), like the noise vectors G was "
                        "trained on; linear: the straight line, whose middle has |z| near "
                        "0.71 sqrt(latent_dim), inputs G never saw")
    p.add_argument("--steps", type=int, default=10, help="images per interpolation row (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="numpy (CPU, the default) or cupy (an NVIDIA GPU)")
    args = p.parse_args(argv)
    if args.n is not None and args.n < 1:
        p.error(f"-n must be at least 1, got {args.n}")
    if args.path is not None and not args.interpolate:
        p.error("--path is for --interpolate")
    if args.steps < 2:
        p.error(f"--steps must be at least 2, got {args.steps}")
    if args.seed < 0:
        p.error(f"--seed must be 0 or more, got {args.seed}")
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".npy"):
        p.error(f"-o must end in .png or .npy, got {args.output!r}")
    try:
        trainer, _, info = load_run(args.checkpoint, backend=args.backend)
    except (BackendError, CheckpointError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        image_shape_of(trainer.cfg)
    except ValueError:
        print(f"error: {args.checkpoint}: its images of {trainer.cfg.image_dim} pixels are not "
              "square, and its config gives no image_shape", file=sys.stderr)
        return 2
    if args.label is not None:
        if not trainer.conditional:
            p.error(f"--label: {args.checkpoint} holds a plain GAN, which cannot be asked for a "
                    "class; train one with --conditional"
                    + (" (its InfoGAN codes are chosen with --code)" if trainer.info else ""))
        if not 0 <= args.label < trainer.cfg.num_classes:
            p.error(f"--label must be a class from 0 to {trainer.cfg.num_classes - 1}, "
                    f"got {args.label}")

    codes = trainer.cfg.latent_components if trainer.info else 0     # InfoGAN's code grid
    if args.code is not None:
        if not codes:
            p.error(f"--code: {args.checkpoint} was not trained with InfoGAN's codes (--info), "
                    "so its noise has no code to choose")
        if not 0 <= args.code < codes:
            p.error(f"--code must be a code from 0 to {codes - 1}, got {args.code}")
    if args.interpolate and trainer.conditional and args.n is not None:
        p.error("-n: --interpolate on a conditional checkpoint draws one row per class (one "
                "with --label), all on the same walk; -n sets the rows of a plain GAN's")
    grid = trainer.cfg.num_classes if trainer.conditional else codes  # rows of a grid
    k = grid if grid and args.label is None and args.code is None else 1
    default = 10 * grid if grid else 64
    total = ((k if trainer.conditional else args.n or 8) * args.steps if args.interpolate
             else k * -(-(args.n or default) // k))
    if total > MAX_IMAGES[ext]:
        p.error(f"that asks for {total:,} images; a {ext} output holds at most "
                f"{MAX_IMAGES[ext]:,} (lower -n or --steps)")

    rng = np.random.default_rng(args.seed)
    if args.interpolate:
        images, rows = interpolate(trainer, args.steps, args.n or 8, args.label, rng,
                                   args.path or "slerp", args.code)
    else:
        images, rows = draw(trainer, args.n or default, args.label, rng, args.code)
    names = CLASS_NAMES.get(info.get("dataset"), None)
    row_labels = None
    if trainer.conditional and rows and names:
        row_labels = [names[args.label]] if args.label is not None and rows == 1 else list(names)
    if codes and rows and not args.interpolate:          # the code grid
        row_labels = [f"code {c}" for c in range(rows)]
    what = (f"class {args.label}" if args.label is not None else
            f"code {args.code}" if args.code is not None else f"step {trainer.step}")
    try:
        if ext == ".npy":
            atomic_write(args.output, lambda f: np.save(f, images.astype(np.float32)))
        else:
            ncol = len(images) // rows if rows else None
            save_image_grid(images * 2 - 1, args.output, nrow=ncol, row_labels=row_labels,
                            title=f"{len(images)} samples, {what}")
    except OSError as e:                                     # e.g. its folder does not exist
        print(f"error: {e}", file=sys.stderr)
        return 2
    rounded = (f" (-n {args.n} rounded up to whole columns of the {rows}-row "
               f"{'class' if trainer.conditional else 'code'} grid; --"
               f"{'label' if trainer.conditional else 'code'} K draws exactly -n)"
               if args.n and not args.interpolate and len(images) != args.n else "")
    print(f"wrote {len(images)} samples to {args.output}{rounded}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
