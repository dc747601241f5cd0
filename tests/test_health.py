"""Training health (npgan.health): the monitor's rules on made-up numbers, the figures on known
images, and runs made to fail on purpose (a D that wins, a collapsed G, losses that are not
finite), whose warnings must reach stderr, the progress bar and log.txt, and whose figures must
survive a resume."""

import dataclasses
import re

import numpy as np
import pytest
from matplotlib.image import imread

from npgan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from npgan.data import load_mnist, scale_images
from npgan.models import GANConfig
from npgan.health import (D_WINS_STEPS, JUDGE_AFTER, HealthMonitor, HealthProbe,
                          effective_classes, mean_pairwise_distance)
from npgan.plots import save_health_curves
from npgan.run import Run
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import INFO, SMALL, mnist_test_split, no_plots, small_images  # noqa: F401

HEALTHY = {"diversity": 0.9, "classes_covered": 10, "effective_classes": 9.5}


def feed(monitor, d_fakes, start=1):
    """Feed mean D(G(z)) values as steps start, start + 1, ...; returns the Findings."""
    found = []
    for i, d in enumerate(d_fakes):
        found += monitor.step(start + i, {"d_fake": d})
    return found


# ---- the rules, on made-up numbers ---------------------------------------------------------

def test_d_wins_fires_once_at_the_300th_step_in_a_row():
    monitor = HealthMonitor()
    assert feed(monitor, [0.4] * 100) == []
    found = feed(monitor, [0.01] * 500, start=101)
    assert [(f.kind, f.flag, f.step) for f in found] == [("warning", "D wins", 100 + D_WINS_STEPS)]
    assert "below 0.05 for 300 steps in a row (steps 101-400" in found[0].text
    assert "lower learning rate for D" in found[0].text and "scaled the same" in found[0].text
    assert list(monitor.active) == ["D wins"]


def test_d_wins_advice_names_the_runs_own_label_smoothing():
    texts = {s: feed(HealthMonitor(label_smoothing=s), [0.01] * D_WINS_STEPS)[0].text
             for s in (0.0, 0.1, 0.2, 0.25, 0.3, 0.5)}
    assert "one-sided label smoothing (--label-smoothing 0.1: real targets 0.9)" in texts[0.0]
    assert "this run's real targets are 0.9; try --label-smoothing 0.2" in texts[0.1]
    assert "this run's real targets are 0.8; try --label-smoothing 0.3" in texts[0.2]
    assert "this run's real targets are 0.75; try --label-smoothing 0.3" in texts[0.25]
    for s in (0.3, 0.5):                        # at the cap or above: no larger value suggested
        assert f"which this run already has at {s:g}" in texts[s], s
        assert "try --label-smoothing" not in texts[s], s


def test_d_wins_is_not_warned_for_a_healthy_run_or_a_streak_of_299():
    """d_fake of a normal run (0.45 on average, rarely below 0.2) never fires; nor do streaks
    of 299 steps below 0.05 broken by one step at exactly 0.05."""
    rng = np.random.default_rng(0)
    monitor = HealthMonitor()
    assert feed(monitor, np.clip(0.45 + 0.08 * rng.standard_normal(5000), 0.1, 0.9)) == []
    assert feed(monitor, ([0.049] * 299 + [0.05]) * 5, start=5001) == []
    assert monitor.active == {}


def test_d_wins_rearms_after_it_recovers():
    monitor = HealthMonitor()
    first = feed(monitor, [0.001] * 400)
    back = feed(monitor, [0.3], start=401)
    again = feed(monitor, [0.02] * 300, start=402)
    assert [f.step for f in first] == [300]
    assert [(f.kind, f.step) for f in back] == [("recovered", 401)]
    assert "after 400 steps below 0.05" in back[0].text
    assert [(f.kind, f.step) for f in again] == [("warning", 701)]


def test_epoch_rules_fire_once_recover_and_wait_for_judge_after():
    monitor = HealthMonitor(reference={"effective_classes": 9.95}, dataset="mnist")
    collapsed = {"diversity": 0.02, "classes_covered": 1, "effective_classes": 1.0}
    assert monitor.epoch(JUDGE_AFTER - 1, collapsed) == []          # G has barely started
    found = monitor.epoch(JUDGE_AFTER, collapsed, epoch=3)
    assert [(f.kind, f.flag) for f in found] == [("warning", "low diversity"),
                                                ("warning", "few classes")]
    assert "pixel diversity after epoch 3 is 0.02" in found[0].text
    assert "1.0 effective classes" in found[1].text and "real images: 9.9" in found[1].text
    assert "1 class holds at least 1% of them" in found[1].text
    assert "mode collapse" in found[1].text
    assert monitor.epoch(JUDGE_AFTER + 100, collapsed) == []        # warned once
    found = monitor.epoch(JUDGE_AFTER + 200, HEALTHY)
    assert [(f.kind, f.flag) for f in found] == [("recovered", "low diversity"),
                                                ("recovered", "few classes")]
    assert monitor.active == {}


def test_epoch_rules_at_the_thresholds_and_without_a_classifier():
    monitor = HealthMonitor()
    at = {"diversity": monitor.low_diversity, "classes_covered": 5,
          "effective_classes": monitor.few_classes}
    assert monitor.epoch(1000, at) == []                             # "below" is strict
    no_classifier = {"diversity": 0.9, "classes_covered": None, "effective_classes": None}
    assert monitor.epoch(2000, no_classifier) == []
    low = {"diversity": 0.1, "classes_covered": None, "effective_classes": None}
    assert [f.flag for f in monitor.epoch(3000, low)] == ["low diversity"]


def test_replay_continues_where_the_history_stopped():
    """A monitor rebuilt from a history that ends 350 steps into a streak does not warn again;
    one rebuilt 250 steps into a streak warns 50 steps later, as the whole run would have."""
    warned = HealthMonitor()
    warned.replay({"d_fake": [0.4] * 10 + [0.01] * 350})
    assert list(warned.active) == ["D wins"] and feed(warned, [0.01] * 100, start=361) == []
    waiting = HealthMonitor()
    waiting.replay({"d_fake": [0.4] * 10 + [0.01] * 250})
    assert [f.step for f in feed(waiting, [0.01] * 100, start=261)] == [310]
    collapsed = HealthMonitor()
    collapsed.replay({"d_fake": [], "health_step": [600], "diversity": [0.01],
                      "classes_covered": [None], "effective_classes": [None]})
    assert list(collapsed.active) == ["low diversity"]


# ---- the figures, on known images ---------------------------------------------------------

def test_mean_pairwise_distance_on_known_points(rng):
    assert mean_pairwise_distance([[0, 0], [3, 4]]) == pytest.approx(5.0, rel=1e-12)
    assert mean_pairwise_distance([[0.0], [1.0], [3.0]]) == pytest.approx(2.0, rel=1e-12)
    same = np.tile(rng.uniform(-1, 1, 784).astype(np.float32), (50, 1))
    assert mean_pairwise_distance(same) == 0.0                      # exactly: no round-off
    x = rng.standard_normal((30, 7)) + 100                           # far from the origin
    brute = np.mean([np.linalg.norm(x[i] - x[j]) for i in range(30) for j in range(i + 1, 30)])
    assert mean_pairwise_distance(x) == pytest.approx(brute, rel=1e-10)
    with pytest.raises(ValueError, match="at least 2 rows"):
        mean_pairwise_distance(x[:1])


def test_effective_classes():
    assert effective_classes(np.full(10, 0.1)) == pytest.approx(10.0)
    assert effective_classes(np.eye(10)[3]) == 1.0
    assert effective_classes([0.5, 0.5] + [0.0] * 8) == pytest.approx(2.0)


@pytest.fixture(scope="module")
def probe():
    """A probe of an untrained GAN on 1,000 MNIST training images (its reference)."""
    train = scale_images(load_mnist("train")[0][:5000])
    return HealthProbe(GANTrainer(SMALL, seed=0), train, "mnist")


def test_real_images_score_about_one_and_identical_ones_zero(probe):
    """Measured: 1,000 test images against 1,000 training images score diversity 0.977 and
    9.90 effective classes (the training images themselves: 9.95)."""
    real = scale_images(mnist_test_split()[0][:1000])
    figures = probe.figures(real)
    assert 0.93 < figures["diversity"] < 1.07
    assert figures["classes_covered"] == 10 and figures["effective_classes"] > 9.5
    assert probe.reference["diversity"] == 1.0 and probe.reference["effective_classes"] > 9.5
    one = probe.figures(np.repeat(real[:1], 1000, axis=0))
    assert one == {"diversity": 0.0, "classes_covered": 1, "effective_classes": 1.0}


def test_one_digit_shows_in_the_classes_not_in_the_pixels(probe):
    """1,000 real images of one digit are nearly as varied in pixels as the data (measured:
    0.96 for zeros, 0.62 for the thin ones), so only the classifier's figure warns that G
    draws one class (measured: 1.05 effective classes)."""
    images, labels = mnist_test_split()
    for digit in (0, 1):
        figures = probe.figures(scale_images(images[labels == digit][:1000]))
        assert figures["diversity"] > 0.55 and figures["effective_classes"] < 1.2
        found = HealthMonitor().epoch(JUDGE_AFTER, figures)
        assert [f.flag for f in found] == ["few classes"]


def test_a_sigmoid_gs_data_in_0_1_is_compared_in_minus_1_1_and_other_data_gets_diversity_only():
    """A Sigmoid G trains on images in [0, 1] and its samples come back in [-1, 1]
    (GANTrainer.sample): the probe brings the real images there too, so the same images
    score the same figures as for a Tanh G."""
    images = scale_images(mnist_test_split()[0][:600])
    trainer = GANTrainer(SMALL, seed=0)
    sigmoid = GANTrainer(dataclasses.replace(SMALL, output="sigmoid"), seed=0)
    a = HealthProbe(trainer, images[:300], "mnist")
    b = HealthProbe(sigmoid, scale_images(mnist_test_split()[0][:300], low=0), "mnist")
    fa, fb = a.figures(images[300:]), b.figures(images[300:])
    assert fa["diversity"] == pytest.approx(fb["diversity"], rel=1e-5)
    assert fa["effective_classes"] == pytest.approx(fb["effective_classes"], rel=1e-5)
    assert a.reference["effective_classes"] == pytest.approx(b.reference["effective_classes"],
                                                             rel=1e-5)
    other = HealthProbe(trainer, images[:300], "images")
    assert other.classifier is None
    figures = other.figures(images[300:])
    assert figures["effective_classes"] is None and 0.9 < figures["diversity"] < 1.1


def test_a_conditional_g_is_asked_for_every_class_equally():
    trainer = GANTrainer(GANConfig(latent_dim=16, g_hidden=(32,), d_hidden=(32,),
                                   num_classes=10), seed=0)
    probe = HealthProbe(trainer, small_images(500), "mnist")
    assert probe.n == 500 and np.bincount(probe.labels).tolist() == [50] * 10
    figures = probe.measure()
    assert 0 <= figures["diversity"] and 1 <= figures["effective_classes"] <= 10


# ---- runs made to fail on purpose -----------------------------------------------------------

def first_streak_end(d_fake, below=0.05, length=D_WINS_STEPS):
    """The step (1-based) at which ``d_fake`` has first been below ``below`` ``length`` times in
    a row, or None."""
    streak = 0
    for step, d in enumerate(d_fake, start=1):
        streak = streak + 1 if d < below else 0
        if streak == length:
            return step
    return None


@pytest.mark.usefixtures("no_plots")
def test_a_d_that_wins_is_warned_on_stderr_in_the_bar_and_in_the_log(tmp_path, capsys):
    """G frozen (its learning rate 0): D learns to tell its fixed fakes from real images, and
    mean D(G(z)) falls below 0.05 after about 115 steps."""
    trainer = GANTrainer(SMALL, seed=1)
    trainer.opt_g.lr = 0.0
    run = Run(trainer, small_images(1984), str(tmp_path), batch_size=32, epochs=10,
              max_steps=500, info=INFO)
    run.train()
    fired = first_streak_end(run.history["d_fake"])
    assert fired is not None and fired < 500
    _, err = capsys.readouterr()
    warning = f"warning at step {fired}: D is winning: mean D(G(z)) has been below 0.05"
    assert warning in err
    assert "health=D wins" in err                                   # the bar's postfix
    log = (tmp_path / "log.txt").read_text().splitlines()
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  start: training on mnist from step 0 "
                    r"to step 500", log[0])
    assert [line.split("  ", 1)[1] for line in log if warning in line] == [
        str(f) for f in run.findings if f.flag == "D wins"]
    assert log[-1].endswith("end: step 500 reached in " + log[-1].split(" in ")[1])
    assert "1 health warning(s)" in log[-1]


@pytest.mark.usefixtures("no_plots")
def test_a_collapsed_g_is_warned_after_the_first_judged_epoch(tmp_path, capsys):
    """G's last Linear zeroed and G frozen: every sample is the same image tanh(b), so the
    diversity is 0 and the classifier sees one class. (D wins too.)"""
    trainer = GANTrainer(SMALL, seed=2)
    last = [m for m in trainer.G.modules() if hasattr(m, "weight")][-1]
    last.weight.data[...] = 0
    trainer.opt_g.lr = 0.0
    run = Run(trainer, small_images(1984), str(tmp_path), batch_size=32, epochs=10, quiet=True,
              info=INFO)                                             # 62 steps an epoch
    run.train()
    assert run.history["health_step"] == [62 * e for e in range(1, 11)]
    assert run.history["diversity"] == [0.0] * 10
    assert run.history["effective_classes"] == [1.0] * 10
    epoch = -(-JUDGE_AFTER // 62)                                    # the first judged check
    _, err = capsys.readouterr()
    log = (tmp_path / "log.txt").read_text()
    for text in (f"warning at step {62 * epoch}: G's samples look alike: their pixel diversity "
                 f"after epoch {epoch} is 0.00",
                 f"warning at step {62 * epoch}: G draws few kinds of image: after epoch "
                 f"{epoch} the shipped mnist classifier puts 1,000 samples into 1.0 effective "
                 "classes"):
        assert text in err and text in log                           # printed although quiet
        assert err.count(text) == 1 and log.count(text) == 1        # once, not every epoch
    assert "minibatch discrimination" in err


@pytest.mark.usefixtures("no_plots")
def test_a_g_that_learns_100_times_faster_than_d_is_warned(tmp_path):
    """G's lr 2e-2 against D's 2e-4: the default GAN collapses to one image (diversity 0.05,
    1 effective class after epoch 1; npgan.health's table); the small GAN here falls to 1 to
    4 effective classes (measured with seeds 1 to 3) and is warned at its first judged check."""
    trainer = GANTrainer(SMALL, seed=1)
    trainer.opt_g.lr = 2e-2
    run = Run(trainer, small_images(1984), str(tmp_path), batch_size=32, epochs=10, quiet=True,
              info=INFO)
    run.train()
    judged = [k for s, k in zip(run.history["health_step"], run.history["effective_classes"])
              if s >= JUDGE_AFTER]
    assert judged and max(judged) < 5
    assert [(f.kind, f.flag, f.step) for f in run.findings] == [("warning", "few classes", 620)]
    assert "warning at step 620: G draws few kinds of image" in (tmp_path / "log.txt").read_text()


@pytest.mark.usefixtures("no_plots")
def test_health_figures_survive_a_resume(tmp_path):
    """2 epochs in one go, or 1.4 epochs, a resume and the rest: the same figures at the same
    steps, in the checkpoint and in the resumed Run's history."""
    def run(out, trainer, **kwargs):
        Run(trainer, small_images(160), str(out), batch_size=32, epochs=2, quiet=True,
            info=INFO, **kwargs).train()
        return out / "checkpoint.npz"
    whole = run(tmp_path / "whole", GANTrainer(SMALL, seed=1))
    part = run(tmp_path / "part", GANTrainer(SMALL, seed=1), max_steps=7)
    assert load_run(part)[1]["health_step"] == [5]
    trainer, history, info = load_run(part)
    run(tmp_path / "part", trainer, history=history, resumed_from=str(part))
    a, b = load_run(whole)[1], load_run(part)[1]
    assert a["health_step"] == b["health_step"] == [5, 10]
    for k in ("diversity", "classes_covered", "effective_classes"):
        assert a[k] == b[k] and all(v is not None for v in a[k])
    assert isinstance(b["classes_covered"][0], int)
    log = (tmp_path / "part" / "log.txt").read_text().splitlines()
    assert len(log) == 4 and "resumed from" in log[2]             # two starts, two ends


@pytest.mark.usefixtures("no_plots")
def test_a_checkpoint_without_health_figures_still_loads_and_resumes(tmp_path):
    out = tmp_path / "run"
    Run(GANTrainer(SMALL, seed=1), small_images(64), str(out), batch_size=32, epochs=1,
        quiet=True, info=INFO).train()
    path = out / "checkpoint.npz"
    arrays, meta = load_checkpoint(path)
    old = {k: v for k, v in arrays.items() if not k.startswith(("history.health_step",
           "history.diversity", "history.classes_covered", "history.effective_classes"))}
    assert len(old) == len(arrays) - 4
    save_checkpoint(path, old, meta)                                  # as an older npgan wrote it
    trainer, history, info = load_run(path)
    assert history["health_step"] == [] and history["diversity"] == []
    Run(trainer, small_images(64), str(out), batch_size=32, epochs=2, quiet=True, info=INFO,
        history=history, resumed_from=str(path)).train()
    assert load_run(path)[1]["health_step"] == [4]


@pytest.mark.usefixtures("no_plots")
@pytest.mark.parametrize("damage, message", [
    (lambda a: a.update({"history.health_step": np.array([2, 1])}), "increasing integer steps"),
    (lambda a: a.update({"history.health_step": np.array([99])}), r"steps in 1\.\.2"),
    (lambda a: a.update({"history.diversity": np.zeros(3)}), r"history\.diversity is of shape"),
    (lambda a: a.pop("history.health_step"), "history.health_step, the steps"),
], ids=["decreasing", "past the step", "wrong length", "steps missing"])
def test_damaged_health_history_is_refused(tmp_path, damage, message):
    Run(GANTrainer(SMALL, seed=1), small_images(64), str(tmp_path), batch_size=32, epochs=1,
        quiet=True, info=INFO).train()
    path = tmp_path / "checkpoint.npz"
    arrays, meta = load_checkpoint(path)
    damage(arrays)
    save_checkpoint(path, arrays, meta)
    with pytest.raises(CheckpointError, match=message):
        load_run(path)


def test_health_plot_is_written_with_and_without_classes(tmp_path):
    history = {"health_step": [100, 200, 300], "diversity": [0.5, 0.8, 0.9],
               "classes_covered": [6, 10, 10], "effective_classes": [4.0, 9.0, 9.6]}
    save_health_curves(history, tmp_path / "a.png", low_diversity=0.4, few_classes=5,
                       reference={"effective_classes": 9.95}, judge_after=150)
    save_health_curves({**history, "classes_covered": [None] * 3,
                        "effective_classes": [None] * 3}, tmp_path / "b.png")
    for name in ("a.png", "b.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]   # no temp files
    with_classes, without = imread(tmp_path / "a.png"), imread(tmp_path / "b.png")
    assert with_classes.shape[0] > 1.5 * without.shape[0]          # two panels, then one
    with pytest.raises(ValueError, match="no health checks"):
        save_health_curves({"health_step": []}, tmp_path / "c.png")
    with pytest.raises(ValueError, match="2 values for 3 checks"):
        save_health_curves({**history, "diversity": [0.1, 0.2]}, tmp_path / "c.png")
