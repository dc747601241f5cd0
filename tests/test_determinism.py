"""Determinism: the same seed and flags give bit-identical weights and history (NumPy backend),
and checkpoints hold no wall-clock values, so two such runs write identical files."""

import time

import pytest

from npgan.checkpoint import load_checkpoint
from npgan.run import Run
from npgan.train import GANTrainer
from small_runs import (INFO, SMALL, assert_same_checkpoint, demo, no_plots,  # noqa: F401
                        run_cli, small_images, write_data_dir)


pytestmark = pytest.mark.usefixtures("no_plots")     # the numbers are under test, not PNGs


def small_run(out, seed=1):
    """10 steps of the small GAN: 2 epochs of 5 batches of 32."""
    Run(GANTrainer(SMALL, seed=seed), small_images(), str(out), batch_size=32, epochs=2,
        quiet=True, info=INFO).train()
    return out / "checkpoint.npz"


def shift_the_clock(monkeypatch, seconds):
    """Make time.time() and friends report a moment ``seconds`` later."""
    now, localtime, gmtime = time.time, time.localtime, time.gmtime
    monkeypatch.setattr(time, "time", lambda: now() + seconds)
    monkeypatch.setattr(time, "time_ns", lambda: int((now() + seconds) * 1e9))
    monkeypatch.setattr(time, "localtime", lambda t=None: localtime(now() + seconds if t is None else t))
    monkeypatch.setattr(time, "gmtime", lambda t=None: gmtime(now() + seconds if t is None else t))


def test_same_seed_gives_identical_files(tmp_path, monkeypatch):
    a = small_run(tmp_path / "a")
    shift_the_clock(monkeypatch, 400 * 86400)          # 400 days later: no date may leak in
    b = small_run(tmp_path / "b")
    assert_same_checkpoint(a, b)                       # names what differs, if anything does
    for name in ("checkpoint.npz", "history.csv", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    _, meta = load_checkpoint(a)
    assert meta["step"] == 10


def test_another_seed_gives_other_weights(tmp_path):
    """The comparison above can fail: a different seed changes every weight."""
    a, b = small_run(tmp_path / "a", seed=1), small_run(tmp_path / "b", seed=2)
    with pytest.raises(AssertionError, match="arrays differ: .*G.0.weight"):
        assert_same_checkpoint(a, b)


def test_same_flags_on_the_command_line_give_identical_files(tmp_path, capsys):
    """``python -m npgan.demos.mnist`` in a subprocess, and the same command line in this
    process: nothing may depend on the process (hash seeds, import order, the clock)."""
    data = write_data_dir(tmp_path / "data")               # epochs of 6 steps
    flags = ["--data-dir", data, "--batch-size", 16, "--max-steps", 8, "--seed", 3, "--quiet"]
    result = run_cli("npgan.demos.mnist", *flags, "--out", "a", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    code, _, err = demo(capsys, *flags, "--out", tmp_path / "b")
    assert code == 0, err
    assert_same_checkpoint(tmp_path / "a" / "checkpoint.npz", tmp_path / "b" / "checkpoint.npz")
    for name in ("checkpoint.npz", "history.csv", "config.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
