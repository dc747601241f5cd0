"""Atomic checkpoints: a crash in the middle of a save (an exception in the writer, SIGKILL,
Ctrl-C) leaves the previous checkpoint loadable; Ctrl-C during training exits with 130 and a
message saying where the last good checkpoint is."""

import errno
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import npgan.checkpoint as ckpt
from npgan.checkpoint import load_checkpoint, save_checkpoint
from npgan.run import Run
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import INFO, SMALL, demo, small_images, write_data_dir
from test_checkpoint import META, assert_same, sample_arrays

REPO = os.path.dirname(os.path.dirname(os.path.abspath(ckpt.__file__)))

FAILURES = {"exception": RuntimeError("disk on fire"),
            "disk full": OSError(errno.ENOSPC, "No space left on device"),
            "ctrl-c": KeyboardInterrupt()}


@pytest.mark.parametrize("failure", FAILURES)
def test_failure_while_writing_leaves_previous_checkpoint(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.npz"
    old = sample_arrays(0)
    save_checkpoint(path, old, META)

    def crash_midway(fileobj, arrays):
        fileobj.write(b"PK\x03\x04 half a zip")
        raise FAILURES[failure]
    monkeypatch.setattr(ckpt, "_write_npz", crash_midway)
    with pytest.raises(type(FAILURES[failure])):
        save_checkpoint(path, sample_arrays(1), {"step": 9999})

    loaded, meta = load_checkpoint(path)
    assert_same(loaded, old)
    assert meta == META
    assert os.listdir(tmp_path) == ["ckpt.npz"]            # no stray temporary file


CHILD = """
import sys, numpy as np
from npgan.checkpoint import save_checkpoint
big = np.empty(12_500_000, np.float32)                          # 50 MB
for step in range(10**9):
    big.fill(step)
    save_checkpoint(sys.argv[1], {"big": big, "step": np.array(step)}, {"step": step})
    print(step, flush=True)
"""


def test_sigkill_while_writing_never_corrupts(tmp_path):
    path = tmp_path / "ckpt.npz"
    rng = np.random.default_rng()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    killed_mid_write, start = 0, time.monotonic()
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline(), proc.stderr.read().decode()   # one save completed
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        proc.stdout.close(), proc.stderr.close()

        arrays, meta = load_checkpoint(path)
        assert int(arrays["step"]) == meta["step"]
        assert arrays["big"].shape == (12_500_000,)
        assert (arrays["big"] == meta["step"]).all()              # one save, not a mix
        others = [f for f in os.listdir(tmp_path) if f != "ckpt.npz"]
        assert all(re.fullmatch(r"\.ckpt\.npz\..+\.tmp", f) for f in others), others
        killed_mid_write += len(others) > 0
        for f in others:
            os.unlink(tmp_path / f)
        if killed_mid_write >= 2 or time.monotonic() - start > 3:
            break
    assert killed_mid_write >= 1, "no kill landed during a write; the test proved nothing"


# ---- the same failures in a training run ----------------------------------------------------


@pytest.mark.parametrize("failure, code, message", [
    ("ctrl-c", 130, "\ninterrupted at step 4. "),
    ("disk full", 1, "error: [Errno 28] No space left on device. "),
])
def test_demo_failing_in_its_second_checkpoint_write(tmp_path, monkeypatch, capsys,
                                                      failure, code, message):
    data, out = write_data_dir(tmp_path / "data"), tmp_path / "out"
    write_npz, calls = ckpt._write_npz, []

    def fail_the_second(fileobj, arrays):
        calls.append(1)
        if len(calls) == 2:
            fileobj.write(b"PK\x03\x04 half a zip")
            raise FAILURES[failure]
        write_npz(fileobj, arrays)
    monkeypatch.setattr(ckpt, "_write_npz", fail_the_second)
    got, _, err = demo(capsys, "--data-dir", data, "--batch-size", 16, "--checkpoint-every", 2,
                       "--max-steps", 10, "--quiet", "--out", out)
    assert got == code
    assert message + f"The last good checkpoint is {out / 'checkpoint.npz'} (step 2)." in err
    trainer, history, _ = load_run(out / "checkpoint.npz")
    assert trainer.step == 2 and len(history["d_loss"]) == 2
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


@pytest.mark.parametrize("where", ["just after the rename", "writing history.csv"])
def test_interrupt_just_after_a_checkpoint_reports_that_checkpoint(tmp_path, monkeypatch, where):
    """Ctrl-C that lands after the second checkpoint (step 4) is in place, before save returns."""
    run = Run(GANTrainer(SMALL), small_images(64), str(tmp_path), batch_size=32, epochs=2,
              quiet=True, info=INFO)                             # saves at steps 2 and 4
    replace, write_history_csv, saves = os.replace, Run.write_history_csv, []

    def replace_then_interrupt(src, dst):                        # while the folder is synced
        replace(src, dst)
        saves.append(dst)
        if saves.count(run.checkpoint_path) == 2:
            raise KeyboardInterrupt

    def interrupted_history(self):
        if self.trainer.step == 4:
            raise KeyboardInterrupt
        write_history_csv(self)
    if where == "just after the rename":
        monkeypatch.setattr(ckpt.os, "replace", replace_then_interrupt)
    else:
        monkeypatch.setattr(Run, "write_history_csv", interrupted_history)
    with pytest.raises(KeyboardInterrupt):
        run.train()
    assert run.last_good() == f"The last good checkpoint is {run.checkpoint_path} (step 4)."
    assert load_run(run.checkpoint_path)[0].step == 4


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_or_kill_during_training_exits_cleanly(tmp_path, sig):
    """A real SIGINT, or SIGTERM (kill, timeout: it used to end the run with nothing said or
    logged), sent once --checkpoint-every has written a checkpoint mid-epoch."""
    data = write_data_dir(tmp_path / "data")                      # epochs of 6 steps
    path = tmp_path / "out" / "checkpoint.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "npgan.demos.mnist", "--data-dir", str(data), "--batch-size", "16",
         "--checkpoint-every", "4", "--epochs", "1000", "--quiet", "--out", "out"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell starts background jobs with SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler; give the demo the default disposition, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.exists() and proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    m = re.search(r"\ninterrupted at step (\d+)\. The last good checkpoint is (\S+) "
                  r"\(step (\d+)\)\.\n$", err)
    assert m, err
    assert tmp_path / m[2] == path and 4 <= int(m[3]) <= int(m[1])
    assert f"interrupted at step {m[1]}." in (path.parent / "log.txt").read_text()
    trainer, history, _ = load_run(path)
    assert trainer.step == int(m[3]) and len(history["g_loss"]) == trainer.step
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_the_permissions_the_umask_allows(tmp_path, umask):
    """Not mkstemp's owner-only 0o600: a checkpoint or PNG is shared like any file the user
    writes (0o644 under the usual umask 022)."""
    old = os.umask(umask)
    try:
        ckpt.atomic_write(tmp_path / "f.bin", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~umask


def test_interrupt_during_the_final_outputs_is_logged(tmp_path, monkeypatch):
    """Ctrl-C while the run writes its last pictures: log.txt says so (it said only "end:
    step 4 reached"), and the final checkpoint written before it is the last good one."""
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("npgan.run.save_progress_gif", interrupt)
    run = Run(GANTrainer(SMALL), small_images(64), str(tmp_path), batch_size=32, epochs=2,
              quiet=True, info=INFO)
    with pytest.raises(KeyboardInterrupt):
        run.train()
    log = (tmp_path / "log.txt").read_text()
    assert "end: step 4 reached" in log
    assert f"interrupted at step 4. The last good checkpoint is {run.checkpoint_path} (step 4)." in log


def test_ctrl_c_before_the_first_checkpoint_says_how_to_get_one_sooner(tmp_path, monkeypatch,
                                                                      capsys):
    data = write_data_dir(tmp_path / "data")

    def interrupt(self, *args):
        raise KeyboardInterrupt
    monkeypatch.setattr(GANTrainer, "train_step", interrupt)
    code, _, err = demo(capsys, "--data-dir", data, "--batch-size", 16, "--quiet",
                        "--out", tmp_path / "out")
    assert code == 130
    assert err.rstrip().endswith("No checkpoint was written by this run. A checkpoint is "
                                 "written at each epoch's end; --checkpoint-every STEPS writes "
                                 "one more often.")
