"""Training on the device backends (tests/devices.py): the same steps, runs, checkpoints and
samples as on NumPy. The layers and losses on the device, and the errors of a missing GPU:
tests/test_backend.py."""

import numpy as np
import pytest

from npgan.backend import get_array_module, to_device, to_host
from npgan.models import DCGANConfig, GANConfig
from npgan.run import Run, fixed_noise
from npgan.run_state import load_run
from npgan.train import GANTrainer
from devices import DEVICES, same, xp  # noqa: F401 (xp: the fixture)
from small_runs import INFO, SMALL, skip_plots, small_images

CSMALL = GANConfig(latent_dim=16, g_hidden=(32, 64), d_hidden=(64, 32), num_classes=10)
DCSMALL = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8))
INFOSMALL = GANConfig(latent_dim=16, latent_components=4, info_weight=0.5, g_hidden=(32, 64),
                      d_hidden=(64, 32))
CDCSMALL = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8), num_classes=10,
                       upsample="nearest")


# -- training on the device ----------------------------------------------------------------

def test_mode_seeking_steps_match_numpy_and_pair_labels_on_the_device(xp):
    """The device pairs labels with its own generator; then, on the same host-drawn noise and
    (unpaired) labels for both, the term's steps match NumPy's."""
    host, dev = (GANTrainer(CSMALL, seed=3, mode_seeking=0.5, backend=b) for b in ("numpy", xp))
    labels = dev.random_labels(9)                     # drawn by the device's own generator
    assert get_array_module(labels) is xp and bool((labels[:4] == labels[4:8]).all())
    same_noise([host, dev])
    images, labels = small_images(32), np.arange(32) % 10
    for i in range(2):
        batch = images[i * 16:(i + 1) * 16], labels[i * 16:(i + 1) * 16]
        assert np.allclose(list(host.train_step(*batch).values()),
                           list(dev.train_step(*batch).values()), rtol=1e-4)
    (a_host, _), (a_dev, _) = host.state(), dev.state()
    assert all(same(a_host[k], a_dev[k], xp, atol=3 * 2e-4) for k in a_host)


def same_noise(trainers, seed=5):
    """Give every trainer the same noise and labels, drawn on the host and moved explicitly,
    so that their steps can be compared across backends."""
    for t in trainers:
        rng = np.random.default_rng(seed)
        t.noise = lambda n, t=t, rng=rng: to_device(
            rng.standard_normal((n, t.cfg.latent_dim)).astype(t.dtype), t.xp)
        t.random_labels = lambda n, t=t, rng=rng: to_device(
            rng.integers(0, t.cfg.num_classes, n), t.xp)


@pytest.mark.parametrize("cfg", [SMALL, CSMALL, DCSMALL, CDCSMALL, INFOSMALL],
                         ids=["gan", "cgan", "dcgan", "conditional dcgan, upsample",
                              "gan with InfoGAN's code head"])
def test_training_steps_match_numpy(xp, cfg):
    """Same seed, same batches, same noise: the device trains exactly as NumPy does."""
    host, dev = GANTrainer(cfg, seed=3), GANTrainer(cfg, seed=3, backend=xp)
    assert dev.xp is xp
    assert all(get_array_module(p.data) is xp for p in dev.G.parameters() + dev.D.parameters())
    same_noise([host, dev])
    images = small_images(64)
    labels = np.arange(64) % 10 if cfg.conditional else None
    for i in range(3):
        batch = (images[i * 16:(i + 1) * 16],) + (() if labels is None else (labels[:16],))
        stats_host, stats_dev = host.train_step(*batch), dev.train_step(*batch)
        assert stats_host.keys() == stats_dev.keys()
        assert np.allclose(list(stats_host.values()), list(stats_dev.values()), rtol=1e-4)
    (a_host, _), (a_dev, _) = host.state(), dev.state()
    assert a_host.keys() == a_dev.keys()
    assert all(type(v) is np.ndarray for v in a_dev.values())  # checkpoints get host arrays
    # On a GPU, Adam's first steps (about lr * sign(g)) can flip where g is rounding-sized.
    assert all(same(a_host[k], a_dev[k], xp, atol=3 * 2e-4) for k in a_host)


def test_noise_is_drawn_on_the_device(xp):
    t = GANTrainer(CSMALL, seed=0, backend=xp)
    z, labels = t.noise(8), t.random_labels(8)
    assert get_array_module(z) is xp and z.dtype == np.float32 and z.shape == (8, 16)
    assert get_array_module(labels) is xp and 0 <= int(labels.min()) <= int(labels.max()) < 10


# -- a run and its checkpoint, across backends -------------------------------------------

@pytest.fixture(scope="module", params=DEVICES)
def device_run(request, tmp_path_factory):
    """A short conditional run on the device (sample grids and all), and its checkpoint."""
    xp, out = request.param, tmp_path_factory.mktemp("device-run")
    trainer = GANTrainer(CSMALL, seed=4, backend=xp)
    images = small_images(96)
    labels = np.arange(96) % 10
    Run(trainer, images, str(out), batch_size=32, epochs=2, quiet=True,
        info=INFO, labels=labels).train()
    return xp, trainer, out / "checkpoint.npz"


def test_device_checkpoint_loads_on_numpy_and_on_the_device(device_run):
    xp, trainer, path = device_run
    assert trainer.step == 6 and path.exists() and (path.parent / "samples.png").exists()
    z, labels = fixed_noise(trainer)
    expected = to_host(trainer.sample(z, labels))
    for backend in (np, xp):
        loaded, history, _ = load_run(path, backend=backend)
        assert loaded.xp is backend and loaded.step == 6 and len(history["d_loss"]) == 6
        assert same(loaded.sample(z, labels), expected, xp)


def test_a_resumed_device_run_is_reproducible(device_run):
    """A device's noise generator cannot be saved: a resume reseeds from (seed, step), so
    two resumes from one checkpoint agree, on any backend."""
    xp, _, path = device_run
    real, labels = small_images(32), np.arange(32) % 10
    steps = [load_run(path, backend=xp)[0].train_step(real, labels) for _ in range(2)]
    assert steps[0] == steps[1]
    assert load_run(path)[0].train_step(real, labels) == load_run(path)[0].train_step(real, labels)


def test_sampling_from_a_device_gives_host_images(device_run):
    """npgan.sample's drawing functions, on the device: NumPy images, the same as on NumPy."""
    from npgan.sample import draw, interpolate
    xp, _, path = device_run
    (dev, _, _), (host, _, _) = load_run(path, backend=xp), load_run(path)
    for make in (lambda t: draw(t, 20, None, np.random.default_rng(0)),
                 lambda t: draw(t, 5, 3, np.random.default_rng(0)),
                 lambda t: interpolate(t, 4, 2, None, np.random.default_rng(0))):
        (on_device, _), (on_host, _) = make(dev), make(host)
        assert type(on_device) is np.ndarray and on_device.shape == on_host.shape
        assert same(on_device, on_host, xp)


def test_numpy_checkpoint_resumes_on_the_device(tmp_path, monkeypatch, xp):
    skip_plots(monkeypatch)
    Run(GANTrainer(SMALL, seed=1), small_images(64), str(tmp_path), batch_size=32, epochs=1,
        quiet=True, info=INFO).train()
    trainer, history, _ = load_run(tmp_path / "checkpoint.npz", backend=xp)
    run = Run(trainer, small_images(64), str(tmp_path), batch_size=32, epochs=2, quiet=True,
              info=INFO, history=history)
    run.train()
    assert trainer.step == 4 and load_run(run.checkpoint_path)[0].step == 4


def test_metrics_samples_come_back_to_the_host(device_run):
    """The demos end by scoring samples; on a device they must be brought back explicitly."""
    from npgan.metrics import generate
    xp, _, path = device_run
    (dev, _, _), (host, _, _) = load_run(path, backend=xp), load_run(path)
    labels = np.arange(1500) % 10                                 # two batches of generate()
    on_device = generate(dev, 1500, np.random.default_rng(0), labels)
    on_host = generate(host, 1500, np.random.default_rng(0), labels)
    assert type(on_device) is np.ndarray and on_device.shape == (1500, 784)
    assert same(on_device, on_host, xp)


def test_a_mixture_latent_is_drawn_on_the_device(xp):
    """npgan.latent's one-hot codes and Gaussian entries, built where the trainer lives."""
    cfg = GANConfig(latent_dim=16, latent_components=4, latent_std=0.5, g_hidden=(8,),
                    d_hidden=(8,), image_dim=4)
    t = GANTrainer(cfg, seed=0, backend=xp)
    z = t.noise(32)
    assert get_array_module(z) is xp and z.dtype == np.float32 and z.shape == (32, 16)
    code = to_host(z)[:, :4]
    assert set(np.unique(code)) == {0.0, 1.0} and np.all(code.sum(axis=1) == 1)
