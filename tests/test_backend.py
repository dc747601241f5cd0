"""The backends: the same code on NumPy and on a device.

Without a GPU these tests run on ``strict`` (tests/strict_backend.py), a backend whose arrays
refuse every implicit conversion to NumPy, as ``cupy.ndarray`` does; with CuPy and a GPU
they also run on ``cupy``. Both must give what NumPy gives: the same gradients, the same
training steps (given the same noise), checkpoints that load on either backend.
"""

import numpy as np
import pytest

from npgan.backend import (BackendError, get_array_module, load_backend, to_device,
                           to_host)
from npgan.gradcheck import check_function, check_module, numerical_gradient, rel_error
from npgan.losses import bce_with_logits
from npgan.models import DCGANConfig, GANConfig, build_networks
from npgan.nn import (BatchNorm1d, BatchNorm2d, Dropout, Embedding, LeakyReLU, Linear, ReLU,
                      Sequential, Sigmoid, Tanh)
from npgan.run import Run, fixed_noise
from npgan.run_state import load_run
from npgan.train import GANTrainer
from conftest import TOL, off_kink
from small_runs import INFO, SMALL, demo, sample, skip_plots, small_images
from strict_backend import IMPLICIT, strict

F64 = np.float64
CSMALL = GANConfig(latent_dim=16, g_hidden=(32, 64), d_hidden=(64, 32), num_classes=10)
DCSMALL = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8))
INFOSMALL = GANConfig(latent_dim=16, latent_components=4, info_weight=0.5, g_hidden=(32, 64),
                      d_hidden=(64, 32))
CDCSMALL = DCGANConfig(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8), num_classes=10,
                       upsample="nearest")


def cupy_or_none():
    try:
        return load_backend("cupy")
    except BackendError:
        return None


CUPY = cupy_or_none()
DEVICES = [pytest.param(strict, id="strict")] + ([pytest.param(CUPY, id="cupy")] if CUPY else [])


@pytest.fixture(params=DEVICES)
def xp(request):
    """Each device backend: the strict one always, CuPy where a GPU answers."""
    return request.param


def same(a, b, xp, atol=1e-5):
    """The strict backend computes with NumPy itself, so its results are bit-identical;
    a GPU's kernels round differently, so there results agree to float32 tolerance."""
    a, b = to_host(a), to_host(b)
    return np.array_equal(a, b) if xp is strict else np.allclose(a, b, rtol=1e-4, atol=atol)


# -- the strict backend is as strict as CuPy ----------------------------------------------

def test_strict_arrays_refuse_implicit_conversion():
    a = strict.asarray(np.arange(6.0).reshape(2, 3))
    for convert in (np.asarray, np.tanh, lambda a: np.concatenate([a, a]), np.isfinite,
                    lambda a: a + np.ones(3), lambda a: np.ones(3) * a):
        with pytest.raises(TypeError):
            convert(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    assert float(a.sum()) == 15.0                               # 0-d to a Python float: allowed
    assert np.array_equal(a.get(), np.arange(6.0).reshape(2, 3))  # explicit copy: allowed
    assert IMPLICIT.startswith("Implicit conversion to a NumPy array is not allowed")


def test_strict_in_place_operations_write_through_views():
    buffer = strict.zeros(6)
    view = buffer[2:4]
    view += 1.5
    buffer[4:][...] = 2
    assert np.array_equal(buffer.get(), [0, 0, 1.5, 1.5, 2, 2])


# -- moving arrays ----------------------------------------------------------------------------

def test_to_device_and_back(xp):
    host = np.arange(4.0)
    dev = to_device(host, xp)
    assert get_array_module(dev) is xp and to_device(dev, xp) is dev
    dev += 1                                                    # a copy: the host is untouched
    assert np.array_equal(host, np.arange(4.0))
    assert np.array_equal(to_host(dev), host + 1) and to_device(host, np) is host


def test_module_to_moves_parameters_grads_and_buffers(xp):
    net = Sequential(Linear(3, 4, rng=np.random.default_rng(0)), BatchNorm1d(4))
    net.to(xp)
    arrays = [a for p in net.parameters() for a in (p.data, p.grad)]
    arrays += [net[1].running_mean, net[1].running_var]
    assert all(get_array_module(a) is xp for a in arrays)


def test_host_labels_for_a_device_embedding_are_refused(xp):
    emb = Embedding(4, 2, rng=np.random.default_rng(0)).to(xp)
    with pytest.raises(TypeError, match="move them first with npgan.backend.to_device"):
        emb(np.array([0, 1]))
    assert emb(to_device(np.array([0, 3]), xp)).shape == (2, 2)


def test_module_to_after_an_optimizer_is_an_error():
    from npgan.optim import SGD
    net = Linear(3, 2, rng=np.random.default_rng(0))
    SGD(net.parameters(), fast=True)                             # packs them
    net.to(np)                                                  # already there: nothing to do
    with pytest.raises(RuntimeError, match="before creating optimizers"):
        net.to(strict)


# -- every layer's gradient check, on the device -----------------------------------------

class FixedMaskDropout(Dropout):
    def make_mask(self, shape, dtype):
        if not hasattr(self, "_mask"):
            self._mask = super().make_mask(shape, dtype)
        return self._mask


def bn_eval(rng):
    bn = BatchNorm1d(4, dtype=F64)
    bn(5 * rng.standard_normal((16, 4)) + 12)
    return bn.eval(), 5 * rng.standard_normal((6, 4)) + 12


def bn2d(rng, *, train=True, staged=False):
    bn = BatchNorm2d(3, dtype=F64, staged=staged)
    bn.gamma.data[:] = rng.uniform(0.5, 2, 3)
    bn(5 * rng.standard_normal((4, 3, 2, 3)) + 12)
    return bn.train(train), 5 * rng.standard_normal((3, 3, 2, 4)) + 12


LAYERS = {   # name: rng -> (module built on the host, its input)
    "Linear": lambda rng: (Linear(7, 5, rng=rng, dtype=F64), rng.standard_normal((4, 7))),
    "Linear (no bias)": lambda rng: (Linear(3, 6, bias=False, rng=rng, dtype=F64),
                                     rng.standard_normal((5, 3))),
    "ReLU": lambda rng: (ReLU(), off_kink(rng, (6, 5))),
    "LeakyReLU": lambda rng: (LeakyReLU(0.2), off_kink(rng, (6, 5))),
    "Tanh": lambda rng: (Tanh(), 3 * rng.standard_normal((6, 5))),
    "Sigmoid": lambda rng: (Sigmoid(), 3 * rng.standard_normal((6, 5))),
    "BatchNorm1d (train)": lambda rng: (BatchNorm1d(5, dtype=F64),
                                        5 * rng.standard_normal((8, 5)) + 12),
    "BatchNorm1d (eval)": bn_eval,
    "BatchNorm1d (train, staged)": lambda rng: (BatchNorm1d(5, dtype=F64, staged=True),
                                                5 * rng.standard_normal((8, 5)) + 12),
    "BatchNorm2d (train)": bn2d,
    "BatchNorm2d (eval)": lambda rng: bn2d(rng, train=False),
    "BatchNorm2d (train, staged)": lambda rng: bn2d(rng, staged=True),
    "BatchNorm2d (eval, staged)": lambda rng: bn2d(rng, train=False, staged=True),
    "LeakyReLU (N, C, H, W)": lambda rng: (LeakyReLU(0.2), off_kink(rng, (2, 3, 4, 2))),
    "Dropout (N, C, H, W)": lambda rng: (FixedMaskDropout(0.4, rng=rng),
                                         rng.standard_normal((2, 3, 4, 2))),
    "Dropout": lambda rng: (FixedMaskDropout(0.4, rng=rng), rng.standard_normal((10, 6))),
    "Embedding": lambda rng: (Embedding(6, 4, rng=rng, dtype=F64), np.array([2, 5, 2, 2, 0, 5])),
    "Sequential": lambda rng: (Sequential(Linear(6, 8, bias=False, rng=rng, dtype=F64),
                                          BatchNorm1d(8, dtype=F64), Tanh(),
                                          Linear(8, 5, rng=rng, dtype=F64), Sigmoid()),
                               rng.standard_normal((7, 6))),
}


@pytest.mark.gradcheck
@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradients_on_the_device(xp, name):
    """The device passes the gradient check, with the errors NumPy gets for the same layer."""
    module, x = LAYERS[name](np.random.default_rng(7))
    on_host = check_module(module, x, rng=np.random.default_rng(0))
    module, x = LAYERS[name](np.random.default_rng(7))
    on_device = check_module(module.to(xp), to_device(x, xp), rng=np.random.default_rng(0))
    assert max(on_device.values()) < TOL, on_device
    assert on_device.keys() == on_host.keys()
    if xp is strict:
        assert on_device == on_host


@pytest.mark.gradcheck
def test_conditional_generator_loss_through_the_discriminator(xp):
    cfg = GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4, num_classes=3,
                    embed_dim=2)
    rng = np.random.default_rng(0)
    G, D = (net.to(xp) for net in build_networks(cfg, rng=rng, dtype=F64))
    z = to_device(rng.standard_normal((6, 3)), xp)
    labels = to_device(np.array([0, 2, 2, 1, 2, 0]), xp)

    def g_loss():
        return bce_with_logits(D(G(z, labels), labels), 1.0)[0]

    G.zero_grad()
    G.backward(D.backward(bce_with_logits(D(G(z, labels), labels), 1.0)[1]))
    for name, p in G.named_parameters():
        assert rel_error(p.grad, numerical_gradient(g_loss, p.data)) < TOL, name


@pytest.mark.gradcheck
@pytest.mark.parametrize("loss", ["bce", "bce_with_logits", "softmax_cross_entropy",
                                  "mode_seeking"])
def test_loss_gradients_on_the_device(xp, loss):
    from npgan import losses
    rng = np.random.default_rng(3)
    if loss == "mode_seeking":
        z = to_device(rng.standard_normal((6, 3)), xp)
        fn, x = (lambda images: losses.mode_seeking(images, z)), rng.uniform(-1, 1, (6, 5))
    elif loss == "softmax_cross_entropy":
        labels = to_device(np.array([0, 3, 3, 1, 2]), xp)
        fn, x = (lambda z: losses.softmax_cross_entropy(z, labels)), rng.standard_normal((5, 4))
    else:
        target = rng.uniform(0, 1, (6, 1))
        fn = lambda z: getattr(losses, loss)(z, to_device(target, xp))       # noqa: E731
        x = rng.uniform(0.05, 0.95, (6, 1)) if loss == "bce" else 3 * rng.standard_normal((6, 1))
    assert check_function(fn, to_device(x, xp)) < TOL


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


# -- asking for CuPy where there is none -------------------------------------------------------

needs_no_gpu = pytest.mark.skipif(CUPY is not None, reason="CuPy and a GPU are available here")


@needs_no_gpu
def test_cupy_without_a_gpu_is_a_clear_error():
    with pytest.raises(BackendError, match=r'pip install "npgan\[gpu\]"|nvidia-smi'):
        load_backend("cupy")
    with pytest.raises(BackendError):
        GANTrainer(SMALL, backend="cupy")


def test_cupy_installed_but_no_gpu(monkeypatch):
    """A CuPy whose CUDA runtime finds no device: the error says what to check."""
    import sys
    import types

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=no_device)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match="no usable CUDA GPU.*nvidia-smi"):
        load_backend("cupy")


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'gpu'; choose one of numpy, cupy"):
        load_backend("gpu")


@needs_no_gpu
def test_demo_and_sample_with_cupy_exit_2_without_a_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = demo(capsys, "--backend", "cupy", "--quiet")
    assert code == 2 and err.startswith("error: ") and "cupy" in err
    assert list(tmp_path.iterdir()) == []                      # nothing written
    skip_plots(monkeypatch)
    Run(GANTrainer(SMALL), small_images(32), str(tmp_path), batch_size=32, epochs=1,
        quiet=True, info=INFO).train()
    code, _, err = sample(capsys, "checkpoint.npz", "--backend", "cupy")
    assert code == 2 and err.startswith("error: ") and "cupy" in err


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
