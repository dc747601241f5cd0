"""Your own images: the loaders (npgan/images.py) read what the test writes, pixel for pixel,
and refuse what they cannot read, naming the file; the demo (python -m npgan.demos.images)
trains on them with the MNIST demo's outputs, resumes, and its checkpoint samples in colour."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import npgan.images
from npgan.demos.images import main as images_main
from npgan.demos.images import parse_size
from npgan.evaluate import main as evaluate_main
from npgan.images import DataError, load_images
from npgan.run_state import load_run
from small_runs import sample

RNG = np.random.default_rng(7)
GREY = RNG.integers(0, 256, (5, 6, 8), dtype=np.uint8)          # 5 grey images, 6 high, 8 wide
COLOUR = RNG.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)     # 4 colour ones


def save(folder, name, pixels, **kwargs):
    """Write uint8 ``pixels`` (H, W) or (H, W, C) as an image file; returns its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)
    return path


def mode_of(path):
    with Image.open(path) as im:
        return im.mode


def rgb_pixels(path):
    """An image file's pixels as ints (H, W, 3)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def smooth(h, w, colour):
    """A smooth picture (JPEG keeps it within a few levels): a ramp, per channel if colour."""
    ramp = np.add.outer(np.linspace(30, 200, h), np.linspace(0, 40, w))     # (h, w)
    return (np.stack([ramp, ramp[::-1], ramp[:, ::-1]], -1) if colour else ramp).astype(np.uint8)


@pytest.fixture
def grey_folder(tmp_path):
    """GREY as PNGs, two of them in a subfolder, beside files that are not images."""
    folder = tmp_path / "grey"
    for i, name in enumerate(["a.png", "b.PNG", "c.png", "sub/d.png", "sub/e.png"]):
        save(folder, name, GREY[i])
    (folder / "notes.txt").write_text("not an image")
    (folder / "._a.png").write_bytes(b"macOS metadata, not an image")
    return folder


@pytest.fixture
def colour_folder(tmp_path):
    folder = tmp_path / "colour"
    for i in range(len(COLOUR)):
        save(folder, f"img{i}.png", COLOUR[i])
    return folder


def images_demo(capsys, *args):
    """``python -m npgan.demos.images ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = images_main([str(a) for a in args])
    except SystemExit as e:                         # argparse's error() exits with 2
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# -- the loaders ---------------------------------------------------------------------------

def test_grey_folder_is_read_exactly_in_path_order_with_subfolders(grey_folder):
    images = load_images(grey_folder)
    assert images.dtype == np.uint8 and images.shape == (5, 6, 8)
    np.testing.assert_array_equal(images, GREY)                 # a, b, c, then sub/d, sub/e
    np.testing.assert_array_equal(load_images(grey_folder, max_images=2), GREY[:2])


def test_colour_folder_is_read_exactly_and_grey_files_join_it_as_rgb(colour_folder):
    np.testing.assert_array_equal(load_images(colour_folder), COLOUR)
    save(colour_folder, "z_grey.png", GREY[0])                  # one grey file among colour
    images = load_images(colour_folder)
    assert images.shape == (5, 6, 8, 3)
    np.testing.assert_array_equal(images[4], np.repeat(GREY[0][..., None], 3, axis=-1))


def test_grey_flag_uses_pillows_luma(colour_folder):
    images = load_images(colour_folder, grey=True)
    assert images.shape == (4, 6, 8)
    r, g, b = (COLOUR[..., c].astype(float) for c in range(3))
    assert np.abs(images - (0.299 * r + 0.587 * g + 0.114 * b)).max() <= 1     # ITU-R 601 luma


def test_jpeg_grey_and_colour_come_back_within_a_few_levels(tmp_path):
    for colour in (False, True):
        folder = tmp_path / f"jpeg{colour}"
        picture = smooth(16, 24, colour)
        save(folder, "x.jpg", picture, quality=95)
        save(folder, "y.jpeg", picture, quality=95)
        images = load_images(folder)
        assert images.shape == (2, *picture.shape)
        assert np.abs(images.astype(int) - picture).mean() < 2.0, colour


def test_transparency_palette_and_16_bit_grey(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (255, 0, 0, 255)                                 # top half opaque red
    save(tmp_path / "t", "rgba.png", rgba)                      # bottom half fully transparent
    images = load_images(tmp_path / "t")
    assert images.shape == (1, 4, 4, 3)
    assert (images[0, :2] == (255, 0, 0)).all() and (images[0, 2:] == 255).all()   # over white

    greys = Image.fromarray(GREY[0]).convert("P")               # a palette of greys: grey
    save(tmp_path / "p", "p.png", np.asarray(greys.convert("L")))
    greys.save(tmp_path / "p" / "q.png")
    assert mode_of(tmp_path / "p" / "q.png") == "P"
    assert load_images(tmp_path / "p").shape == (2, 6, 8)

    save(tmp_path / "d", "deep.png", np.array([[0, 257 * 128, 65535]], np.uint16))   # 16 bits
    assert mode_of(tmp_path / "d" / "deep.png") == "I;16"
    np.testing.assert_array_equal(load_images(tmp_path / "d"), [[[0, 128, 255]]])


def test_size_resizes_mixed_sizes_and_keeps_a_flat_colour(tmp_path):
    folder = tmp_path / "mixed"
    save(folder, "small.png", np.full((5, 7, 3), (10, 200, 90), np.uint8))
    save(folder, "large.png", np.full((40, 30, 3), (10, 200, 90), np.uint8))
    with pytest.raises(DataError, match=r"mixed: the images have different sizes: large.png "
                                        r"is 40 x 30 and small.png is 5 x 7 .*--size 40x30"):
        load_images(folder)
    images = load_images(folder, size=(12, 16))
    assert images.shape == (2, 12, 16, 3)
    assert np.abs(images.astype(int) - (10, 200, 90)).max() <= 1       # stretched, same colour


def test_arrays_npy_npz_and_their_value_types(tmp_path):
    flat = RNG.integers(0, 256, (9, 784), dtype=np.uint8)       # Quick, Draw!'s layout
    np.save(tmp_path / "cat.npy", flat)
    np.testing.assert_array_equal(load_images(tmp_path / "cat.npy"), flat.reshape(9, 28, 28))
    np.testing.assert_array_equal(load_images(tmp_path / "cat.npy", max_images=4),
                                  flat[:4].reshape(4, 28, 28))

    np.savez(tmp_path / "data.npz", images=COLOUR, labels=np.arange(4))   # labels ignored
    np.testing.assert_array_equal(load_images(tmp_path / "data.npz"), COLOUR)
    np.savez(tmp_path / "one.npz", whatever=GREY[..., None])    # the only array; (N, H, W, 1)
    np.testing.assert_array_equal(load_images(tmp_path / "one.npz"), GREY)

    unit = RNG.uniform(0, 1, (3, 5, 5)).astype(np.float32)      # floats in [0, 1]
    np.save(tmp_path / "unit.npy", unit)
    np.testing.assert_array_equal(load_images(tmp_path / "unit.npy"), np.rint(unit * 255))
    np.save(tmp_path / "mask.npy", unit > 0.5)                  # booleans: 0 and 255
    np.testing.assert_array_equal(load_images(tmp_path / "mask.npy"), 255 * (unit > 0.5))
    np.save(tmp_path / "ints.npy", GREY.astype(np.int64))       # integers in 0..255
    np.testing.assert_array_equal(load_images(tmp_path / "ints.npy"), GREY)

    assert load_images(tmp_path / "data.npz", size=(3, 4)).shape == (4, 3, 4, 3)
    assert load_images(tmp_path / "data.npz", grey=True).shape == (4, 6, 8)


def write(path, data):
    """Write bytes or text to ``path`` (its folder created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
    return path


def array(path, x):
    np.save(path, x)
    return path


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def cut_png(tmp_path):
    """A folder holding one PNG cut short after its header."""
    whole = save(tmp_path, "whole.png", COLOUR[0]).read_bytes()
    return write(tmp_path / "cut" / "cut.png", whole[:60]).parent


NAN = np.where(np.arange(3)[:, None, None] == 2, np.nan, np.zeros((3, 4, 4)))   # image 2: NaN
LOADER_ERRORS = {   # name: (writes the bad input into tmp_path and returns it, what is said)
    "empty folder": (lambda t: t, "no PNG or JPEG images"),
    "only other files": (lambda t: write(t / "x.txt", "hi").parent,
                         "no PNG or JPEG images .*1 other files, such as x.txt"),
    "not an image": (lambda t: write(t / "f" / "bad.png", b"hello").parent,
                     "bad.png: cannot read it as an image"),
    "truncated image": (cut_png, "cut.png: cannot decode this image"),
    "NaN": (lambda t: array(t / "nan.npy", NAN),
            "nan.npy: NaN or infinite values, the first in image 2"),
    "floats in [-1, 1]": (lambda t: array(t / "tanh.npy", np.linspace(-1, 1, 48).reshape(3, 4, 4)),
                          r"tanh.npy: float values from -1 to 1 .*\(x \+ 1\) / 2"),
    "floats in 0..255": (lambda t: array(t / "f.npy", np.full((3, 4, 4), 200.0)),
                         r"f.npy: float values from 200 to 200 .*x.astype\(np.uint8\)"),
    "integers past 255": (lambda t: array(t / "i.npy", np.full((3, 4, 4), 256)),
                          "i.npy: integer values from 256 to 256"),
    "channels first": (lambda t: array(t / "chw.npy", np.zeros((2, 3, 8, 8), np.uint8)),
                       r"chw.npy: an array of shape \(2, 3, 8, 8\) looks channels first"),
    "RGBA array": (lambda t: array(t / "rgba.npy", np.zeros((2, 8, 8, 4), np.uint8)),
                   "rgba.npy: .* has 4 channels"),
    "rows not square": (lambda t: array(t / "flat.npy", np.zeros((2, 50), np.uint8)),
                        "flat.npy: .*rows of 50 values are not square"),
    "one dimension": (lambda t: array(t / "v.npy", np.zeros(9, np.uint8)),
                      r"v.npy: an array of shape \(9,\): npgan reads images of shape"),
    "zero dimensions": (lambda t: array(t / "z.npy", np.zeros((), np.uint8)),
                        r"z.npy: an array of shape \(\): npgan reads images of shape"),
    "no rows": (lambda t: array(t / "rows.npy", np.zeros((0, 784), np.uint8)),
                r"rows.npy: an array of shape \(0, 784\) holds no images"),
    "no images": (lambda t: array(t / "none.npy", np.zeros((0, 8, 8), np.uint8)),
                  "none.npy: .* holds no images"),
    "complex values": (lambda t: array(t / "c.npy", np.zeros((2, 4, 4), complex)),
                       "c.npy: its values are complex128"),
    "object array": (lambda t: array(t / "o.npy", np.array([None, 1], dtype=object)),
                     "o.npy: cannot read it as a NumPy"),
    "not NumPy": (lambda t: write(t / "x.npy", b"hello"), "x.npy: not a NumPy .npy or .npz file"),
    "npz without a known name": (lambda t: npz(t / "two.npz", a=GREY, b=GREY),
                                 "two.npz holds the arrays a, b; npgan reads its only array, "
                                 "or the one named images"),
    "missing": (lambda t: t / "nowhere", "nowhere: no such file or folder"),
    "other file type": (lambda t: write(t / "x.csv", "1,2"),
                        "x.csv: npgan reads a folder of PNG or JPEG images, or a .npy"),
}


@pytest.mark.parametrize("case", LOADER_ERRORS, ids=list(LOADER_ERRORS))
def test_every_loader_error_names_the_file(tmp_path, case):
    write, message = LOADER_ERRORS[case]
    path = write(tmp_path)
    with pytest.raises(DataError, match=message) as e:
        load_images(path)
    assert str(path) in str(e.value) or path.name in str(e.value)


def test_too_many_pixels_are_refused_before_anything_is_decoded(grey_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(npgan.images, "MAX_VALUES", 4 * 6 * 8)          # 4 of the 5 images
    decode = npgan.images.read_image
    monkeypatch.setattr(npgan.images, "read_image", lambda *a: pytest.fail("decoded"))
    with pytest.raises(DataError, match=r"grey: 5 images of 6 x 8 are 240 pixel values, "
                                        r"more than the 192 .*--max-images"):
        load_images(grey_folder)
    monkeypatch.setattr(npgan.images, "read_image", decode)
    np.testing.assert_array_equal(load_images(grey_folder, max_images=4), GREY[:4])
    np.save(tmp_path / "big.npy", np.zeros((5, 6, 8), np.uint8))
    with pytest.raises(DataError, match="big.npy: 5 images"):
        load_images(tmp_path / "big.npy")


# -- the demo ------------------------------------------------------------------------------

def test_demo_trains_on_a_colour_folder_and_writes_every_output(colour_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = images_demo(capsys, colour_folder, "--max-steps", "3", "--batch-size", "2",
                                    "--out", out, "--quiet")               # metrics: default off
    assert code == 0, err
    assert "read 4 colour images of 6 x 8 pixels" in stdout
    assert "classifier" not in err and not (out / "metrics.json").exists()
    for name in ("samples.png", "losses.png", "history.csv", "config.json", "checkpoint.npz"):
        assert (out / name).is_file(), name
    # 2,000 epochs of 2 steps: a grid every 40th epoch (npgan.run.MAX_EPOCH_OUTPUTS), none yet
    assert not list(out.glob("samples_epoch_*.png"))
    grid = rgb_pixels(out / "samples.png")
    assert np.abs(grid - grid[..., :1]).max() > 10              # a colour grid, not grey
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "images" and config["model"]["image_shape"] == [3, 6, 8]
    assert config["data"]["path"] == str(colour_folder) and config["epochs"] == 2000
    trainer, history, _ = load_run(out / "checkpoint.npz")
    assert trainer.cfg.image_shape == (3, 6, 8) and trainer.step == 3 and len(history["d_loss"]) == 3
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 3


@pytest.mark.parametrize("kwargs, message", [
    ({"max_images": 0}, "max_images must be a whole number >= 1"),      # was an IndexError
    ({"max_images": -1}, "max_images must be a whole number >= 1"),     # dropped the last image
    ({"max_images": 2.5}, "max_images must be a whole number >= 1"),
    ({"size": (0, 5)}, r"size must be \(height, width\), two whole numbers >= 1, got \(0, 5\)"),
    ({"size": 8}, "size must be"),
])
def test_load_images_names_a_bad_count_or_size(grey_folder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_images(grey_folder, **kwargs)


def test_an_npz_whose_member_is_not_an_array_is_a_data_error(tmp_path):
    import zipfile
    path = tmp_path / "z.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data.csv", "1,2,3\n")
    with pytest.raises(DataError, match="its member 'data.csv' is not a NumPy array"):
        load_images(path)                                               # was a bare KeyError


def test_demo_resumes_with_the_recorded_data_and_refuses_other_data(colour_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = images_demo(capsys, colour_folder, "--max-steps", "2", "--batch-size", "2",
                               "--out", out, "--eval-samples", "0", "--quiet")
    assert code == 0, err
    ckpt = out / "checkpoint.npz"
    code, stdout, err = images_demo(capsys, "--resume", ckpt, "--max-steps", "3", "--quiet",
                                    "--eval-samples", "0")             # no PATH: the recorded one
    assert code == 0, err
    assert "resuming at step 2" in stdout and load_run(ckpt)[0].step == 3
    code, _, err = images_demo(capsys, "--resume", ckpt, "--max-steps", "4", "--grey")
    assert code == 2
    assert "was trained on 6 x 8 colour images, but the data given now are 6 x 8 grey" in err
    assert load_run(ckpt)[0].step == 3                                  # nothing was written
    # fewer images: another epoch length, which would renumber the run's epochs
    code, _, err = images_demo(capsys, "--resume", ckpt, "--max-steps", "4", "--max-images", "2")
    assert code == 2 and re.search(r"this run trained on \d+ images; resuming it on 2 ", err), err
    assert load_run(ckpt)[0].step == 3
    # the same images elsewhere (a moved folder): allowed, and said
    import shutil
    moved = shutil.copytree(colour_folder, tmp_path / "moved")
    code, _, err = images_demo(capsys, moved, "--resume", ckpt, "--max-steps", "4", "--quiet",
                               "--eval-samples", "0")
    assert code == 0, err
    assert f"note: resuming on {moved}; this run was trained on {colour_folder}" in err


def test_demo_trains_a_dcgan_on_grey_images_and_sizes_must_suit_it(grey_folder, tmp_path, capsys):
    code, _, err = images_demo(capsys, grey_folder, "--model", "dcgan", "--out", tmp_path / "x")
    assert code == 2 and "divisible by 4; got 6 x 8" in err and "--size 8x8" in err
    assert not (tmp_path / "x").exists()
    out = tmp_path / "dcgan"
    code, _, err = images_demo(capsys, grey_folder, "--model", "dcgan", "--size", "8",
                               "--max-steps", "1", "--batch-size", "4", "--out", out,
                               "--eval-samples", "0", "--quiet")
    assert code == 0, err
    trainer, _, _ = load_run(out / "checkpoint.npz")
    assert trainer.cfg.model == "dcgan" and trainer.cfg.image_shape == (1, 8, 8)


DEMO_ERRORS = {   # name: (arguments after PATH, the message); PATH holds two 6 x 8 PNGs
    "conditional": (["--conditional"], "unrecognized arguments: --conditional"),   # no labels
    "bad size": (["--size", "0x8"], "argument --size: '0x8' is not a size like 32 or 32x48"),
    "batch too large": (["--batch-size", "9"], "a batch of 9 is larger than the 2 training"),
    "no --data-dir": (["--data-dir", "."], "unrecognized arguments: --data-dir"),
    "mixed sizes": (["--max-images", "3"], "data: the images have different sizes: a.png is "
                                           "6 x 8 and c.png is 4 x 8"),
}


@pytest.mark.parametrize("case", DEMO_ERRORS, ids=list(DEMO_ERRORS))
def test_demo_errors_exit_2_and_write_nothing(tmp_path, capsys, case):
    args, message = DEMO_ERRORS[case]
    folder = tmp_path / "data"
    for name, pixels in (("a.png", GREY[0]), ("b.png", GREY[1]), ("c.png", GREY[2][:4])):
        save(folder, name, pixels)
    if "--max-images" not in args:
        args = args + ["--max-images", "2"]                     # a.png and b.png: one size
    code, _, err = images_demo(capsys, folder, *args, "--out", tmp_path / "out")
    assert code == 2 and message in err, err
    assert not (tmp_path / "out").exists()


def test_python_dash_m_names_an_empty_folder_and_exits_2(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-m", "npgan.demos.images", str(tmp_path / "empty"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert f"error: {tmp_path / 'empty'}: no PNG or JPEG images" in done.stderr
    done = subprocess.run([sys.executable, "-m", "npgan.demos.images"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "give the images to train on" in done.stderr


def test_parse_size():
    assert parse_size("32") == (32, 32) and parse_size("32x48") == (32, 48)
    assert parse_size("16X8") == (16, 8)


def test_colour_checkpoint_samples_to_npy_and_rgb_png_and_evaluate_refuses(colour_folder, tmp_path,
                                                                           capsys):
    out = tmp_path / "run"
    code, _, err = images_demo(capsys, colour_folder, "--max-steps", "1", "--batch-size", "2",
                               "--out", out, "--eval-samples", "0", "--quiet")
    assert code == 0, err
    ckpt = out / "checkpoint.npz"
    code, _, err = sample(capsys, ckpt, "-n", "5", "-o", tmp_path / "x.npy")
    assert code == 0, err
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (5, 6, 8, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    code, _, err = sample(capsys, ckpt, "-n", "6", "-o", tmp_path / "grid.png")
    assert code == 0, err
    grid = rgb_pixels(tmp_path / "grid.png")
    assert np.abs(grid - grid[..., :1]).max() > 10
    assert evaluate_main([str(ckpt)]) == 2
    assert "no classifier for its dataset 'images'" in capsys.readouterr().err


def test_a_checkpoint_written_before_image_shape_still_loads_and_samples(tmp_path, capsys):
    from npgan.checkpoint import load_checkpoint, save_checkpoint
    from small_runs import small_checkpoint
    ckpt = small_checkpoint(tmp_path)
    arrays, meta = load_checkpoint(ckpt)
    del meta["config"]["image_shape"]                           # as every older checkpoint
    save_checkpoint(ckpt, arrays, meta)
    assert load_run(ckpt)[0].cfg.image_shape == ()
    code, _, err = sample(capsys, ckpt, "-n", "3", "-o", tmp_path / "old.npy")
    assert code == 0, err
    assert np.load(tmp_path / "old.npy").shape == (3, 28, 28)
