"""Your own images for a GAN: a folder of PNG or JPEG files, or a NumPy .npy / .npz array.

    images = load_images("pokemon/", size=(32, 32))   # (N, 32, 32, 3) uint8, or (N, 32, 32) grey
    images = load_images("cat.npy")                    # Quick, Draw!: (N, 784) -> (N, 28, 28)
    x = scale_images(images)                           # (N, C*H*W) in [-1, 1], as for MNIST

Every loader returns uint8 pixels: (N, H, W) for grey images, (N, H, W, 3) for colour ones
(RGB last, as Pillow and matplotlib hold them), so that ``npgan.data.scale_images`` applies.
Every problem is a DataError that names the file or folder and says what to change.

A folder
    is searched with its subfolders (so a dataset sorted into class folders works), for files
    ending in .png, .jpg or .jpeg (any case); other files, and names starting with "." (such
    as macOS's ._ files), are ignored. Images are read in the order of their paths inside the
    folder, sorted; the order decides which ones ``max_images`` keeps (training shuffles).
    All are grey if every file is grey (Pillow modes "1", "L", "LA", "I;16", ..., or a
    palette of greys), else all are RGB. Transparent pixels (RGBA, LA, palette transparency)
    are laid over white; 16-bit grey is scaled to 8 bits; ``grey=True`` converts colour to
    grey (Pillow's "L": 0.299 R + 0.587 G + 0.114 B). The images must all have one size,
    unless ``size`` is given: then each is resized (stretched, not cropped) to H x W with
    Pillow's Lanczos filter.
An array
    .npy, or .npz holding one array (else the one named "images", "x", "x_train" or "arr_0";
    other arrays, such as labels, are ignored) of shape (N, H, W) grey, (N, H, W, 1) grey,
    (N, H, W, 3) colour, or (N, D) with D a square number: flat square grey images, as the
    Quick, Draw! bitmaps ship ((N, 784) -> (N, 28, 28)). Values: uint8 0..255, integers in
    0..255, booleans (0 and 255), or floats in [0, 1] (rounded to the nearest of 256 levels);
    NaN, infinities and anything outside those ranges are refused. ``size`` and ``grey``
    work as for a folder. A .npy is memory-mapped, so ``max_images`` reads only those rows.

Memory: the images are held as uint8, and training holds one float32 copy (4 bytes a value),
so at most MAX_VALUES = 2**28 pixel values are read (1 GiB as float32): for example 21,845
colour images of 64 x 64, 87,381 of 32 x 32, or 342,392 grey ones of 28 x 28. More is
refused before any image is decoded; pass a smaller size or max_images.
"""

import math
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from npgan.idx import DataError

__all__ = ["DataError", "IMAGE_SUFFIXES", "MAX_VALUES", "load_images", "load_image_folder",
           "load_image_array", "find_image_files"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npy", ".npz")
ARRAY_KEYS = ("images", "x", "x_train", "arr_0")       # an .npz's array, in this order
MAX_VALUES = 2 ** 28                 # pixel values read at most: 1 GiB once scaled to float32
GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N")
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)   # Pillow's
CHUNK = 4096                         # array images checked and converted at a time


def load_images(path, *, size=None, grey=False, max_images=None):
    """Images from a folder of PNG/JPEG files or from an .npy/.npz file (see the module
    docstring): uint8 (N, H, W) grey or (N, H, W, 3) colour.

    size:       None (the images' own size, which must be the same for all), or (H, W) to
                resize every image to.
    grey:       convert colour images to grey.
    max_images: read at most this many (the first, in the documented order).
    """
    def whole(n):
        return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
    if max_images is not None and not whole(max_images):
        raise ValueError(f"load_images: max_images must be a whole number >= 1 (or None for "
                         f"all), got {max_images!r}")       # -1 would drop the last image
    if size is not None and not (isinstance(size, (tuple, list)) and len(size) == 2
                                 and all(whole(n) for n in size)):
        raise ValueError(f"load_images: size must be (height, width), two whole numbers >= 1, "
                         f"got {size!r}")
    path = Path(path)
    if path.is_dir():
        return load_image_folder(path, size=size, grey=grey, max_images=max_images)
    if path.suffix.lower() in ARRAY_SUFFIXES and path.is_file():
        return load_image_array(path, size=size, grey=grey, max_images=max_images)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    raise DataError(f"{path}: npgan reads a folder of PNG or JPEG images, or a .npy or .npz "
                    "array of images; this is neither")


def find_image_files(folder):
    """(images, others): the PNG and JPEG files under ``folder`` and its subfolders, sorted by
    their path inside it, and the other files found (names starting with "." are skipped)."""
    folder = Path(folder)
    images, others = [], []

    def unreadable(e):
        raise DataError(f"{e.filename}: cannot list this folder ({e.strerror})")

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                path = Path(root) / name
                (images if path.suffix.lower() in IMAGE_SUFFIXES else others).append(path)
    return sorted(images, key=lambda p: p.relative_to(folder).parts), others


def load_image_folder(folder, *, size=None, grey=False, max_images=None):
    """The PNG and JPEG images under ``folder`` as uint8 (N, H, W) or (N, H, W, 3); see
    ``load_images`` for the arguments and the module docstring for the rules.

    Two passes: the first opens each file's header only (its size and colour mode), so that a
    folder of mixed sizes or too many pixels is refused before anything is decoded; the
    second decodes each image into one array allocated up front.
    """
    folder = Path(folder)
    paths, others = find_image_files(folder)
    if not paths:
        seen = f"; it holds {len(others)} other files, such as {others[0].name}" if others else ""
        raise DataError(f"{folder}: no PNG or JPEG images (files ending in .png, .jpg or "
                        f".jpeg, in this folder or its subfolders){seen}")
    paths = paths[:max_images]
    headers = [read_header(p) for p in paths]                  # [((h, w), grey), ...]
    if size is None:
        (h, w), name = headers[0][0], paths[0].relative_to(folder)
        for p, (hw, _) in zip(paths, headers):
            if hw != (h, w):
                suggest = f"{h}" if h == w else f"{h}x{w}"
                raise DataError(f"{folder}: the images have different sizes: {name} is {h} x {w} "
                                f"and {p.relative_to(folder)} is {hw[0]} x {hw[1]} (height x "
                                f"width); give a size to resize them all to (--size {suggest})")
        size = (h, w)
    colour = not grey and not all(g for _, g in headers)
    shape = (len(paths), *size, 3) if colour else (len(paths), *size)
    check_budget(folder, shape)
    images = np.empty(shape, np.uint8)                          # (N, H, W[, 3])
    for i, p in enumerate(paths):
        images[i] = read_image(p, size, "RGB" if colour else "L")
    return images


def read_header(path):
    """((height, width), grey) of an image file, from its header (nothing is decoded)."""
    try:
        with Image.open(path) as im:
            return (im.height, im.width), is_grey(im)
    except IMAGE_ERRORS as e:
        raise DataError(f"{path}: cannot read it as an image ({e})") from e


def is_grey(im):
    """Whether a Pillow image is grey: a grey mode, or a palette whose colours are all grey."""
    if im.mode in ("P", "PA"):
        palette = np.asarray(im.getpalette() or [], np.int64).reshape(-1, 3)   # (colours, 3)
        return bool((palette == palette[:, :1]).all())
    return im.mode in GREY_MODES


def read_image(path, size, mode):
    """Decode one file as ``mode`` ("L" or "RGB"), resized to ``size`` (H, W): (H, W[, 3])."""
    h, w = size
    try:
        with Image.open(path) as im:
            # A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size directly (still at least
            # H x W): much faster for photos, which the resize would shrink anyway.
            im.draft(None, (w, h))
            im = to_mode(im, mode)
            if im.size != (w, h):
                im = im.resize((w, h), Image.Resampling.LANCZOS)
            return np.asarray(im)
    except IMAGE_ERRORS as e:
        raise DataError(f"{path}: cannot decode this image ({e})") from e


def to_mode(im, mode):
    """A Pillow image as "L" or "RGB": 16-bit grey scaled to 0..255 (Pillow would clip it),
    transparent pixels laid over white, then Pillow's own conversion."""
    if im.mode.startswith("I"):                                  # 16-bit grey: 0..65535
        grey = np.asarray(im, np.float64) / 257
        im = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        over = Image.new("RGBA", im.size, "white")
        im = Image.alpha_composite(over, im.convert("RGBA"))
    return im.convert(mode)


def check_budget(source, shape):
    """Refuse more than MAX_VALUES pixel values (1 GiB once training scales them to float32)."""
    values = math.prod(shape)
    if values > MAX_VALUES:
        n, rest = shape[0], " x ".join(str(s) for s in shape[1:])
        raise DataError(f"{source}: {n:,} images of {rest} are {values:,} pixel values, more "
                        f"than the {MAX_VALUES:,} that npgan reads (1 GiB once scaled to float32 "
                        "for training); give a smaller size (--size) or read fewer images "
                        "(--max-images)")


def load_image_array(path, *, size=None, grey=False, max_images=None):
    """The images of an .npy or .npz file as uint8 (N, H, W) or (N, H, W, 3); see
    ``load_images`` for the arguments and the module docstring for the accepted arrays."""
    path = Path(path)
    x = read_array(path)
    if x.ndim < 2:
        raise DataError(f"{path}: an array of shape {x.shape}: npgan reads images of shape "
                        "(N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, D) with D square")
    x = image_axes(path, x[:max_images])                                     # (N, H, W) or (N, H, W, 3)
    colour = x.ndim == 4 and not grey
    size = tuple(size or x.shape[1:3])
    shape = (len(x), *size, 3) if colour else (len(x), *size)
    check_budget(path, x.shape)
    check_budget(path, shape)
    images = np.empty(x.shape, np.uint8)
    for a in range(0, len(x), CHUNK):                           # reads a memory map in pieces
        images[a:a + CHUNK] = as_uint8(path, x[a:a + CHUNK], first=a)
    if images.shape == shape:
        return images
    out = np.empty(shape, np.uint8)                             # resized, or made grey
    for i, img in enumerate(images):
        im = Image.fromarray(img).convert("RGB" if colour else "L")
        out[i] = np.asarray(im if im.size == size[::-1] else
                            im.resize(size[::-1], Image.Resampling.LANCZOS))
    return out


def read_array(path):
    """The array of an .npy file (memory-mapped) or an .npz file; never unpickles."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
        if not head.startswith((b"\x93NUMPY", b"PK")):   # else numpy calls it pickled data
            raise DataError(f"{path}: not a NumPy .npy or .npz file (its first bytes are "
                            f"{head!r})")
        data = np.load(path, mmap_mode="r", allow_pickle=False)    # an .npz ignores mmap_mode
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read it as a NumPy .npy or .npz file ({e})") from e
    if isinstance(data, np.ndarray):
        return data
    with data:                                                  # an NpzFile: choose one array
        names = data.files
        key = names[0] if len(names) == 1 else next((k for k in ARRAY_KEYS if k in names), None)
        if key is None:
            raise DataError(f"{path} holds the arrays {', '.join(names) or '(none)'}; npgan "
                            "reads its only array, or the one named "
                            + ", ".join(ARRAY_KEYS[:-1]) + f" or {ARRAY_KEYS[-1]} "
                            "(save it with np.savez(file, images=x))")
        try:
            unpacked = data.zip.getinfo(key + ".npy").file_size
        except KeyError:                    # a zip whose member is not an .npy (data.csv)
            raise DataError(f"{path}: its member {key!r} is not a NumPy array (.npy); npgan "
                            "reads .npz files written by np.savez") from None
        if unpacked > 8 * MAX_VALUES:                           # read whole before any check
            raise DataError(f"{path}: its array {key!r} is {unpacked / 2 ** 30:.1f} GiB, too "
                            "large to read whole; save it as .npy, which is read in part "
                            "with --max-images")
        try:
            return data[key]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f"{path}: cannot read its array {key!r} ({e})") from e


def image_axes(path, x):
    """``x`` seen as (N, H, W) grey or (N, H, W, 3) colour pictures (a view), or a DataError
    that says how to reshape it."""
    got = f"{path}: an array of shape {x.shape}"
    if x.shape[0] == 0:
        raise DataError(f"{got} holds no images")
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise DataError(f"{got}: rows of {x.shape[1]} values are not square images; "
                            "reshape it to (N, H, W) or (N, H, W, 3) before saving")
        x = x.reshape(len(x), side, side)
    elif x.ndim == 4 and x.shape[3] == 1:
        x = x[..., 0]
    elif x.ndim == 4 and x.shape[3] == 4:
        raise DataError(f"{got} has 4 channels (RGBA?); npgan reads 1 or 3: drop the alpha "
                        "channel, x[..., :3]")
    elif x.ndim == 4 and x.shape[3] != 3 and x.shape[1] in (1, 3):
        raise DataError(f"{got} looks channels first, (N, C, H, W); npgan reads (N, H, W, C): "
                        "np.moveaxis(x, 1, -1)")
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] == 3)):
        raise DataError(f"{got}: npgan reads images of shape (N, H, W), (N, H, W, 1), "
                        "(N, H, W, 3) or (N, D) with D square")
    if min(x.shape) == 0:
        raise DataError(f"{got} holds no images")
    return x


def as_uint8(path, x, first=0):
    """A chunk of images (images first to first + len(x) of ``path``) as uint8, checked."""
    kind = x.dtype.kind
    if kind == "b":
        return x.astype(np.uint8) * np.uint8(255)
    if kind not in "uif":
        raise DataError(f"{path}: its values are {x.dtype}; npgan reads uint8 0..255, "
                        "integers in 0..255, booleans or floats in [0, 1]")
    if kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            i = first + int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
            raise DataError(f"{path}: NaN or infinite values, the first in image {i}")
    if x.dtype == np.uint8:
        return x
    low, high = x.min(), x.max()
    if kind in "ui" and (low < 0 or high > 255):
        raise DataError(f"{path}: integer values from {low} to {high} (in images {first} to "
                        f"{first + len(x) - 1}); npgan reads 0..255")
    if kind in "ui":
        return x.astype(np.uint8)
    if low < 0 or high > 1:
        hint = (" (0..255 pixels saved as floats: x.astype(np.uint8))" if low >= 0 and high <= 255
                else " (for [-1, 1] data: (x + 1) / 2)" if low >= -1 and high <= 1 else "")
        raise DataError(f"{path}: float values from {low:g} to {high:g} (in images {first} "
                        f"to {first + len(x) - 1}); npgan reads floats in [0, 1]{hint}")
    return np.rint(x * 255).astype(np.uint8)
