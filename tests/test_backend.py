"""The backends: the same code on NumPy and on a device (training there:
tests/test_backend_training.py).

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
from npgan.models import GANConfig, build_networks
from npgan.nn import (BatchNorm1d, BatchNorm2d, Dropout, Embedding, LeakyReLU, Linear, ReLU,
                      Sequential, Sigmoid, Tanh)
from npgan.run import Run
from npgan.train import GANTrainer
from conftest import TOL, off_kink
from small_runs import INFO, SMALL, demo, sample, skip_plots, small_images
from devices import CUPY, xp  # noqa: F401 (xp: the fixture)
from strict_backend import IMPLICIT, strict

F64 = np.float64


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
