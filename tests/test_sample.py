"""Tests for the interpolation paths of npgan.sample: slerp's endpoints, norm and angle, its
straight-line fallback, why it suits Gaussian latents, and ``--interpolate --path``.
(npgan.sample's bad flags: test_cli_validation.py.)"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from matplotlib.image import imread

from npgan.sample import lerp, slerp
from small_runs import sample, small_checkpoint


def angle(a, b):
    """The angle between a and b, accurate near 0 and pi too (unlike arccos of the cosine)."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return 2 * np.arctan2(np.linalg.norm(a - b), np.linalg.norm(a + b))


@pytest.fixture
def pair(rng):
    return rng.standard_normal(100), 3 * rng.standard_normal(100)       # unequal norms


@pytest.mark.parametrize("walk", [slerp, lerp])
def test_endpoints_are_exact(pair, walk):
    z0, z1 = pair
    z = walk(z0, z1, np.linspace(0, 1, 7))
    assert z.shape == (7, 100)
    np.testing.assert_array_equal(z[0], z0)                             # bit for bit
    np.testing.assert_array_equal(z[-1], z1)


def test_slerp_keeps_the_norm_of_equal_norm_vectors(pair):
    z0, z1 = pair
    z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
    norms = np.linalg.norm(slerp(z0, z1, np.linspace(0, 1, 101)), axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(z0), rtol=1e-12)
    mid = np.linalg.norm(lerp(z0, z1, [0.5])) / np.linalg.norm(z0)
    assert mid == pytest.approx(np.cos(angle(z0, z1) / 2), rel=1e-12)  # the chord dips


def test_slerp_turns_at_constant_speed(pair):
    z0, z1 = pair
    z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)
    t = np.linspace(0, 1, 101)
    turned = [angle(z0, z) for z in slerp(z0, z1, t)]
    np.testing.assert_allclose(turned, t * angle(z0, z1), atol=1e-12)


def test_parallel_opposite_and_zero_vectors_walk_the_straight_line(rng):
    z0, t = rng.standard_normal(10), np.linspace(0, 1, 5)
    for z1 in (3 * z0, z0, -2 * z0, np.zeros(10)):
        z = slerp(z0, z1, t)
        assert np.isfinite(z).all()
        np.testing.assert_array_equal(z, lerp(z0, z1, t))
    np.testing.assert_array_equal(slerp(np.zeros(10), z0, t), lerp(np.zeros(10), z0, t))


def test_near_parallel_slerp_approaches_the_straight_line(rng):
    """Just above the fallback's threshold the two paths differ by at most w^2 / 8 of |z|,
    as slerp's docstring says, so switching to the straight line below it changes nothing
    that float64 can see."""
    z0, e = rng.standard_normal(10), rng.standard_normal(10)
    e -= (e @ z0) / (z0 @ z0) * z0                                      # e is orthogonal to z0
    for w in (1e-2, 1e-3, 1e-5):
        z1 = np.cos(w) * z0 + np.sin(w) * np.linalg.norm(z0) * e / np.linalg.norm(e)
        assert angle(z0, z1) == pytest.approx(w, rel=1e-6)
        t = np.linspace(0, 1, 101)
        gap = np.linalg.norm(slerp(z0, z1, t) - lerp(z0, z1, t), axis=1).max()
        assert w ** 2 / 8 * 0.99 < gap / np.linalg.norm(z0) < w ** 2 / 8 * 1.01


def test_gaussian_midpoints_keep_their_norm_only_on_the_sphere():
    """The reason for slerp: for z ~ N(0, I_100) (norm about 10) the straight line's midpoint
    has norm about 7.1 = 0.71 sqrt(100); slerp's stays near 10."""
    d, rng = 100, np.random.default_rng(0)
    pairs = rng.standard_normal((500, 2, d))
    ends = np.linalg.norm(pairs, axis=2)
    assert abs(ends.mean() - np.sqrt(d - 0.5)) < 0.05 and abs(ends.std() - 0.71) < 0.05
    straight = np.array([np.linalg.norm(lerp(a, b, [0.5])) for a, b in pairs])
    sphere = np.array([np.linalg.norm(slerp(a, b, [0.5])) for a, b in pairs])
    assert abs(straight.mean() / np.sqrt(d) - np.sqrt(0.5)) < 0.01
    assert abs(sphere.mean() / np.sqrt(d) - 1) < 0.01
    assert (ends.mean() - straight.mean()) / ends.std() > 3.5  # four standard deviations
    assert (straight < np.quantile(ends, 0.01)).mean() > 0.95  # below 99% of training z's


@given(d=st.integers(2, 64), seed=st.integers(0, 2 ** 32 - 1),
       t=st.lists(st.floats(0, 1), min_size=1, max_size=20),
       scale=st.floats(1e-3, 1e3))
def test_slerp_properties(d, seed, t, scale):
    """Any pair of equal norm (the scale too): endpoints exact, norm kept, angle t w, and
    every point in the plane of z0 and z1."""
    rng = np.random.default_rng(seed)
    z0, z1 = scale * rng.standard_normal((2, d))
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    w = angle(z0, z1)
    assume(np.sin(w) > 1e-3)            # near pi the arc's coefficients blow up (1 / sin w)
    t = np.array([0.0, *t, 1.0])
    z = slerp(z0, z1, t)
    assert np.array_equal(z[0], z0) and np.array_equal(z[-1], z1)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(z0), rtol=1e-9)
    np.testing.assert_allclose([angle(z0, p) for p in z], t * w, atol=1e-9)
    coef = np.linalg.lstsq(np.stack([z0, z1], 1), z.T, rcond=None)[0]  # (2, m)
    np.testing.assert_allclose(np.stack([z0, z1], 1) @ coef, z.T,
                               atol=1e-9 * np.linalg.norm(z0))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return small_checkpoint(tmp_path_factory.mktemp("run"))


def test_cli_interpolates_along_either_path(checkpoint, tmp_path, capsys):
    walks = {}
    for path in ("slerp", "linear", None):
        out = tmp_path / f"{path}.npy"
        flags = ["--path", path] if path else []
        code, _, err = sample(capsys, checkpoint, "--interpolate", "-n", "3", "--steps", "5",
                              *flags, "-o", out)
        assert code == 0, err
        walks[path] = np.load(out).reshape(3, 5, 28, 28)                 # rows of 5 steps
    np.testing.assert_array_equal(walks[None], walks["slerp"])          # the default
    ends = [0, 4]
    np.testing.assert_allclose(walks["slerp"][:, ends], walks["linear"][:, ends], atol=1e-6)
    middle = np.abs(walks["slerp"][:, 1:4] - walks["linear"][:, 1:4]).max(axis=(2, 3))
    assert (middle > 1e-3).all()                                        # different paths


def test_cli_writes_a_slerp_grid(checkpoint, tmp_path, capsys):
    out = tmp_path / "walk.png"
    code, stdout, err = sample(capsys, checkpoint, "--interpolate", "--path", "slerp",
                               "-n", "3", "--steps", "5", "-o", out)
    assert code == 0, err
    assert f"wrote 15 samples to {out}" in stdout
    height, width, _ = imread(out).shape
    assert 1.3 < width / height < (5 * 30 + 2) / (3 * 30 + 2)           # 3 rows of 5, a title


@pytest.mark.parametrize("args, message", [
    (["--path", "slerp"], "--path is for --interpolate"),
    (["--interpolate", "--path", "curved"], "argument --path: invalid choice: 'curved'"),
])
def test_cli_rejects_a_bad_path(checkpoint, tmp_path, capsys, args, message):
    code, _, err = sample(capsys, checkpoint, *args, "-o", tmp_path / "x.png")
    assert code == 2 and message in err
    assert not (tmp_path / "x.png").exists()


def test_cli_takes_a_run_folder_as_its_checkpoint(checkpoint, tmp_path, capsys):
    """The folder a demo wrote (as --resume takes it) draws the same samples as its file."""
    drawn = []
    for path in (checkpoint, checkpoint.parent):
        out = tmp_path / f"{len(drawn)}.npy"
        code, _, err = sample(capsys, path, "-n", "4", "-o", out)
        assert code == 0, err
        drawn.append(np.load(out))
    np.testing.assert_array_equal(*drawn)


def test_cli_refuses_n_for_a_conditional_walk(tmp_path, capsys):
    """A conditional checkpoint's --interpolate draws a row per class: -n would be ignored,
    so it is refused, and nothing is written; without -n it draws the class rows."""
    from npgan.models import GANConfig
    cfg = GANConfig(latent_dim=8, g_hidden=(16,), d_hidden=(16,), num_classes=10)
    ckpt = small_checkpoint(tmp_path / "cgan", cfg, np.arange(64) % 10)
    out = tmp_path / "walk.npy"
    code, _, err = sample(capsys, ckpt, "--interpolate", "-n", "4", "-o", out)
    assert code == 2 and "-n: --interpolate on a conditional checkpoint draws one row per" in err
    assert not out.exists()
    code, _, err = sample(capsys, ckpt, "--interpolate", "--steps", "3", "-o", out)
    assert code == 0, err
    assert np.load(out).shape == (10 * 3, 28, 28)
