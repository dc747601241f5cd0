"""The learning-rate schedule (``lr_decay``): its formula, the trainer's use of it, and the
demos' flag, default and resume."""

import json

import numpy as np
import pytest

from npgan.demos.run_settings import new_run_settings
from npgan.demos.flags import CONDITIONAL, build_parser
from npgan.models import GANConfig
from npgan.run_state import load_run
from npgan.train import GANTrainer, decayed_lr
from small_runs import (assert_same_checkpoint, demo, no_plots,  # noqa: F401
                        older_run_without, write_data_dir)

CFG = GANConfig(latent_dim=3, g_hidden=(5, 6), d_hidden=(6, 4), image_dim=4)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 1.0])
def test_decayed_lr_is_flat_then_a_straight_line_to_zero(fraction):
    """Against np.interp through the schedule's corners: (0, lr), ((1 - f) T, lr), (T, 0)."""
    lr, total = 2e-4, 40
    start = (1 - fraction) * total
    for step in range(total):
        expected = np.interp(step, [0, start, total], [lr, lr, 0.0])
        assert decayed_lr(lr, step, total, fraction) == pytest.approx(expected, rel=1e-12)
    assert decayed_lr(lr, total - 1, total, fraction) == pytest.approx(lr / (fraction * total))
    assert decayed_lr(lr, total + 5, total, fraction) == 0.0            # past the run: no step
    assert all(decayed_lr(lr, s, total, 0.0) == lr for s in (0, total - 1, total + 5))


def test_decayed_lr_of_a_run_of_no_steps_is_a_clear_error():
    with pytest.raises(ValueError, match="total_steps must be a positive number of steps, got 0"):
        decayed_lr(2e-4, 0, 0, 0.5)                     # was a bare ZeroDivisionError


def test_each_step_moves_the_weights_by_its_decayed_rate(rng):
    """Adam's step is lr times a function of the gradients alone (lr m_hat / (sqrt(v_hat) +
    eps)), so two trainers from the same state take D steps in the ratio of their rates (D
    steps first; G's gradient then goes through D's new weights, which differ). A schedule
    over T = 4 steps with f = 1 takes lr, 3/4 lr, 1/2 lr, 1/4 lr; its first step equals the
    undecayed trainer's, bit for bit."""
    real = rng.uniform(-1, 1, (6, CFG.image_dim))
    flat = GANTrainer(CFG, seed=2, dtype=np.float64)
    decayed = GANTrainer(CFG, seed=2, dtype=np.float64, lr_decay=1.0)
    decayed.total_steps = 4
    flat.train_step(real)
    decayed.train_step(real)
    for a, b in zip(flat.device_state().values(), decayed.device_state().values()):
        assert np.array_equal(a, b)
    before = [p.data.copy() for p in decayed.D.parameters()]
    arrays, meta = decayed.state()                         # step 1 from the same state, flat
    flat = GANTrainer.from_state(arrays, {**meta, "settings": {**meta["settings"],
                                                                "lr_decay": 0.0}})
    flat.noise_rng.bit_generator.state = decayed.noise_rng.bit_generator.state
    flat.train_step(real)
    decayed.train_step(real)
    assert decayed.opt_g.lr == decayed.opt_d.lr == pytest.approx(0.75 * flat.settings["lr"])
    for w0, a, b in zip(before, flat.D.parameters(), decayed.D.parameters()):
        np.testing.assert_allclose(b.data - w0, 0.75 * (a.data - w0), rtol=1e-9, atol=1e-15)
    decayed.train_step(real)
    decayed.train_step(real)
    assert decayed.opt_g.lr == pytest.approx(0.25 * flat.settings["lr"])


def test_a_schedule_needs_the_runs_length_and_a_fraction_in_range(rng):
    trainer = GANTrainer(CFG, lr_decay=0.5)
    with pytest.raises(ValueError, match="total_steps"):
        trainer.train_step(rng.uniform(-1, 1, (4, CFG.image_dim)).astype(np.float32))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="lr_decay"):
            GANTrainer(CFG, lr_decay=bad)


def demo_run(capsys, folder, *flags):
    code, _, err = demo(capsys, "--batch-size", "16", "--epochs", "2", "--data-dir", folder,
                        "--quiet", *flags)      # 96 images: 6 steps an epoch
    assert code == 0, err


def test_a_stopped_run_resumes_on_the_same_schedule(capsys, tmp_path, no_plots):
    """--max-steps stops a decaying run early, as Ctrl-C would; --resume then finishes it
    bit for bit as the run that never stopped: the schedule spans the epochs asked for. A
    resume that would stretch the schedule (other --epochs) is refused; the flat run differs."""
    mnist_dir = write_data_dir(tmp_path / "data")
    flags = ("--conditional", "--lr-decay", "0.5", "--threads", "1")
    demo_run(capsys, mnist_dir, *flags, "--out", tmp_path / "whole")
    demo_run(capsys, mnist_dir, *flags, "--out", tmp_path / "part", "--max-steps", "7")
    part = load_run(tmp_path / "part" / "checkpoint.npz")[0]
    assert part.step == 7
    code, _, err = demo(capsys, "--resume", tmp_path / "part" / "checkpoint.npz", "--epochs",
                        "3", "--data-dir", mnist_dir)
    assert code == 2 and "--epochs 3 would change this run's learning-rate schedule" in err
    demo_run(capsys, mnist_dir, "--resume", tmp_path / "part",   # a run's folder will do
             "--threads", "1")
    assert_same_checkpoint(tmp_path / "whole" / "checkpoint.npz",
                           tmp_path / "part" / "checkpoint.npz")
    demo_run(capsys, mnist_dir, "--conditional", "--lr-decay", "0", "--threads", "1",
             "--out", tmp_path / "flat")            # the same run at a flat rate: it differs
    with pytest.raises(AssertionError, match="arrays differ"):
        assert_same_checkpoint(tmp_path / "whole" / "checkpoint.npz",
                               tmp_path / "flat" / "checkpoint.npz")
    log = (tmp_path / "whole" / "log.txt").read_text()
    assert "lr 0.0002 (to 0 over the last 50% of the 12 steps)" in log
    # the resumed run's log says the rate it resumed at: step 7 of 12, 5/6 of the rate
    assert "50% of the 12 steps; 0.000167 at step 7)" in (tmp_path / "part" / "log.txt").read_text()
    code, _, err = demo(capsys, "--resume", tmp_path / "part" / "checkpoint.npz",
                        "--data-dir", mnist_dir, "--threads", "1")
    assert code == 0 and "already at step 12, where this run stops (2 epochs): nothing to" in err


def test_the_default_decays_for_the_fully_connected_mnist_cgan_only(capsys, tmp_path):
    """README "Results": the schedule is the MNIST cGAN's default; every other run keeps a
    flat rate unless asked, a resumed run keeps its own, and a bad fraction is named."""
    parser = build_parser("mnist", "mnist", 15, "")

    def decay(*flags, dataset="mnist"):
        args = parser.parse_args(list(flags))
        return new_run_settings(args, None, {}, {}, dataset)[1]["lr_decay"]

    assert CONDITIONAL["mnist"]["lr_decay"] > 0
    assert decay("--conditional") == CONDITIONAL["mnist"]["lr_decay"]
    assert decay() == decay("--model", "dcgan", "--conditional") == 0
    assert decay("--conditional", dataset="fashion_mnist") == 0
    assert decay("--lr-decay", "0.3") == decay("--conditional", "--lr-decay", "0.3") == 0.3
    code, _, err = demo(capsys, "--conditional", "--max-steps", "1", "--batch-size", "8",
                        "--out", tmp_path / "cgan")
    assert code == 0, err
    code, _, err = demo(capsys, "--resume", tmp_path / "cgan" / "checkpoint.npz",
                        "--lr-decay", "0", "--max-steps", "2")
    assert code == 2 and "--lr-decay 0.0 contradicts the checkpoint's" in err
    code, _, err = demo(capsys, "--lr-decay", "2", "--out", tmp_path / "bad")
    assert code == 2 and "--lr-decay" in err and "must be in [0, 1]" in err
    (tmp_path / "bad.json").write_text(json.dumps({"model": {}, "lr_decay": -1}))
    code, _, err = demo(capsys, "--config", tmp_path / "bad.json", "--out", tmp_path / "bad2")
    assert code == 2 and "lr_decay" in err


def test_an_older_run_repeats_with_a_flat_rate(tmp_path, capsys):
    """A run's config.json or checkpoint from before the setting existed trained at a flat
    rate; repeating or resuming it keeps it so, whatever today's default."""
    info, old = older_run_without(capsys, tmp_path, "lr_decay", "--conditional")
    assert info["lr_decay"] > 0
    assert old.settings["lr_decay"] == 0
