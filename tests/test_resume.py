"""Resume: N steps in one run equal k steps, a checkpoint, a resume and N - k more, bit for bit
(weights, BatchNorm statistics, optimizer moments, the noise generator and the history).
``--max-steps`` counts the run's total steps; flags that contradict the checkpoint are errors."""

import shutil

import numpy as np
import pytest

from npgan.checkpoint import load_checkpoint, save_checkpoint
from npgan.run import Run
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import (INFO, SMALL, assert_same_checkpoint, demo, no_plots,  # noqa: F401
                        run_cli, skip_plots, small_images, write_data_dir)

pytestmark = pytest.mark.usefixtures("no_plots")     # the numbers are under test, not PNGs


def small_run(out, trainer=None, **kwargs):
    """The small GAN for 10 steps (2 epochs of 5 batches of 32), or fewer with max_steps."""
    trainer = trainer or GANTrainer(SMALL, seed=1)
    Run(trainer, small_images(), str(out), batch_size=32, epochs=2, quiet=True, info=INFO,
        **kwargs).train()
    return out / "checkpoint.npz"


def resume(checkpoint, out):
    """Continue the run saved in ``checkpoint`` to its end, writing into ``out``."""
    trainer, history, info = load_run(checkpoint)
    Run(trainer, small_images(), str(out), batch_size=info["batch_size"], epochs=info["epochs"],
        history=history, info=info, quiet=True, resumed_from=str(checkpoint)).train()
    return out / "checkpoint.npz"


def test_resume_mid_epoch_equals_one_uninterrupted_run(tmp_path):
    one = small_run(tmp_path / "one")
    two = small_run(tmp_path / "two", max_steps=7)              # stops 2 steps into epoch 2
    assert load_run(two)[0].step == 7
    resume(two, tmp_path / "two")
    assert_same_checkpoint(one, two)
    assert (tmp_path / "one" / "history.csv").read_text() == (tmp_path / "two" / "history.csv").read_text()


@pytest.mark.parametrize("lost", ["noise generator", "optimizer state"])
def test_a_resume_that_lost_some_state_would_be_caught(tmp_path, lost):
    """The comparison above is sensitive to each piece of state a checkpoint must carry."""
    one = small_run(tmp_path / "one")
    two = small_run(tmp_path / "two", max_steps=7)
    arrays, meta = load_checkpoint(two)
    if lost == "noise generator":                               # back to where it started
        meta["noise_rng"] = GANTrainer(SMALL, seed=1).noise_rng.bit_generator.state
    else:               # fresh moments (a step count of 0 is refused on loading, elsewhere)
        arrays = {k: np.zeros_like(v) if k.startswith("opt_") and not k.endswith(".t") else v
                  for k, v in arrays.items()}
    save_checkpoint(two, arrays, meta)
    resume(two, tmp_path / "two")
    with pytest.raises(AssertionError, match="arrays differ"):
        assert_same_checkpoint(one, two)


def test_a_checkpoint_every_on_an_epochs_last_step_keeps_its_health_check(tmp_path):
    """checkpoint_every=5 falls on each epoch's last step: the save there used to come
    before the epoch's health check, and the epoch-end save then saw that step saved already,
    so the check never reached a checkpoint (and a resumed run's health.png had a gap)."""
    one = small_run(tmp_path / "one")
    two = small_run(tmp_path / "two", checkpoint_every=5)
    assert load_checkpoint(two)[0]["history.health_step"].tolist() == [5, 10]
    assert_same_checkpoint(one, two)


def test_crash_after_a_checkpoint_every_then_resume(tmp_path):
    """checkpoint_every=3 writes at step 6, mid-epoch 2; a crash at step 9 loses 2 steps only."""
    one = small_run(tmp_path / "one")
    trainer = GANTrainer(SMALL, seed=1)
    train_step = trainer.train_step

    def crash_at_step_9(real):
        if trainer.step == 8:
            raise KeyboardInterrupt
        return train_step(real)
    trainer.train_step = crash_at_step_9
    with pytest.raises(KeyboardInterrupt):
        small_run(tmp_path / "two", trainer, checkpoint_every=3)
    two = tmp_path / "two" / "checkpoint.npz"
    assert load_run(two)[0].step == 6
    resume(two, tmp_path / "two")
    assert_same_checkpoint(one, two)


# ---- the same through the command line ---------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """``--max-steps 6`` in one run (direct/, in a subprocess) and ``--max-steps 3`` (first/, in
    this process), on 64 images: epochs of 4 steps at --batch-size 16, so step 3 is inside
    epoch 1 and a resume to 6 crosses into epoch 2."""
    root = tmp_path_factory.mktemp("cli")
    data = write_data_dir(root / "data", n=64)
    flags = ("--data-dir", data, "--batch-size", 16, "--quiet", "--out")
    result = run_cli("npgan.demos.mnist", *flags, "direct", "--max-steps", 6, cwd=root)
    assert result.returncode == 0, result.stderr
    with pytest.MonkeyPatch.context() as mp:
        skip_plots(mp)
        assert demo(None, *flags, root / "first", "--max-steps", 3)[0] == 0
    return root, data


def test_resume_into_another_folder_equals_the_direct_run(cli):
    root, data = cli
    first = (root / "first" / "checkpoint.npz").read_bytes()
    result = run_cli("npgan.demos.mnist", "--resume", "first/checkpoint.npz", "--out", "second",
                     "--max-steps", 6, "--data-dir", data, "--quiet", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "until step 6" in result.stdout and "resuming at step 3" in result.stdout
    assert_same_checkpoint(root / "direct" / "checkpoint.npz", root / "second" / "checkpoint.npz")
    assert (root / "direct" / "history.csv").read_text() == (root / "second" / "history.csv").read_text()
    assert (root / "first" / "checkpoint.npz").read_bytes() == first      # left as it was


def test_resume_in_place_from_a_bare_file_name(cli, capsys, monkeypatch):
    """``--resume checkpoint.npz`` run inside the run's folder writes back into that folder."""
    root, data = cli
    shutil.copytree(root / "first", root / "in-place")
    monkeypatch.chdir(root / "in-place")
    code, _, err = demo(capsys, "--resume", "checkpoint.npz", "--max-steps", 6,
                        "--data-dir", data, "--quiet")
    assert code == 0, err
    assert_same_checkpoint(root / "direct" / "checkpoint.npz", root / "in-place" / "checkpoint.npz")


def test_resume_refuses_to_replace_another_run_in_out(cli, capsys):
    """--resume A --out B, where B holds another run: refused, both runs left as they were;
    with --overwrite it replaces B's run (the new-run rule)."""
    root, data = cli
    shutil.copytree(root / "first", root / "other")
    before = {p: (root / p / "checkpoint.npz").read_bytes() for p in ("first", "other")}
    code, _, err = demo(capsys, "--resume", root / "first", "--out", root / "other",
                        "--max-steps", 6, "--data-dir", data, "--quiet")
    assert code == 2 and "already holds another run" in err and "--overwrite" in err
    assert {p: (root / p / "checkpoint.npz").read_bytes() for p in before} == before
    code, _, err = demo(capsys, "--resume", root / "first", "--out", root / "other", "--overwrite",
                        "--max-steps", 6, "--data-dir", data, "--quiet")
    assert code == 0, err
    assert_same_checkpoint(root / "direct" / "checkpoint.npz", root / "other" / "checkpoint.npz")
    assert (root / "first" / "checkpoint.npz").read_bytes() == before["first"]


def test_resume_reads_the_data_dir_the_run_trained_on(cli, capsys):
    """A run trained with --data-dir resumes on that folder, not on the shipped MNIST, and its
    config.json keeps it (so that --config can repeat the run)."""
    root, data = cli
    shutil.copytree(root / "first", root / "again")
    code, out, err = demo(capsys, "--resume", root / "again", "--max-steps", 6, "--quiet")
    assert code == 0, err
    assert f"reading the images from {data}" in err
    assert "epochs of 4 steps" in out             # 64 images, not the shipped 60,000
    assert_same_checkpoint(root / "direct" / "checkpoint.npz", root / "again" / "checkpoint.npz")
    assert '"data_dir": ' in (root / "again" / "config.json").read_text()


@pytest.mark.parametrize("flag, value, stored", [
    ("--lr", "0.1", "0.0002"), ("--seed", "3", "0"), ("--batch-size", "32", "16"),
    ("--latent-dim", "8", "100"), ("--optimizer", "rmsprop", "adam"),
])
def test_flags_that_contradict_the_checkpoint(cli, capsys, flag, value, stored):
    root, data = cli
    before = (root / "first" / "checkpoint.npz").read_bytes()
    code, _, err = demo(capsys, "--resume", root / "first" / "checkpoint.npz", flag, value,
                        "--data-dir", data, "--quiet")
    assert code == 2
    assert f"{flag} {value} contradicts the checkpoint's {stored}" in err
    assert (root / "first" / "checkpoint.npz").read_bytes() == before


def test_conditional_flag_on_a_plain_checkpoint(cli, capsys):
    root, data = cli
    code, _, err = demo(capsys, "--resume", root / "first" / "checkpoint.npz", "--conditional",
                        "--data-dir", data, "--quiet")
    assert code == 2 and "--conditional given, but the checkpoint holds a plain GAN" in err


def test_max_steps_below_the_checkpoint_is_an_error(cli, capsys):
    root, data = cli
    code, _, err = demo(capsys, "--resume", root / "first" / "checkpoint.npz", "--max-steps", 2,
                        "--data-dir", data, "--quiet")
    assert code == 2
    assert "error: the checkpoint is at step 3, past the step 2 where this run would stop" in err


def test_checkpoint_of_another_dataset(cli, capsys, tmp_path):
    root, data = cli
    arrays, meta = load_checkpoint(root / "first" / "checkpoint.npz")
    meta["run"]["dataset"] = "fashion_mnist"
    save_checkpoint(tmp_path / "fashion.npz", arrays, meta)
    code, _, err = demo(capsys, "--resume", tmp_path / "fashion.npz", "--data-dir", data, "--quiet")
    assert code == 2 and "the checkpoint was trained on fashion_mnist, not mnist" in err


def test_checkpoint_of_the_python_api_needs_a_batch_size(cli, capsys, tmp_path):
    """A Run without run information records no batch size; --batch-size supplies it."""
    root, data = cli
    Run(GANTrainer(SMALL, seed=1), small_images(64), str(tmp_path), batch_size=32, epochs=1,
        quiet=True).train()
    ckpt = tmp_path / "checkpoint.npz"
    code, _, err = demo(capsys, "--resume", ckpt, "--data-dir", data, "--quiet")
    assert code == 2 and "the checkpoint does not record its batch size; give --batch-size" in err
    code, _, err = demo(capsys, "--resume", ckpt, "--batch-size", 16, "--max-steps", 5,
                        "--data-dir", data, "--quiet")
    assert code == 0, err
    assert load_run(ckpt)[0].step == 5


def test_a_run_that_skips_scoring_says_when_metrics_json_is_older(tmp_path, capsys):
    from npgan.demos.common import note_stale_metrics
    path = tmp_path / "metrics.json"
    note_stale_metrics(str(path), 6)                         # none: nothing to say
    path.write_text('{"step": 3, "classifier_score": 8.0}')
    note_stale_metrics(str(path), 3)                         # this run's own step
    assert capsys.readouterr().err == ""
    note_stale_metrics(str(path), 6)
    assert f"note: {path} scores step 3, not this run's step 6" in capsys.readouterr().err
