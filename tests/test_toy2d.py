"""The 2-D benchmark's modes and its two counts, on samples built by hand."""

import json

import numpy as np
import pytest

from npgan.toy2d import (DATA_SPREAD, GRID_STD, RING_STD, grid_modes, mode_coverage,
                         mode_spread, nearest_mode, ring_modes, sample_mixture)


def test_the_modes():
    ring = ring_modes()
    assert ring.shape == (8, 2) and np.allclose(np.linalg.norm(ring, axis=1), 1)
    assert np.allclose(np.linalg.norm(ring - np.roll(ring, 1, axis=0), axis=1), 2 * np.sin(np.pi / 8))
    grid = grid_modes()
    assert grid.shape == (25, 2)
    assert {tuple(p) for p in grid.tolist()} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


def test_samples_on_five_ring_modes_plus_outliers():
    ring = ring_modes()
    on_modes = np.repeat(ring[[0, 1, 3, 4, 6]], 100, axis=0)        # 500 samples on 5 modes
    outliers = np.array([[0.0, 0.0], [5.0, 5.0], [0.5, 0.5], [-3.0, 1.0]]).repeat(25, axis=0)
    captured, hq = mode_coverage(np.concatenate([on_modes, outliers]), ring, RING_STD)
    assert captured == 5
    assert hq == pytest.approx(500 / 600)


def test_three_standard_deviations_is_the_line(rng):
    grid = grid_modes()
    directions = rng.standard_normal((25, 2))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    inside = grid + 2.9 * GRID_STD * directions                     # every mode, just inside
    outside = grid + 3.1 * GRID_STD * directions                    # every mode, just outside
    assert mode_coverage(inside, grid, GRID_STD) == (25, 1.0)
    assert mode_coverage(outside, grid, GRID_STD) == (0, 0.0)
    assert mode_coverage(np.concatenate([inside[:10], outside]), grid, GRID_STD) == (10, 10 / 35)


def test_a_sample_counts_for_its_nearest_mode_only():
    ring = ring_modes()
    idx, dist = nearest_mode(np.array([[0.99, 0.0], [0.0, -1.02]]), ring)
    assert idx.tolist() == [0, 6] and np.allclose(dist, [0.01, 0.02])


@pytest.mark.parametrize("name, modes, std", [("ring", ring_modes(), RING_STD),
                                               ("grid", grid_modes(), GRID_STD)])
def test_the_true_distribution_scores_what_a_perfect_generator_would(name, modes, std):
    # In 2-D, P(|noise| <= 3 std) = 1 - exp(-9/2) = 98.9%: the true mixture's HQ share
    # (a G tighter than the data can score higher).
    samples = sample_mixture(modes, std, 2500, np.random.default_rng(0))
    captured, hq = mode_coverage(samples, modes, std)
    assert captured == len(modes)
    assert hq == pytest.approx(1 - np.exp(-4.5), abs=0.006)


def test_the_demo_writes_its_plot_and_numbers(tmp_path, capsys):
    from npgan.demos.toy2d import PRESETS, main
    assert main(["--dataset", "grid", "--steps", "20", "--seeds", "2", "--quiet",
                 "--g-hidden", "16", "16", "--d-hidden", "16", "--out", str(tmp_path)]) == 0
    assert "mean of 2 seeds" in capsys.readouterr().out
    result = json.loads((tmp_path / "toy2d_grid.json").read_text())
    assert result["modes_total"] == 25 and len(result["per_seed"]) == 2
    assert result["settings"]["g_hidden"] == [16, 16] and result["settings"]["lr"] == PRESETS["grid"]["lr"]
    assert (tmp_path / "toy2d_grid.png").stat().st_size > 0


def test_the_grid_draws_z_from_a_mixture_and_its_flags_are_checked(tmp_path, capsys):
    from npgan.demos.toy2d import PRESETS, main
    assert PRESETS["grid"]["latent_components"] == 100 and PRESETS["ring"]["latent_components"] == 0
    assert main(["--dataset", "grid", "--steps", "5", "--seeds", "1", "--quiet",
                 "--latent-dim", "6", "--latent-components", "4", "--latent-std", "0.5",
                 "--g-hidden", "8", "--d-hidden", "8", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "toy2d_grid.json").read_text())
    settings, seed = result["settings"], result["per_seed"][0]
    latent = (settings["latent_dim"], settings["latent_components"], settings["latent_std"])
    assert latent == (6, 4, 0.5)
    assert result["spread_unit"] == "std" and seed["spread"] >= 0
    capsys.readouterr()
    for flags, message in ((["--latent-components", "7", "--latent-dim", "6"],
                            "--latent-components must be between 0 and the latent width 6"),
                           (["--latent-dim", "2"], "got 100 (the grid default; "
                                                   "--latent-components 0 draws z ~ N(0, I))"),
                           (["--latent-std", "0"], "--latent-std must be a finite number > 0"),
                           (["--latent-std", "inf"], "--latent-std must be a finite number > 0")):
        with pytest.raises(SystemExit) as e:
            main(["--dataset", "grid", "--quiet", "--out", str(tmp_path), *flags])
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_the_spread_is_the_rms_offset_of_the_high_quality_samples(rng):
    grid = grid_modes()
    on_modes = np.repeat(grid, 4, axis=0)                           # 100 samples, 4 per mode
    offsets = np.tile([[0.03, 0.0], [-0.03, 0.0], [0.0, 0.03], [0.0, -0.03]], (25, 1))
    far = np.array([[1.0, 1.0]] * 10)                               # not high quality: ignored
    samples = np.concatenate([on_modes + offsets, far])
    assert mode_spread(samples, grid, GRID_STD) == pytest.approx(0.03 / np.sqrt(2))
    assert mode_spread(on_modes, grid, GRID_STD) == 0.0             # all on the modes: no spread
    data = sample_mixture(grid, GRID_STD, 100_000, rng)
    assert mode_spread(data, grid, GRID_STD) / GRID_STD == pytest.approx(DATA_SPREAD, abs=0.005)
    assert mode_spread(far, grid, GRID_STD) == 0.0                   # no high-quality sample
