"""What issue 17 checks on a real GPU, beyond tests/test_backend.py, runnable without one.

Every test runs on each device backend of tests/devices.py: ``strict``
(tests/strict_backend.py, always: CuPy's refusals with NumPy's arithmetic, so its results are
bit-identical) and ``cupy`` where CuPy finds a GPU (there the results agree to float32
tolerance). CI without a GPU exercises the same code paths; benchmarks/gpu_check.sh runs this
file on the GPU.

test_backend.py and test_backend_training.py already cover: the default (fast) step of a GAN and a cGAN against NumPy for
three steps, gradient checks of every layer, and a device checkpoint that samples on both
backends and resumes reproducibly. This file adds:

- the plain textbook step and the optimizers' plain rules on the device (``fast=False``),
  RMSprop, and the DCGAN when npgan.models has one (skipped until it lands);
- a run that moves device -> checkpoint -> NumPy -> checkpoint -> device in the middle of
  training and continues *the same training* as a run that never moved: weights, BatchNorm
  statistics, Adam's moments and step count all cross the checkpoint in both directions.
"""

import dataclasses

import numpy as np
import pytest

import npgan.models
from npgan.backend import get_array_module, to_device, to_host
from npgan.checkpoint import load_checkpoint, save_checkpoint
from npgan.models import GANConfig
from npgan.train import GANTrainer
from small_runs import SMALL, small_images
from strict_backend import strict
from devices import DEVICES
from test_backend_training import CSMALL

LR = 2e-4                                   # GANTrainer's default; a weight moves ~LR a step


@pytest.fixture(params=DEVICES)
def xp(request):
    return request.param


def dcgan_config():
    """A DCGAN config, if npgan.models has one: a GANConfig field that names the model
    (``model``, ``arch`` or ``architecture`` = "dcgan"), or a ``DCGANConfig``. Skips until
    then; once the DCGAN lands, whatever of these it uses makes these tests run on it."""
    names = {f.name for f in dataclasses.fields(GANConfig)}
    for field in ("model", "arch", "architecture"):
        if field in names:
            return GANConfig(**{field: "dcgan"})
    if hasattr(npgan.models, "DCGANConfig"):
        return npgan.models.DCGANConfig()
    pytest.skip("npgan.models has no DCGAN yet (no GANConfig model/arch field, no DCGANConfig)")


MODELS = {"gan": lambda: SMALL, "cgan": lambda: CSMALL, "dcgan": dcgan_config}


def host_noise(trainer, rng):
    """Make ``trainer`` draw its noise and labels from the host generator ``rng``, moved to
    its backend explicitly: a GPU's own generator draws other numbers than NumPy's, so
    comparing steps across backends needs the same noise injected into each."""
    trainer.host_rng = rng
    trainer.noise = lambda n: to_device(
        rng.standard_normal((n, trainer.cfg.latent_dim)).astype(trainer.dtype), trainer.xp)
    trainer.random_labels = lambda n: to_device(rng.integers(0, trainer.cfg.num_classes, n),
                                                trainer.xp)
    return trainer


def batches(cfg, n_steps, batch=16, offset=0):
    """The same host batches for every backend: MNIST images (with labels for a cGAN)."""
    images = small_images((offset + n_steps) * batch)
    for i in range(offset, offset + n_steps):
        rows = slice(i * batch, (i + 1) * batch)
        yield (images[rows],) + ((np.arange(rows.start, rows.stop) % 10,)
                                 if cfg.conditional else ())


def agree(a, b, xp, *, steps, rtol=1e-4, exact=True):
    """Bit-identical on strict (NumPy's arithmetic) when ``exact``; on a GPU, float32 rounding
    differs, and Adam's early updates (about LR * sign(g)) may flip where g is rounding-sized:
    up to 2 * LR per step. (The DCGAN is not ``exact`` on strict: its conv layers keep the
    batch axis last in memory, and an element-wise result's layout, hence the order in which
    BatchNorm2d later sums it, can differ between NumPy arrays and StrictArrays; the numbers
    then agree as on a GPU.)"""
    a, b = to_host(a), to_host(b)
    if xp is strict and exact:
        return np.array_equal(a, b)
    return np.allclose(a, b, rtol=rtol, atol=2 * LR * steps)


def assert_same_states(host, dev, xp, steps):
    exact = getattr(host.cfg, "model", "mlp") != "dcgan"
    (a_host, m_host), (a_dev, m_dev) = host.state(), dev.state()
    assert a_host.keys() == a_dev.keys() and m_host["step"] == m_dev["step"]
    assert all(type(v) is np.ndarray for v in a_dev.values())
    bad = [k for k in a_host if not agree(a_host[k], a_dev[k], xp, steps=steps, exact=exact)]
    assert not bad, f"differ after {steps} steps: {bad}"


CASES = [("gan", {"fast": False}), ("cgan", {"fast": False}),
         ("gan", {"optimizer": "rmsprop"}), ("cgan", {"optimizer": "rmsprop", "fast": False}),
         ("dcgan", {}), ("dcgan", {"fast": False})]


@pytest.mark.parametrize("model, options", CASES,
                         ids=[f"{m}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}"
                              for m, o in CASES])
def test_device_steps_match_numpy(xp, model, options):
    """From the same weights, batches and noise, each step on the device gives NumPy's
    losses and NumPy's weights, optimizer state and BatchNorm statistics."""
    cfg, steps = MODELS[model](), 3
    exact = model != "dcgan"
    host = host_noise(GANTrainer(cfg, seed=3, **options), np.random.default_rng(8))
    dev = host_noise(GANTrainer(cfg, seed=3, backend=xp, **options), np.random.default_rng(8))
    assert all(get_array_module(p.data) is xp for p in dev.G.parameters() + dev.D.parameters())
    for batch in batches(cfg, steps):
        on_host, on_dev = host.train_step(*batch), dev.train_step(*batch)
        assert on_host.keys() == on_dev.keys()
        assert all(agree(on_host[k], on_dev[k], xp, steps=0, exact=exact) for k in on_host), \
            (on_host, on_dev)
    assert_same_states(host, dev, xp, steps)
    z = np.random.default_rng(1).standard_normal((12, cfg.latent_dim)).astype(np.float32)
    labels = np.arange(12) % cfg.num_classes if cfg.conditional else None
    assert agree(host.sample(z, labels), dev.sample(z, labels), xp, steps=steps, exact=exact)


def through_checkpoint(trainer, path, backend):
    """Save ``trainer`` to ``path`` as the demos do (host arrays in an npz) and load it on
    ``backend``; the loaded trainer continues the injected host noise stream."""
    arrays, meta = trainer.state()
    save_checkpoint(path, arrays, meta)
    return host_noise(GANTrainer.from_state(*load_checkpoint(path), backend=backend),
                      trainer.host_rng)


@pytest.mark.parametrize("model", ["gan", "cgan", "dcgan"])
def test_training_continues_across_backends_through_checkpoints(xp, model, tmp_path):
    """device (2 steps) -> checkpoint -> NumPy (2 steps) -> checkpoint -> device (2 steps)
    trains as 6 uninterrupted NumPy steps do, given the same batches and noise."""
    cfg = MODELS[model]()
    reference = host_noise(GANTrainer(cfg, seed=2), np.random.default_rng(9))
    for batch in batches(cfg, 6):
        reference.train_step(*batch)

    moving = host_noise(GANTrainer(cfg, seed=2, backend=xp), np.random.default_rng(9))
    for leg, backend in enumerate((xp, np, xp)):
        if leg:
            moving = through_checkpoint(moving, tmp_path / f"leg{leg}.npz", backend)
        assert moving.xp is backend and moving.step == 2 * leg
        for batch in batches(cfg, 2, offset=2 * leg):
            moving.train_step(*batch)
    assert moving.opt_g.t == moving.opt_d.t == 6
    assert_same_states(reference, moving, xp, steps=6)
