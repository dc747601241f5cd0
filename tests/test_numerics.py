"""Numerics: logits of +/-1e4, an all-zero batch, a constant batch into BatchNorm give finite
outputs and gradients; a NaN or inf in a batch stops training with a clear message."""

import re

import numpy as np
import pytest

import npgan.demos.common
from npgan.gradcheck import check_module
from npgan.losses import bce_with_logits
from npgan.nn import BatchNorm1d
from npgan.run import Run, TrainingDiverged
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import INFO, SMALL, demo, no_plots, small_images, write_data_dir  # noqa: F401


def non_finite(trainer):
    """Names of the trainer's state arrays (weights, statistics, moments) holding NaN or inf."""
    arrays, _ = trainer.state()
    return [k for k, v in arrays.items() if not np.all(np.isfinite(v))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_form_is_stable_at_plus_minus_1e4(dtype):
    z = np.array([[1e4], [-1e4], [1e4], [-1e4]], dtype=dtype)
    y = np.array([[1], [0], [0], [1]], dtype=dtype)
    loss, dz = bce_with_logits(z, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dz)) and dz.dtype == dtype
    assert loss == pytest.approx(2 * 1e4 / 4, rel=1e-6)     # two confident mistakes of 1e4
    assert np.allclose(dz.ravel(), [0, 0, 0.25, -0.25])
    assert bce_with_logits(z[:2], y[:2])[0] == 0.0          # confident and right: zero loss


@pytest.mark.parametrize("bias", [1e4, -1e4])
def test_a_saturated_discriminator_still_takes_finite_steps(bias):
    """D's logits pushed to +/-1e4 (its last bias): one whole training step stays finite."""
    trainer = GANTrainer(SMALL, seed=0)
    last_bias = trainer.D.parameters()[-1]
    assert last_bias.shape == (1,)
    last_bias.data[...] = bias
    stats = trainer.train_step(small_images(32))
    assert all(np.isfinite(v) for v in stats.values()), stats
    assert 0 <= stats["d_real"] <= 1 and 0 <= stats["d_fake"] <= 1
    assert not non_finite(trainer)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_all_zero_batch_trains_to_finite_values(dtype):
    trainer = GANTrainer(SMALL, seed=0, dtype=dtype)
    for _ in range(3):
        stats = trainer.train_step(np.zeros((32, 784), dtype))
        assert all(np.isfinite(v) for v in stats.values()), stats
    assert not non_finite(trainer)


def test_zero_noise_sends_a_constant_batch_through_the_generator(rng):
    """z = 0 makes every row of G's first Linear the same: its BatchNorms see variance 0."""
    trainer = GANTrainer(SMALL, seed=0, dtype=np.float64)
    y = trainer.G(np.zeros((16, SMALL.latent_dim)))
    assert np.all(np.isfinite(y)) and np.allclose(y, y[0])
    dz = trainer.G.backward(rng.standard_normal(y.shape))
    assert np.all(np.isfinite(dz))
    assert all(np.all(np.isfinite(p.grad)) for p in trainer.G.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_on_a_constant_batch(dtype, rng):
    """Each feature constant over the batch (variance 0): eps keeps 1/sqrt(var + eps) finite,
    x_hat is 0, so the output is beta; the gradients are finite."""
    x = np.tile(np.array([0.0, 1.0, -1e4, 1e4, 0.1, 123.456], dtype), (8, 1))   # (8, 6)
    bn = BatchNorm1d(6, dtype=dtype)
    bn.beta.data[:] = np.arange(6)
    y = bn(x)
    assert y.dtype == dtype and np.all(np.isfinite(y))
    np.testing.assert_allclose(y, np.broadcast_to(bn.beta.data, y.shape), atol=1e-2)
    dx = bn.backward(rng.standard_normal(x.shape).astype(dtype))
    assert np.all(np.isfinite(dx))
    assert np.all(np.isfinite(bn.gamma.grad)) and np.all(np.isfinite(bn.beta.grad))
    assert np.all(np.isfinite(bn.running_var)) and np.all(bn.running_var > 0)
    bn.eval()
    assert np.all(np.isfinite(bn(x)))


def test_batchnorm_gradient_is_right_at_a_constant_batch(rng):
    """At variance 0 the curvature scale is sqrt(eps) ~ 3e-3, so a step h = 1e-6 (not the
    usual 1e-5) keeps the finite differences' own truncation error below the tolerance."""
    x = np.tile(np.array([0.0, 1.0, -3.5, 0.1]), (6, 1))
    errors = check_module(BatchNorm1d(4, dtype=np.float64), x, rng=rng, h=1e-6)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.usefixtures("no_plots")
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_in_the_data_stops_with_the_step_and_keeps_the_checkpoint(tmp_path, bad):
    data = small_images(160).copy()                  # epochs of 5 batches of 32
    trainer = GANTrainer(SMALL, seed=3)
    Run(trainer, data, str(tmp_path), batch_size=32, epochs=1, quiet=True, info=INFO).train()
    path = tmp_path / "checkpoint.npz"
    before = path.read_bytes()
    data[77, 300] = bad                              # one pixel of one image
    run = Run(trainer, data, str(tmp_path), batch_size=32, epochs=2, quiet=True, info=INFO,
              resumed_from=str(path))
    with pytest.raises(TrainingDiverged, match=r"the batch for step ([6-9]|10) holds NaN or "
                                               r"infinite values: the training data is damaged"
                       ) as err:
        run.train()
    assert str(err.value).endswith(f"The last good checkpoint is {path} (step 5).")
    assert path.read_bytes() == before
    assert not non_finite(trainer)                   # stopped before the batch reached a weight
    assert load_run(path)[0].step == 5


@pytest.mark.usefixtures("no_plots")
def test_a_nan_loss_stops_with_the_step(tmp_path):
    """A NaN born inside the networks (here a weight) is caught in the step's losses; the
    message says what usually helps, and log.txt records the stop."""
    trainer = GANTrainer(SMALL, seed=3)
    trainer.D.parameters()[0].data[0, 0] = np.nan
    run = Run(trainer, small_images(64), str(tmp_path), batch_size=32, epochs=1, quiet=True)
    with pytest.raises(TrainingDiverged, match=r"training diverged at step 1: d_loss=nan.*"
                                               r"start again with a lower --lr.*"
                                               r"No checkpoint was written by this run\.$"):
        run.train()
    assert not (tmp_path / "checkpoint.npz").exists()
    last = (tmp_path / "log.txt").read_text().splitlines()[-1]
    assert "stopped: training diverged at step 1: d_loss=nan" in last


def test_nan_in_the_data_through_the_demo(tmp_path, monkeypatch, capsys):
    """The demo reports it as ``error: ...`` with exit code 1 (uint8 files cannot hold a NaN,
    so it is put into the scaled images)."""
    scale_images = npgan.demos.common.scale_images

    def with_a_nan(images, **kwargs):
        x = scale_images(images, **kwargs)
        x[5, 400] = np.nan
        return x
    monkeypatch.setattr(npgan.demos.common, "scale_images", with_a_nan)
    data = write_data_dir(tmp_path / "data")
    code, _, err = demo(capsys, "--data-dir", data, "--batch-size", 16, "--max-steps", 6,
                        "--out", tmp_path / "out", "--quiet")
    assert code == 1
    assert re.match(r"error: the batch for step \d holds NaN or infinite values", err), err
    assert err.rstrip().endswith("No checkpoint was written by this run.")
