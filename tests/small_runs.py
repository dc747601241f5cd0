"""Helpers for the tests of whole runs: a small GAN, a small MNIST, and the demo command line
run in a subprocess (to see exactly what a user sees) or in this process (when only the exit
code and the message matter, which is much faster)."""

import functools
import json
import subprocess
import sys

import numpy as np
import pytest

import npgan.run
from npgan.checkpoint import load_checkpoint, save_checkpoint
from npgan.data import load_mnist, scale_images
from npgan.demos.common import main as demo_main
from npgan.demos.mnist import DESCRIPTION
from npgan.idx import write_idx
from npgan.models import GANConfig
from npgan.run_state import load_run
from npgan.sample import main as sample_main
from npgan.train import GANTrainer

SMALL = GANConfig(latent_dim=16, g_hidden=(32, 64), d_hidden=(64, 32))
INFO = {"dataset": "mnist", "batch_size": 32, "epochs": 2}   # what the demo saves, for a Run


@functools.cache
def mnist_test_split():
    return load_mnist("test")


def small_images(n=160):
    """The first n MNIST test images, scaled: (n, 784) float32 in [-1, 1]."""
    return scale_images(mnist_test_split()[0][:n])


@pytest.fixture
def no_plots(monkeypatch):
    """Runs draw no PNGs and no GIF (matplotlib takes most of a small run's time); use where
    the numbers are under test. (A test module that imports this fixture can use it.)"""
    skip_plots(monkeypatch)


def skip_plots(monkeypatch):
    monkeypatch.setattr(npgan.run, "save_image_grid", lambda *args, **kwargs: None)
    monkeypatch.setattr(npgan.run, "save_loss_curves", lambda *args, **kwargs: None)
    monkeypatch.setattr(npgan.run, "save_progress_gif", lambda *args, **kwargs: None)
    monkeypatch.setattr(npgan.run, "save_health_curves", lambda *args, **kwargs: None)


def write_data_dir(folder, n=96):
    """Write n MNIST images and labels as the training files of a ``--data-dir`` folder.

    With the demo's full-size model, ``--batch-size 16`` makes an epoch of n // 16 steps.
    """
    images, labels = mnist_test_split()
    folder.mkdir(exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", images[:n])
    write_idx(folder / "train-labels-idx1-ubyte", labels[:n])
    return folder


def run_cli(*args, cwd, timeout=120):
    """``python -m ARGS`` in a subprocess: returns the CompletedProcess (text output)."""
    args = [str(a) for a in args]
    if args and args[0].startswith("npgan.demos.") and "--eval-samples" not in args:
        args += ["--eval-samples", "0"]             # scoring samples is tested on its own
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def _exit_code(call):
    try:
        return call()
    except SystemExit as e:                         # argparse's error() exits with 2
        return e.code


def demo(capsys, *args):
    """``python -m npgan.demos.mnist ARGS`` in this process: returns (exit code, stdout, stderr).

    An uncaught exception (what would be a traceback) propagates and fails the test. With
    ``capsys`` None (in a fixture) the output is left to pytest and returned as None.
    """
    args = [str(a) for a in args]
    args += [] if "--eval-samples" in args else ["--eval-samples", "0"]
    code = _exit_code(lambda: demo_main(args, dataset="mnist",
                                        load_images=load_mnist, default_epochs=15,
                                        description=DESCRIPTION))
    out, err = capsys.readouterr() if capsys else (None, None)
    return code, out, err


def sample(capsys, *args):
    """``python -m npgan.sample ARGS`` in this process: returns (exit code, stdout, stderr)."""
    code = _exit_code(lambda: sample_main([str(a) for a in args]))
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_checkpoint(a, b):
    """Two checkpoint files hold bit-identical arrays (same names, dtypes, shapes, values) and
    the same metadata; each difference is named."""
    (arrays_a, meta_a), (arrays_b, meta_b) = load_checkpoint(a), load_checkpoint(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    differ = [k for k in arrays_a if arrays_a[k].dtype != arrays_b[k].dtype
              or arrays_a[k].shape != arrays_b[k].shape
              or arrays_a[k].tobytes() != arrays_b[k].tobytes()]
    assert not differ, f"arrays differ: {differ}"
    assert meta_a == meta_b
    assert np.asarray(arrays_a["history.d_loss"]).shape == (meta_a["step"],)


def small_checkpoint(folder, cfg=SMALL, labels=None):
    """Train a 2-step run of ``cfg`` (64 MNIST images, batch 32, no plots) into ``folder``;
    returns the path of its checkpoint."""
    with pytest.MonkeyPatch.context() as mp:
        skip_plots(mp)
        npgan.run.Run(GANTrainer(cfg, seed=1), small_images(64), str(folder), batch_size=32,
                      epochs=1, quiet=True, info=INFO, labels=labels).train()
    return folder / "checkpoint.npz"


def older_run_without(capsys, folder, key, *flags):
    """A run made with ``flags`` into folder/new, then its config.json and its checkpoint as a
    run from before setting ``key`` existed wrote them (the key removed). Checks that
    repeating the config (``--config``) records ``key`` as 0 and that the checkpoint resumes;
    returns (the new run's config.json as written, the trainer loaded from the old checkpoint)."""
    code, _, err = demo(capsys, *flags, "--max-steps", "1", "--batch-size", "8",
                        "--out", folder / "new")
    assert code == 0, err
    info = json.loads((folder / "new" / "config.json").read_text())
    old = {k: v for k, v in info.items() if k != key}          # as an older run wrote it
    (folder / "old.json").write_text(json.dumps(old))
    code, _, err = demo(capsys, "--config", folder / "old.json", "--out", folder / "again")
    assert code == 0, err
    assert load_run(folder / "again" / "checkpoint.npz")[0].settings[key] == 0
    arrays, meta = load_checkpoint(folder / "new" / "checkpoint.npz")
    del meta["settings"][key], meta["run"][key]
    save_checkpoint(folder / "old.npz", arrays, meta)
    trainer = load_run(folder / "old.npz")[0]
    code, _, err = demo(capsys, "--resume", folder / "old.npz", "--max-steps", "2",
                        "--out", folder / "resumed")
    assert code == 0, err
    resumed = json.loads((folder / "resumed" / "config.json").read_text())
    assert resumed[key] == 0                    # the resumed run's record says what it ran with
    return info, trainer
