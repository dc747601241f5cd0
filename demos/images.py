"""Train a GAN on your own images: ``python -m npgan.demos.images PATH``.

PATH is a folder of PNG or JPEG images (its subfolders too), or a .npy / .npz array of
images, such as one of the Quick, Draw! bitmap files ((N, 784) uint8: 28 x 28 drawings);
npgan/images.py says exactly what is read and how. Grey images train a grey GAN, colour
ones a colour GAN. The flags, outputs and checkpoints are the MNIST demo's, plus:

    --size H[xW]      resize every image to H x W pixels (needed when their sizes differ)
    --grey            convert colour images to grey
    --max-images N    read only the first N images

The default --epochs are as many as make about 4,000 steps of batch 64, whatever the number
of images. Measured on 2 busy CPU cores: 3,000 colour images of 32 x 32 train for 87 epochs
in 3 min 16 s (coloured blobs where the data has coloured discs and squares); MNIST's
10,000 test images written as PNG files, 26 epochs in 61 s (recognizable digits). With
--model dcgan a step takes longer (82 ms for 32 x 32 colour on 2 quiet cores: about 6
minutes). Outputs go to runs/images/ (runs/images_dcgan/ with --model dcgan). A resumed run (--resume CKPT) reads the PATH, --size, --grey and
--max-images it was started with unless given again. There is no classifier for your own
images, so no metrics.json; and no labels, so no --conditional.
"""

import argparse
import os
import sys

from npgan.data import DataError
from npgan.demos.common import main as demo_main
from npgan.demos.flags import positive
from npgan.images import load_images
from npgan.models import DCGANConfig, shape_fields

DEFAULT_STEPS = 4000
DESCRIPTION = ("Train a GAN on your own images: a folder of PNG or JPEG files (grey or colour, "
               "with its subfolders), or a .npy or .npz array (N, H, W), (N, H, W, 3) or "
               "(N, D) with D square, uint8 or floats in [0, 1]. The same flags and outputs as "
               "python -m npgan.demos.mnist; with the defaults, about 4,000 steps (about 3 minutes "
               "on 2 CPU cores for 32 x 32 colour images, 1 minute for 28 x 28 grey ones).")


def parse_size(text):
    """An argparse type: "32" -> (32, 32), "32x48" -> (32, 48), height x width."""
    parts = text.lower().split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) not in (1, 2) or min(size) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 32 or 32x48 "
                                         "(height x width, in pixels)")
    return size * 2 if len(size) == 1 else size


def add_arguments(parser):
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="a folder of PNG or JPEG images (searched with its subfolders), "
                             "or a .npy or .npz file of images (optional with --resume)")
    parser.add_argument("--size", type=parse_size, default=None, metavar="H[xW]",
                        help="resize every image to H x W pixels (32: 32 x 32; 32x48: 32 high, "
                             "48 wide); needed when the images' sizes differ")
    parser.add_argument("--grey", "--gray", action="store_true", default=None,
                        help="convert colour images to grey (a grey GAN is 3x smaller)")
    parser.add_argument("--max-images", type=positive(int), default=None, metavar="N",
                        help="read only the first N images (in the order of their file names, "
                             "or of the array's rows)")


def read_data(args, info):
    """Load the images PATH names (a resumed run: the ones it was started with, unless given)
    and record the flags in ``info["data"]``; returns (images, None): there are no labels."""
    if args.conditional:
        raise DataError("a conditional GAN (--conditional, or num_classes in a --config file) "
                        "needs a class label for every image, and your own images have none; "
                        "train a plain GAN")
    saved = info.get("data", {})
    if args.path and not args.resume:       # a new PATH: a --config file's data flags go too
        saved = {}
    elif saved and not args.path and not args.resume:
        print(f"data: {saved.get('path')} and its flags, from {args.config}")
    path = args.path or saved.get("path")
    if args.resume and args.path and saved.get("path") not in (None, os.path.abspath(args.path)):
        print(f"note: resuming on {args.path}; this run was trained on {saved['path']} (its "
              "config.json will name the new path)", file=sys.stderr)
    if path is None:
        raise DataError("give the images to train on: python -m npgan.demos.images PATH, where "
                        "PATH is a folder of PNG or JPEG files or a .npy or .npz array")
    size = args.size or (tuple(saved["size"]) if saved.get("size") else None)
    grey = bool(saved.get("grey", False) if args.grey is None else args.grey)
    max_images = args.max_images or saved.get("max_images")
    images = load_images(path, size=size, grey=grey, max_images=max_images)
    h, w = images.shape[1:3]
    colour = images.ndim == 4
    if args.model == "dcgan" and not args.resume:               # the DCGAN's own rule
        try:
            DCGANConfig(**shape_fields((3 if colour else 1, h, w)))
        except ValueError as e:
            raise DataError(f"{path}: --model dcgan: {e}; resize the images to such a size "
                            f"with --size (e.g. --size {-(-h // 4) * 4}x{-(-w // 4) * 4})") from None
    info["data"] = {"path": os.path.abspath(path), "size": list(size) if size else None,
                    "grey": grey, "max_images": max_images}
    print(f"read {len(images):,} {'colour' if colour else 'grey'} images of {h} x {w} pixels "
          f"from {path}")
    return images, None


def main(argv):
    """The demo on ``argv`` (the arguments after the program's name); returns the exit code."""
    return demo_main(argv, dataset="images", description=DESCRIPTION, add_arguments=add_arguments,
                     read_data=read_data, default_steps=DEFAULT_STEPS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
