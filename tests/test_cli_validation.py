"""The command lines reject invalid values with a clear message, exit code 2, no traceback,
and nothing written. Each case runs the demo's (or npgan.sample's) main in this process,
where any uncaught exception would fail the test; a few run as ``python -m`` to see exactly
what a user sees. (``--backend cupy`` where CuPy or a GPU is missing: see test_backend.py.)"""

import numpy as np
import pytest

from npgan.checkpoint import save_checkpoint
from npgan.models import GANConfig
from npgan.train import HISTORY_KEYS, GANTrainer
from small_runs import (demo, run_cli, sample, small_checkpoint,
                        write_data_dir)

DEMO_CASES = {   # name: (flags, what the message must say)
    "negative epochs": (["--epochs", "-1"], "argument --epochs: must be > 0, got -1"),
    "zero epochs": (["--epochs", "0"], "argument --epochs: must be > 0, got 0"),
    "epochs not a number": (["--epochs", "two"], "argument --epochs: 'two' is not a valid int"),
    "batch size 0": (["--batch-size", "0"], "argument --batch-size: must be > 0, got 0"),
    "learning rate 0": (["--lr", "0"], "argument --lr: must be > 0, got 0"),
    "negative learning rate": (["--lr", "-0.001"], "argument --lr: must be > 0, got -0.001"),
    "learning rate nan": (["--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    "learning rate inf": (["--lr", "inf"], "argument --lr: must be a finite number, got inf"),
    "latent dim 0": (["--latent-dim", "0"], "argument --latent-dim: must be > 0, got 0"),
    "negative seed": (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    "unknown optimizer": (["--optimizer", "sgd"], "argument --optimizer: invalid choice: 'sgd'"),
    "unknown backend": (["--backend", "bogus"], "argument --backend: invalid choice: 'bogus'"),
    "max steps 0": (["--max-steps", "0"], "argument --max-steps: must be > 0, got 0"),
    "checkpoint every 0": (["--checkpoint-every", "0"],
                           "argument --checkpoint-every: must be > 0, got 0"),
    "output is a file": (["--out", "afile"], "--out afile is a file, not a folder"),
    "output inside a file": (["--out", "afile/run"],
                             "error: cannot create the output folder afile/run: Not a directory"),
    "batch larger than the data": (["--batch-size", "97"],
                                   "error: a batch of 97 is larger than the 96 training images: give --batch-size 96 or less"),
    "missing data folder": (["--data-dir", "nowhere"], "error: nowhere: no such folder."),
    "data folder without the files": (["--data-dir", "."],
                                      "error: train-images-idx3-ubyte.gz: no such file"),
    "missing checkpoint": (["--resume", "nothing.npz"], "error: checkpoint nothing.npz does not exist"),
    "a folder without a checkpoint": (["--resume", "."],       # a run's folder: its checkpoint
                                      "error: checkpoint ./checkpoint.npz does not exist"),
    "batch of 1 with BatchNorm": (["--batch-size", "1"],
                                  "error: a batch of 1 image: this network's BatchNorm layers"),
    "parzen without the evaluation": (["--parzen", "--eval-samples", "0"],
                                      "--parzen is scored with the end-of-run evaluation, which "
                                      "--eval-samples 0 skips"),
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory holding a file named afile and a data/ folder of 96 images."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    write_data_dir(tmp_path / "data")
    return tmp_path


@pytest.mark.parametrize("case", DEMO_CASES)
def test_demo_rejects(workdir, capsys, case):
    flags, message = DEMO_CASES[case]
    code, _, err = demo(capsys, "--data-dir", "data", "--quiet", *flags)    # the last --x wins
    assert code == 2
    assert message in err
    assert sorted(p.name for p in workdir.iterdir()) == ["afile", "data"]   # nothing written


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return small_checkpoint(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def not_square(tmp_path_factory):
    """A checkpoint whose images have 50 pixels: nothing to draw a square grid of. (A Run
    cannot write one, since it draws grids; it is saved from the trainer's state.)"""
    cfg = GANConfig(latent_dim=4, g_hidden=(8, 8), d_hidden=(8,), image_dim=50)
    arrays, meta = GANTrainer(cfg).state()
    arrays.update({f"history.{k}": np.zeros(0) for k in HISTORY_KEYS})
    path = tmp_path_factory.mktemp("not-square") / "checkpoint.npz"
    save_checkpoint(path, arrays, meta)
    return path


SAMPLE_CASES = {   # name: (arguments, what the message must say); CKPT is a good checkpoint
    "zero samples": (["CKPT", "-n", "0"], "-n must be at least 1, got 0"),
    "negative samples": (["CKPT", "-n", "-3"], "-n must be at least 1, got -3"),
    "samples not a number": (["CKPT", "-n", "many"], "argument -n: invalid int value: 'many'"),
    "bad extension": (["CKPT", "-o", "grid.jpg"], "-o must end in .png or .npy, got 'grid.jpg'"),
    "unknown backend": (["CKPT", "--backend", "gpu"], "argument --backend: invalid choice: 'gpu'"),
    "missing checkpoint": (["nothing.npz"], "error: checkpoint nothing.npz does not exist"),
    "folder without a run": (["."], "error: checkpoint ./checkpoint.npz does not exist"),
    "missing output folder": (["CKPT", "-o", "nowhere/grid.png"],
                              "error: cannot write nowhere/grid.png: folder "),
    "images not square": (["SQUARE"], "its images of 50 pixels are not square"),
    "too many for a grid": (["CKPT", "-n", "10001"],
                            "that asks for 10,001 images; a .png output holds at most 10,000"),
    "too many for an array": (["CKPT", "-n", str(10 ** 9), "-o", "a.npy"],
                              "a .npy output holds at most 1,000,000"),
    "interpolation too long": (["CKPT", "--interpolate", "--steps", "2000"],
                               "that asks for 16,000 images"),
    "negative seed": (["CKPT", "--seed", "-1"], "--seed must be 0 or more, got -1"),
}


@pytest.mark.parametrize("args, message", [(["-n", "1"], "-n must be at least 2, got 1"),
                                           (["--seed", "-1"], "--seed must be 0 or more, got -1")])
def test_evaluate_rejects(checkpoint, capsys, args, message):
    """(A negative seed was numpy's bare "expected non-negative integer" traceback.)"""
    from npgan.evaluate import main as evaluate_main
    with pytest.raises(SystemExit) as e:
        evaluate_main([str(checkpoint), *args])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_sample_rejects(workdir, capsys, checkpoint, not_square, case):
    args, message = SAMPLE_CASES[case]
    args = [{"CKPT": checkpoint, "SQUARE": not_square}.get(a, a) for a in args]
    code, _, err = sample(capsys, *args)
    assert code == 2
    assert message in err
    assert sorted(p.name for p in workdir.iterdir()) == ["afile", "data"]   # nothing written


def test_sample_draws_in_batches_the_images_one_pass_draws(checkpoint, monkeypatch):
    import npgan.sample as sample_module
    from npgan.run_state import load_run
    trainer = load_run(checkpoint)[0]
    z = np.random.default_rng(0).standard_normal((20, trainer.cfg.latent_dim))
    whole = sample_module.generate(trainer, z)
    original = trainer.sample
    monkeypatch.setattr(trainer, "sample", lambda z, labels=None: original(z, labels, 7))
    assert np.allclose(sample_module.generate(trainer, z), whole, atol=1e-6)  # 7, 7, 6 rows
    assert whole.shape == (20, 28, 28) and whole.dtype == np.float32


def test_from_the_command_line_no_traceback(workdir):
    for command, message in [
            (["npgan.demos.mnist", "--data-dir", "data", "--batch-size", "97"],
             "error: a batch of 97 is larger than the 96 training images"),
            (["npgan.sample", "nothing.npz", "-o", "nowhere/grid.png"],
             "error: checkpoint nothing.npz does not exist")]:
        result = run_cli(*command, cwd=workdir)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["scale_images", "report_metrics"])
def test_ctrl_c_outside_training_exits_130_without_a_traceback(workdir, capsys, monkeypatch,
                                                              where):
    """Ctrl-C while the run starts up (scale_images, before any output) or while samples are
    scored (report_metrics, after the outputs are written) ends with exit code 130 and one
    line, not a traceback."""
    import npgan.demos.common as common

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(common, where, interrupt)
    code, _, err = demo(capsys, "--data-dir", "data", "--quiet", "--max-steps", "2",
                        "--batch-size", "16", "--eval-samples", "10")
    assert code == 130
    assert err.strip().endswith("interrupted") and "Traceback" not in err


def test_a_new_run_does_not_overwrite_a_finished_one_unless_asked(workdir, capsys):
    args = ["--data-dir", "data", "--quiet", "--max-steps", "2", "--batch-size", "16",
            "--out", "run"]
    assert demo(capsys, *args)[0] == 0
    checkpoint = workdir / "run" / "checkpoint.npz"
    before = checkpoint.read_bytes()
    code, _, err = demo(capsys, *args, "--seed", "7")
    assert code == 2 and "run already holds a run" in err and "--overwrite" in err
    assert checkpoint.read_bytes() == before                        # untouched
    assert demo(capsys, *args, "--seed", "7", "--overwrite")[0] == 0
    assert checkpoint.read_bytes() != before


@pytest.mark.parametrize("module", ["npgan.evaluate", "npgan.sample", "npgan.animate",
                                    "npgan.gradcheck", "npgan.demos.gallery",
                                    "npgan.demos.toy2d", "npgan.demos.train_classifier",
                                    "npgan.demos.mnist", "npgan.demos.fashion_mnist",
                                    "npgan.demos.images", "npgan.demos.minimal_gan"])
def test_help_reads_as_plain_text(module):
    """--help shows the docstrings it quotes without their reST markup (``code``)."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "``" not in done.stdout
    assert "usage:" in done.stdout or module.endswith("minimal_gan")     # it has no flags
