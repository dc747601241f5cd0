"""Tests for npgan.plots: grid layout checked pixel by pixel, and the PNG files it writes."""
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from npgan.plots import as_pictures, make_grid, save_image_grid, save_loss_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def constant_tiles(n, h=4, w=5):
    """Tile k is filled with 2k/n - 1, so make_grid maps it to k / n."""
    return np.stack([np.full((h, w), 2 * k / n - 1) for k in range(n)])     # (n, h, w)


def assert_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]   # no temp files
    return imread(path)                                                     # (H, W, 4)


def test_make_grid_places_each_tile():
    n, h, w, pad, cols = 7, 4, 5, 2, 3
    grid = make_grid(constant_tiles(n, h, w), nrow=cols, pad=pad, pad_value=0.25)
    assert grid.shape == (3 * (h + pad) + pad, cols * (w + pad) + pad)
    covered = np.zeros(grid.shape, bool)
    for k in range(9):                                   # 7 images, then 2 blank tiles
        top, left = pad + (k // cols) * (h + pad), pad + (k % cols) * (w + pad)
        np.testing.assert_allclose(grid[top:top + h, left:left + w], k / n if k < n else 0.25)
        covered[top:top + h, left:left + w] = True
    np.testing.assert_array_equal(grid[~covered], 0.25)                   # gaps are padding


def test_make_grid_flat_images_and_clipping():
    rng = np.random.default_rng(0)
    images = 3 * rng.standard_normal((5, 28, 28))                         # beyond [-1, 1]
    grid = make_grid(images, nrow=2)
    np.testing.assert_array_equal(grid, make_grid(images.reshape(5, 784), nrow=2))
    assert grid.min() == 0.0 and grid.max() == 1.0
    assert make_grid(images, nrow=10).shape == (28 + 4, 5 * 30 + 2)      # cols = min(nrow, n)


@pytest.mark.parametrize("shape", [(28, 28, 1, 1), (784,), (3, 783), (0, 28, 28)])
def test_make_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"images .*shape"):
        make_grid(np.zeros(shape), nrow=2)


def test_flat_colour_rows_unflatten_channels_first():
    """A flat row is (C, H, W): its first H*W numbers are the red plane."""
    rows = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 60)
    pictures = as_pictures(rows, (3, 4, 5))
    assert pictures.shape == (2, 4, 5, 3)
    assert pictures[1, 2, 3, 0] == rows[1, 0 * 20 + 2 * 5 + 3]            # red at row 2, col 3
    assert pictures[1, 2, 3, 2] == rows[1, 2 * 20 + 2 * 5 + 3]            # blue there
    np.testing.assert_array_equal(as_pictures(rows[:, :20], (1, 4, 5)), rows[:, :20].reshape(2, 4, 5))
    for bad in [(3, 4, 4), (2, 5, 6)]:                                    # 48 numbers; 2 channels
        with pytest.raises(ValueError, match="do not unflatten"):
            as_pictures(rows, bad)


def test_make_grid_colour_places_each_tile_in_its_colour():
    n, h, w, pad, cols = 5, 3, 4, 2, 2
    rng = np.random.default_rng(1)
    colours = rng.uniform(0, 1, (n, 3))                                   # one colour per tile
    tiles = np.broadcast_to(2 * colours[:, None, None, :] - 1, (n, h, w, 3))
    grid = make_grid(tiles, nrow=cols, pad=pad)
    assert grid.shape == (3 * (h + pad) + pad, cols * (w + pad) + pad, 3)
    for k in range(n):
        top, left = pad + (k // cols) * (h + pad), pad + (k % cols) * (w + pad)
        np.testing.assert_allclose(grid[top:top + h, left:left + w], np.broadcast_to(colours[k], (h, w, 3)))
    np.testing.assert_array_equal(grid[:pad], 1.0)                        # white padding
    flat = np.ascontiguousarray(tiles.transpose(0, 3, 1, 2)).reshape(n, -1)   # (n, C*H*W)
    np.testing.assert_array_equal(make_grid(flat, nrow=cols, pad=pad, shape=(3, h, w)), grid)


def test_save_image_grid_draws_colour_in_colour_and_grey_in_grey(tmp_path):
    from PIL import Image
    pure = -np.ones((3, 3, 6, 6))
    for k in range(3):
        pure[k, k] = 1.0                                                  # red, green, blue
    save_image_grid(pure.reshape(3, -1), tmp_path / "rgb.png", shape=(3, 6, 6))
    save_image_grid(np.tanh(np.random.default_rng(0).standard_normal((4, 36))), tmp_path / "grey.png")
    rgb = np.asarray(Image.open(tmp_path / "rgb.png").convert("RGB")).reshape(-1, 3)
    found = {tuple(c) for c in np.unique(rgb, axis=0)}
    assert {(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)} <= found
    grey = np.asarray(Image.open(tmp_path / "grey.png").convert("RGB")).astype(int)
    assert np.abs(grey - grey[..., :1]).max() <= 1                        # R = G = B


def test_make_grid_rejects_bad_nrow():
    with pytest.raises(ValueError, match="nrow >= 1"):
        make_grid(np.zeros((4, 28, 28)), nrow=0)


def test_save_image_grid_png_has_the_grid_aspect(tmp_path):
    path = str(tmp_path / "samples.png")
    assert save_image_grid(np.zeros((12, 784)), path, nrow=4) == path
    height, width, _ = assert_png(path).shape
    # 3 rows x 4 columns of 28 x 28 tiles with 2-pixel gaps: 92 x 122 grid pixels
    assert abs(height / width - 92 / 122) < 0.02


def test_save_image_grid_default_is_square_ish(tmp_path):
    path = str(tmp_path / "g.png")
    save_image_grid(np.zeros((10, 28, 28)), path)           # 4 columns, 3 rows
    height, width, _ = assert_png(path).shape
    assert abs(height / width - 92 / 122) < 0.02


def test_save_image_grid_with_row_labels_and_title(tmp_path):
    rng = np.random.default_rng(0)
    images = np.tanh(rng.standard_normal((100, 28, 28)))
    plain, labelled = str(tmp_path / "plain.png"), str(tmp_path / "labelled.png")
    save_image_grid(images, plain, nrow=10)
    save_image_grid(images, labelled, nrow=10, row_labels=CLASSES, title="class-conditional")
    (h0, w0, _), (h1, w1, _) = imread(plain).shape, imread(labelled).shape
    assert w1 > w0 + 30 and h1 > h0 + 10                # room for the labels and the title


def test_save_image_grid_wrong_number_of_labels(tmp_path):
    with pytest.raises(ValueError, match="got 9 row_labels for a grid of 10 rows"):
        save_image_grid(np.zeros((100, 784)), tmp_path / "g.png", nrow=10,
                        row_labels=CLASSES[:9])
    assert os.listdir(tmp_path) == []


def test_crash_while_saving_keeps_previous_png(tmp_path, monkeypatch):
    path = tmp_path / "g.png"
    save_image_grid(np.zeros((4, 784)), path)
    before = path.read_bytes()

    def crash(self, f, **kwargs):
        f.write(PNG_SIGNATURE + b"half")
        raise RuntimeError("killed")
    monkeypatch.setattr(Figure, "savefig", crash)
    with pytest.raises(RuntimeError, match="killed"):
        save_image_grid(np.ones((4, 784)), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["g.png"]


def synthetic_history(n, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return {"d_loss": list(1.3 - 0.2 * np.tanh(steps / 100) + 0.2 * rng.standard_normal(n)),
            "g_loss": 0.7 + 0.3 * rng.standard_normal(n),
            "d_real": np.clip(0.6 + 0.1 * rng.standard_normal(n), 0, 1),
            "d_fake": np.clip(0.4 + 0.1 * rng.standard_normal(n), 0, 1)}


@pytest.mark.parametrize("n", [500, 1])
def test_save_loss_curves(tmp_path, n):
    path = str(tmp_path / "losses.png")
    assert save_loss_curves(synthetic_history(n), path) == path
    height, width, _ = assert_png(path).shape
    assert height > 300 and width > 400


def test_save_loss_curves_empty_history(tmp_path):
    with pytest.raises(ValueError, match="history is empty"):
        save_loss_curves({k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake")},
                         tmp_path / "l.png")


def test_save_loss_curves_bad_history(tmp_path):
    history = synthetic_history(10)
    with pytest.raises(ValueError, match="history lacks d_fake"):
        save_loss_curves({k: v for k, v in history.items() if k != "d_fake"}, tmp_path / "l.png")
    history["g_loss"] = history["g_loss"][:9]
    with pytest.raises(ValueError, match="equal lengths"):
        save_loss_curves(history, tmp_path / "l.png")


def test_import_selects_no_backend_and_no_pyplot():
    code = "import sys, npgan.plots; assert 'matplotlib.pyplot' not in sys.modules"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
