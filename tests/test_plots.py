"""Sample grids and loss curves: layout checked numerically, files checked as real PNGs."""

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from npgan.plots import make_grid, save_image_grid, save_loss_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def constant_tiles(n, h=3, w=4):
    """Tile k is filled with the value that maps to k / n in [0, 1]."""
    return np.stack([np.full((h, w), 2 * k / n - 1) for k in range(n)])


def test_make_grid_puts_tile_k_at_row_k_div_cols_and_column_k_mod_cols():
    n, h, w, pad = 7, 3, 4, 2
    grid = make_grid(constant_tiles(n, h, w), nrow=3, pad=pad, pad_value=-1.0)
    assert grid.shape == (3 * (h + pad) + pad, 3 * (w + pad) + pad)
    for k in range(n):
        top, left = pad + (k // 3) * (h + pad), pad + (k % 3) * (w + pad)
        assert np.allclose(grid[top:top + h, left:left + w], k / n)
    assert np.all(grid[pad + 2 * (h + pad):, pad + (w + pad):] == -1.0)   # unused tiles: padding
    assert np.all(grid[:pad] == -1.0)


def test_make_grid_accepts_flat_images_and_clips():
    flat = np.full((4, 16), 3.0)
    grid = make_grid(flat, nrow=2, pad=0)
    assert grid.shape == (8, 8) and grid.max() == 1.0


@pytest.mark.parametrize("bad", [np.zeros((3, 15)), np.zeros((0, 4, 4)), np.zeros(10)])
def test_make_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="shape"):
        make_grid(bad, nrow=2)


def test_save_image_grid_writes_a_png_with_the_grid_aspect(tmp_path):
    path = save_image_grid(constant_tiles(12, 28, 28), tmp_path / "g.png", nrow=6)
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    height, width = imread(path).shape[:2]
    assert width > 2 * height * 0.8                      # 6 columns by 2 rows


def test_save_image_grid_with_row_labels(tmp_path):
    names = ["T-shirt/top", "Trouser"]
    path = save_image_grid(constant_tiles(20, 28, 28), tmp_path / "c.png", nrow=10,
                           row_labels=names, title="classes")
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_loss_curves(tmp_path):
    rng = np.random.default_rng(0)
    history = {"d_loss": 1.3 + 0.1 * rng.standard_normal(500), "g_loss": 0.9 + rng.random(500),
               "d_real": rng.uniform(0.4, 0.7, 500), "d_fake": rng.uniform(0.3, 0.6, 500)}
    path = save_loss_curves(history, tmp_path / "losses.png")
    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    one_step = {k: v[:1] for k, v in history.items()}
    assert save_loss_curves(one_step, tmp_path / "one.png")


def test_save_loss_curves_rejects_empty_or_ragged_history(tmp_path):
    empty = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    with pytest.raises(ValueError, match="empty"):
        save_loss_curves(empty, tmp_path / "x.png")
    with pytest.raises(ValueError, match="equal lengths"):
        save_loss_curves({**empty, "d_loss": [1.0]}, tmp_path / "x.png")
