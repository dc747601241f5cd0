"""A training animation: a run folder's per-epoch sample grids as one looping GIF.

    python -m npgan.animate runs/mnist                    # writes runs/mnist/progress.gif
    python -m npgan.animate runs/mnist -o digits.gif --fps 8 --scale 0.5

A run writes ``samples_epoch_NNN.png`` after each epoch, always from the same noise, so
frame after frame shows the same noise vectors (64, or a 10 x 10 grid of codes or classes)
turning into digits. ``Run.train`` calls
``save_progress_gif`` at its end, so every run that completes an epoch leaves a
``progress.gif`` too (a run shorter than one epoch has no grid to animate and writes none).

How the GIF is made, with Pillow only:
  - the frames are the grids in epoch order, sorted by the number in the name: epoch 1000
    comes after epoch 999 (sorting the names would put "1000" before "101");
  - each is centred on a white canvas as large as the largest frame. The grids of one run
    all have one size, so this matters only in a folder that mixes runs; nothing is cut off
    and no pixel is resampled. Transparent pixels become white;
  - ``scale`` < 1 shrinks every frame (Lanczos filter);
  - each grey frame is quantized to a palette of ``colors`` colours by median cut, a
    colour frame (a colour run's grid) to 256, without dithering (dithering adds noise,
    which looks grainy and compresses badly);
  - a frame shows for 1 / fps seconds and the last one for ``hold`` seconds, both rounded
    to hundredths (a GIF counts delays in those, and browsers show one under 0.02 s for
    0.1 s, hence fps <= 50); the GIF loops forever;
  - the file is written with ``checkpoint.atomic_write``: a crash never leaves half a GIF.

With the defaults (4 frames a second, the last held 2 s, 32 colours) a 15-epoch run plays in
5.5 s. 15 frames of the 8 x 8 MNIST grid (494 x 515 pixels) took 1.32 MB from a real run
(the MNIST demo on 6,400 training images, 15 epochs of 100 steps: speckled early samples,
which compress worst), 0.44 MB from grids of MNIST test digits, and 0.53 MB and 0.28 MB
with ``--scale 0.5``. On these grey grids 32 colours differ from the PNGs by at most 1.5
grey levels of 255 on average (64 colours: 1.52 MB for the real run; 16: 1.05 MB).
"""

import argparse
import contextlib
import os
import re
import sys

import numpy as np
from PIL import Image

from npgan.checkpoint import atomic_write

FPS = 4.0                                       # frames a second
HOLD = 2.0                                      # seconds the last frame shows
COLORS = 32                                     # palette size of each grey frame
COLOUR_COLORS = 256                             # and of a colour one (32 turned grids muddy:
#                                                 13.6 of 255 levels off on average, against 1.5)
GRID_NAME = re.compile(r"samples_epoch_(\d+)\.png")   # what Run.train writes after an epoch


class AnimationError(ValueError):
    """A frame cannot be read: the message names the file."""


def check_options(fps, hold, scale, colors):
    """Raise ValueError naming the first option out of its range."""
    if not 0.01 <= fps <= 50:
        raise ValueError(f"fps must be from 0.01 to 50 frames a second, got {fps} (a GIF "
                         "counts hundredths of a second; browsers slow faster frames down)")
    if not 0.02 <= hold <= 600:
        raise ValueError(f"hold must be from 0.02 to 600 seconds, got {hold}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1] (it shrinks frames), got {scale}")
    if not 2 <= colors <= 256:
        raise ValueError(f"colors must be from 2 to 256 (a GIF palette), got {colors}")


def epoch_grids(run_dir, last_epoch=None):
    """The run's per-epoch grids: a list of (epoch, path), sorted by epoch number.

    Names are ``samples_epoch_N.png`` with N any number of digits; grids after
    ``last_epoch`` (if given) are left out, e.g. stale ones of a longer run that an
    ``--overwrite`` run replaced only in part.
    """
    grids = []
    for name in os.listdir(run_dir):
        match = GRID_NAME.fullmatch(name)
        if match and (last_epoch is None or int(match[1]) <= last_epoch):
            grids.append((int(match[1]), os.path.join(run_dir, name)))
    return sorted(grids)


@contextlib.contextmanager
def _reading(path):
    """Turn what Pillow raises for a bad file into one AnimationError naming the file."""
    try:
        yield
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise AnimationError(f"cannot read the frame {path}: {e}") from e


def frame_size(path):
    """(width, height) of the image at ``path``, from its header (no pixels decoded)."""
    with _reading(path), Image.open(path) as im:
        return im.size


def read_frame(path, size):
    """The image at ``path`` centred on a white RGB canvas of ``size`` = (width, height)."""
    with _reading(path), Image.open(path) as im:
        rgba = im.convert("RGBA")                   # decodes: a truncated file fails here
    canvas = Image.new("RGB", size, "white")
    corner = ((size[0] - rgba.width) // 2, (size[1] - rgba.height) // 2)
    canvas.paste(rgba, corner, mask=rgba)           # alpha 0 leaves the white showing
    return canvas


def is_grey(frame):
    """Is this RGB frame grey, R = G = B at every pixel (a grey grid and its black title)?"""
    r, g, b = (np.asarray(c) for c in frame.convert("RGB").split())
    return bool((r == g).all() and (g == b).all())


def save_gif(frames, path, *, fps=FPS, hold=HOLD, scale=1.0, colors=COLORS):
    """Write the images at ``frames`` (a list of at least one path) as a looping GIF.

    Frame k shows for round(100 / fps) hundredths of a second, the last for round(100 * hold).
    See the module docstring for sizes, palette and scale. Returns ``path``.
    """
    check_options(fps, hold, scale, colors)
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    sizes = [frame_size(p) for p in frames]
    size = (max(w for w, _ in sizes), max(h for _, h in sizes))
    shrunk = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    palette = []                    # 1 byte a pixel each; one RGB frame decoded at a time
    for p in frames:
        frame = read_frame(p, size)
        if shrunk != size:
            frame = frame.resize(shrunk, Image.Resampling.LANCZOS)
        palette.append(frame.quantize(colors if is_grey(frame) else COLOUR_COLORS,
                                      method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    centiseconds = [round(100 / fps)] * (len(frames) - 1) + [round(100 * hold)]

    def write(f):
        palette[0].save(f, format="GIF", save_all=True, append_images=palette[1:], loop=0,
                        duration=[10 * cs for cs in centiseconds])      # Pillow takes ms
    return atomic_write(path, write)


def save_progress_gif(run_dir, path=None, *, last_epoch=None, fps=FPS, hold=HOLD, scale=1.0,
                      colors=COLORS):
    """Animate ``run_dir``'s per-epoch grids (up to ``last_epoch``) into ``path`` (default
    ``RUN_DIR/progress.gif``). Returns the path written, or None if there is no grid (a run
    shorter than one epoch): then nothing is written."""
    grids = epoch_grids(run_dir, last_epoch)
    if not grids:
        return None
    path = os.path.join(run_dir, "progress.gif") if path is None else path
    return save_gif([p for _, p in grids], path, fps=fps, hold=hold, scale=scale, colors=colors)


def main(argv=None):
    first, rest = __doc__.replace("``", "").split("\n", 1)
    p = argparse.ArgumentParser(prog="python -m npgan.animate", description=first, epilog=rest,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a run folder holding samples_epoch_NNN.png files, e.g. runs/mnist")
    p.add_argument("-o", "--output", metavar="FILE.gif",
                   help="the GIF to write (default RUN_DIR/progress.gif)")
    p.add_argument("--fps", type=float, default=FPS,
                   help=f"frames a second, 0.01 to 50 (default {FPS:g}: the first 14 of 15 epochs "
                        "take 3.5 s, then the last frame is held)")
    p.add_argument("--hold", type=float, default=HOLD, metavar="SECONDS",
                   help=f"seconds the last frame shows, 0.02 to 600 (default {HOLD:g})")
    p.add_argument("--scale", type=float, default=1.0,
                   help="shrink every frame by this factor in (0, 1], for a smaller file "
                        "(default 1: full size)")
    p.add_argument("--colors", type=int, default=COLORS,
                   help=f"palette size of each frame, 2 to 256 (default {COLORS}; fewer "
                        "colours, smaller file)")
    args = p.parse_args(argv)
    try:
        check_options(args.fps, args.hold, args.scale, args.colors)
    except ValueError as e:
        p.error(f"--{e}")                           # "--fps must be ..."
    output = os.path.join(args.run_dir, "progress.gif") if args.output is None else args.output
    if os.path.splitext(output)[1].lower() != ".gif":
        p.error(f"-o must end in .gif, got {output!r}")
    if not os.path.isdir(args.run_dir):
        what = "is not a folder" if os.path.exists(args.run_dir) else "does not exist"
        print(f"error: the run folder {args.run_dir} {what}", file=sys.stderr)
        return 2
    try:
        grids = epoch_grids(args.run_dir)
        if not grids:
            print(f"error: {args.run_dir} holds no samples_epoch_*.png (a run writes one after "
                  "each epoch it completes)", file=sys.stderr)
            return 2
        save_gif([path for _, path in grids], output, fps=args.fps, hold=args.hold,
                 scale=args.scale, colors=args.colors)
    except (AnimationError, OSError) as e:          # OSError: e.g. no folder for -o
        print(f"error: {e}", file=sys.stderr)
        return 2
    epochs = f"epoch {grids[0][0]}" + (f" to {grids[-1][0]}" if len(grids) > 1 else "")
    print(f"wrote {len(grids)} frames ({epochs}) to {output}, "
          f"{os.path.getsize(output) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
