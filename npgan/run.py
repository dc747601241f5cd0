"""The training loop behind the demos: epochs of steps, a progress bar, and every output file.

    out/config.json             the run's settings, written at the start
    out/samples_epoch_NNN.png   64 samples after each epoch, from the same fixed noise (a grid of
                                a row per class for a cGAN, per code with InfoGAN's codes: 10 x
                                10 for MNIST's defaults; more than 50 epochs: every k-th, below)
    out/checkpoint.npz          everything needed to resume, after each epoch and at the end
                                (a run of more than 50 epochs: after every k-th epoch, the
                                fewest that keep these two to MAX_EPOCH_OUTPUTS = 50)
    out/history.csv             d_loss, g_loss, D(x), D(G(z)) for every step
    out/losses.png              those four curves
    out/health.png              G's diversity (and classes, for MNIST / Fashion-MNIST) per epoch
    out/log.txt                 appended: each run's start and end, and every health warning
    out/samples.png             the final grid
    out/progress.gif            those grids as a looping GIF, at the end (npgan/animate.py)

Health (npgan.health): a warning when D wins for hundreds of steps or when G's samples
collapse is printed (also with ``quiet``: it matters), shown in the progress bar and written
to log.txt with the time; the per-epoch figures are kept in ``history`` and the checkpoint.

Reading a run back (``load_run``) lives in npgan/run_state.py.

A step's position in the data is a pure function of the step number: epoch e shuffles with a
generator seeded by (seed, e), so a resumed run reads exactly the batches it would have read.
"""

import csv
import io
import json
import math
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from npgan.animate import save_progress_gif
from npgan.backend import to_host
from npgan.checkpoint import atomic_write, save_checkpoint
from npgan.data import DataError, batches
from npgan.health import (DIVERGED_ADVICE, FEW_CLASSES, FIGURES, HEALTH_KEYS, JUDGE_AFTER,
                          LOW_DIVERSITY, HealthMonitor, HealthProbe, log_line)
from npgan.latent import code_grid, draw_latent
from npgan.models import image_shape_of
from npgan.plots import save_health_curves, save_image_grid, save_loss_curves
from npgan.run_state import health_arrays
from npgan.threads import timed
from npgan.train import HISTORY_KEYS, decayed_lr
from npgan.train_state import settings_arguments

N_FIXED = 64
MAX_EPOCH_OUTPUTS = 50              # at most this many per-epoch grids, checks and checkpoints


class TrainingDiverged(RuntimeError):
    """A batch, loss or weight held NaN or infinite values; the last good checkpoint was left
    untouched."""


def fixed_noise(trainer, n=N_FIXED):
    """The noise every sample grid of a run is drawn from, so grids are comparable.

    Returns ``(z, labels)``. A plain GAN gets n noise vectors and labels None; one with
    InfoGAN's K codes a code grid of K rows (row k draws code k, ``npgan.latent.code_grid``) and
    10 columns (100 // K past 10 codes, at least 1). A
    conditional one gets a class grid: row k asks for class k, and column j uses the same
    noise in every row, so a column shows one "style" drawn as every class. Drawn on the host
    (``trainer.sample`` copies it to the device), so grids are comparable across backends.
    """
    rng = np.random.default_rng([trainer.settings["seed"], 2])
    if trainer.info:                                    # InfoGAN: row k draws code k
        k = trainer.cfg.latent_components               # 10 columns, fewer past 10 codes
        return code_grid(trainer.cfg, rng, min(10, max(1, 100 // k))).astype(trainer.dtype), None
    if not trainer.conditional:
        return draw_latent(trainer.cfg, rng, n).astype(trainer.dtype), None
    k = trainer.cfg.num_classes
    z = draw_latent(trainer.cfg, rng, k).astype(trainer.dtype)
    return np.tile(z, (k, 1)), np.repeat(np.arange(k), k)


def file_id(path):
    """The inode number of ``path``, or None if there is no such file."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def check_image_count(info, n):
    """A resumed run must see as many images as it trained on (``info["images"]``, recorded
    by Run; older runs have none): another count changes the steps an epoch, so the run's
    epochs would be renumbered and its data order no longer a function of the step."""
    if info.get("images", n) != n:
        raise DataError(f"this run trained on {info['images']:,} images; resuming it on {n:,} "
                        "would change its epochs' length and renumber them: give it the same "
                        "images, or start a new run on these")


class Run:
    """One training run: a trainer, its data, its output folder, and its history."""

    def __init__(self, trainer, images, out_dir, *, batch_size, epochs, max_steps=None,
                 checkpoint_every=None, history=None, info=None, quiet=False, resumed_from=None,
                 labels=None, class_names=None, tuner=None):
        self.trainer, self.images, self.out_dir = trainer, images, out_dir
        for name, value in (("batch_size", batch_size), ("epochs", epochs),
                            ("max_steps", max_steps), ("checkpoint_every", checkpoint_every)):
            if not ((value is None and name in ("max_steps", "checkpoint_every"))
                    or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                        and value >= 1)):
                raise ValueError(f"Run: {name} must be a whole number >= 1"
                                 + (" (or None)" if name in ("max_steps", "checkpoint_every")
                                    else "") + f", got {value!r}")
        if trainer.conditional and labels is None:
            raise ValueError("a conditional GAN needs the training labels")
        self.labels = labels if trainer.conditional else None
        self.class_names = class_names
        self.tuner = tuner                      # a ThreadTuner (--threads auto) or None
        if tuner:
            tuner.first_step = trainer.step     # its messages name the run's own steps
        self.batch_size, self.epochs, self.max_steps = batch_size, epochs, max_steps
        self.checkpoint_every, self.quiet = checkpoint_every, quiet
        self.history = history or {k: [] for k in HISTORY_KEYS}
        for k in HEALTH_KEYS:                   # per-epoch health figures (npgan.health)
            self.history.setdefault(k, [])
        self.info = dict(info or {})             # its own copy: it adds "images" below
        self.health = HealthMonitor(dataset=self.info.get("dataset"),     # its advice names
                                    label_smoothing=trainer.settings["label_smoothing"])  # S
        self.health.replay(self.history)        # a resumed run warns when the whole one would
        self.probe = None                       # a HealthProbe, made at the first check
        self.findings = []                      # what the monitor reported during train()
        self.resumed_from = resumed_from
        check_image_count(self.info, len(images))
        self.info["images"] = len(images)       # recorded, so that a resume can check it
        self.steps_per_epoch = len(images) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size {batch_size} is larger than the {len(images)} images")
        total = epochs * self.steps_per_epoch
        self.total_steps = total if max_steps is None else min(total, max_steps)
        # The learning-rate schedule (lr_decay) spans the epochs asked for: --max-steps stops
        # such a run early, as Ctrl-C would, and --resume continues the same schedule
        trainer.total_steps = total
        self.checkpoint_path = os.path.join(out_dir, "checkpoint.npz")
        # The last good checkpoint: the one resumed from, until this run writes its own.
        self.last_saved = (resumed_from, trainer.step) if resumed_from else None
        self.saving = None                  # (step, old file id) while save_checkpoint runs
        self.z_fixed, self.labels_fixed = fixed_noise(trainer)

    def train(self):
        """Train until ``total_steps``; write outputs. Raises TrainingDiverged on NaN/inf.
        Health warnings are printed, flagged in the bar and logged (``report``)."""
        trainer, steps_per_epoch = self.trainer, self.steps_per_epoch
        os.makedirs(self.out_dir, exist_ok=True)
        self.write_json("config.json", self.info)
        self.log_start()
        bar = tqdm(total=self.total_steps, initial=trainer.step, disable=self.quiet, unit="step",
                   dynamic_ncols=True, mininterval=0.5)
        start = time.perf_counter()
        try:
            while trainer.step < self.total_steps:
                epoch, skip = divmod(trainer.step, steps_per_epoch)
                bar.set_description(f"epoch {epoch + 1}/{self.epochs}")
                epoch_rng = np.random.default_rng([trainer.settings["seed"], 1000 + epoch])
                for i, batch in enumerate(batches(self.images, self.batch_size, epoch_rng,
                                                  labels=self.labels)):
                    if i < skip:
                        continue
                    if trainer.step >= self.total_steps:
                        break
                    batch = batch if self.labels is not None else (batch,)   # (images[, labels])
                    self.check_batch(batch[0])
                    if self.tuner and self.tuner.due:
                        self.tune_threads(batch)
                    step_start = time.perf_counter()
                    self.record(trainer.train_step(*batch))
                    if self.tuner:
                        self.tuner.step_done(time.perf_counter() - step_start)
                    bar.update(1)
                    if trainer.step % 25 == 0:
                        bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in HISTORY_KEYS}
                                        | ({"health": ", ".join(self.health.active)}
                                           if self.health.active else {}))
                    if (self.checkpoint_every and trainer.step % self.checkpoint_every == 0
                            and not self.ends_epoch_with_outputs(trainer.step)):
                        self.save()             # (an epoch's end saves after its health check)
                if self.ends_epoch_with_outputs(trainer.step):
                    self.save_samples(f"samples_epoch_{epoch + 1:03d}.png",
                                      f"epoch {epoch + 1}, step {trainer.step}")
                    self.check_health(epoch + 1)
                    self.save()
        except BaseException as e:              # Ctrl-C, diverged, a failed write: say so
            self.log_stop(e)
            raise
        else:
            self.log(f"end: step {trainer.step} reached in {time.perf_counter() - start:.0f} s; "
                     f"{sum(f.kind == 'warning' for f in self.findings)} health warning(s)")
        finally:
            bar.close()
        try:
            self.write_final_outputs()
        except BaseException as e:              # Ctrl-C or a failed write here: say so too
            self.log_stop(e)
            raise
        return time.perf_counter() - start

    def write_final_outputs(self):
        """The checkpoint, samples.png, the curves and progress.gif at the end of a run."""
        self.save()
        self.save_samples("samples.png", f"step {self.trainer.step}")
        if self.history["health_step"]:
            save_health_curves(self.history, self.path("health.png"), low_diversity=LOW_DIVERSITY,
                               few_classes=FEW_CLASSES, reference=self.health.reference,
                               judge_after=JUDGE_AFTER)
        save_loss_curves(self.history, self.path("losses.png"))
        save_progress_gif(self.out_dir, last_epoch=self.trainer.step // self.steps_per_epoch)

    def tune_threads(self, batch):
        """Let the ThreadTuner time steps on a stand-in: a second trainer like this run's,
        trained on ``batch`` and then dropped, so that the run's own steps are untouched."""
        t = self.trainer
        stand_in = type(t)(t.cfg, dtype=t.dtype, backend=t.xp, fast=t.fast,
                           **settings_arguments(t.settings))
        stand_in.total_steps = t.total_steps            # the run's learning-rate schedule

        def measure(steps):
            return [timed(stand_in.train_step, *batch)[1] for _ in range(steps)]
        news = self.tuner.probe(measure)
        if news:
            tqdm.write(news, file=sys.stderr)
            self.log(news)

    def save_samples(self, name, title):
        """A grid of G's images for the run's fixed noise (one row per class if conditional,
        per code with InfoGAN's codes)."""
        images = to_host(self.trainer.sample(self.z_fixed, self.labels_fixed))   # for matplotlib
        shape = image_shape_of(self.trainer.cfg)                # (C, H, W) of the flat rows
        if self.trainer.info:
            k = self.trainer.cfg.latent_components
            save_image_grid(images, self.path(name), nrow=len(images) // k, title=title,
                            shape=shape, row_labels=[f"code {c}" for c in range(k)])
        elif self.labels_fixed is None:
            save_image_grid(images, self.path(name), title=title, shape=shape)
        else:
            k = self.trainer.cfg.num_classes
            names = self.class_names or [str(c) for c in range(k)]
            save_image_grid(images, self.path(name), nrow=k, row_labels=names, title=title,
                            shape=shape)

    def ends_epoch_with_outputs(self, step):
        """Is ``step`` the last of an epoch whose end writes outputs (``epoch_output``)?"""
        return step % self.steps_per_epoch == 0 and self.epoch_output(step // self.steps_per_epoch)

    def epoch_output(self, epoch):
        """Does the end of ``epoch`` (1-based) write a grid, a health check and a checkpoint?
        After every epoch, or every k-th (and the last) when there are more than
        MAX_EPOCH_OUTPUTS: a few hundred images in many tiny epochs would otherwise spend
        most of the run writing files (and make a progress.gif of thousands of frames)."""
        every = -(-self.epochs // MAX_EPOCH_OUTPUTS)                # ceil(epochs / max)
        return epoch % every == 0 or epoch == self.epochs

    def check_health(self, epoch):
        """Measure G's health figures after an epoch (npgan.health), keep them in the history
        (and so in the checkpoint), and report what the monitor finds."""
        if self.probe is None:
            self.probe = HealthProbe(self.trainer, self.images, self.info.get("dataset"))
            self.health.reference = self.probe.reference
        figures = self.probe.measure()
        self.history["health_step"].append(self.trainer.step)
        for k in FIGURES:
            self.history[k].append(figures[k])
        self.report(self.health.epoch(self.trainer.step, figures, epoch=epoch, n=self.probe.n))

    def report(self, findings):
        """Print each Finding above the progress bar (on stderr, also when ``quiet``) and
        append it to log.txt."""
        for finding in findings:
            self.findings.append(finding)
            tqdm.write(str(finding), file=sys.stderr)
            self.log(str(finding))

    def log(self, text):
        """One timestamped line in out/log.txt."""
        log_line(self.path("log.txt"), text)

    def log_start(self):
        t, what = self.trainer, self.info.get("dataset", "data")
        resumed = f", resumed from {self.resumed_from}" if self.resumed_from else ""
        f = t.settings["lr_decay"]
        now = (f"; {decayed_lr(t.settings['lr'], t.step, t.total_steps, f):.3g} at step {t.step}"
               if t.step else "")                                   # a resumed run's rate
        decay = (f" (to 0 over the last {100 * f:.3g}% of the {t.total_steps} steps{now})"
                 if f else "")
        self.log(f"start: training on {what} from step {t.step} to step {self.total_steps} "
                 f"({self.epochs} epochs of {self.steps_per_epoch} steps{resumed}); batch "
                 f"{self.batch_size}, lr {t.settings['lr']:g}{decay}, seed {t.settings['seed']}")

    def log_stop(self, e):
        """Log why training stopped early; a log that cannot be written does not hide that."""
        step = self.trainer.step
        if isinstance(e, KeyboardInterrupt):
            text = f"interrupted at step {step}. {self.last_good()}"
        elif isinstance(e, TrainingDiverged):
            text = f"stopped: {e}"
        else:
            text = f"stopped at step {step} by {type(e).__name__}: {e}. {self.last_good()}"
        try:
            self.log(text)
        except OSError:
            pass

    def check_batch(self, real):
        """Stop before a NaN or inf in the data reaches the weights (and numpy's warnings)."""
        if not np.all(np.isfinite(real)):
            raise TrainingDiverged(
                f"the batch for step {self.trainer.step + 1} holds NaN or infinite values: the "
                "training data is damaged. " + self.last_good())

    def record(self, stats):
        for k in HISTORY_KEYS:
            self.history[k].append(stats[k])
        if not all(math.isfinite(v) for v in stats.values()):
            raise TrainingDiverged(
                f"training diverged at step {self.trainer.step}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in stats.items()) + ". "
                + DIVERGED_ADVICE + " " + self.last_good())
        self.report(self.health.step(self.trainer.step, stats))

    def last_good(self):
        if self.saving is not None:                     # interrupted inside save_checkpoint...
            step, old_id = self.saving
            if file_id(self.checkpoint_path) != old_id:  # ...after its rename: the new one is in
                self.last_saved = (self.checkpoint_path, step)
        if self.last_saved is None:
            return "No checkpoint was written by this run."
        return "The last good checkpoint is {} (step {}).".format(*self.last_saved)

    def save(self):
        """Write checkpoint.npz and history.csv atomically, unless a weight is not finite."""
        trainer = self.trainer
        if self.last_saved == (self.checkpoint_path, trainer.step):
            return
        arrays, meta = trainer.state()
        bad = [k for k, v in arrays.items() if not np.all(np.isfinite(v))]
        if bad:
            raise TrainingDiverged(f"non-finite values in {bad[:3]} at step {trainer.step}; "
                                   "checkpoint not written. " + DIVERGED_ADVICE + " "
                                   + self.last_good())
        for k in HISTORY_KEYS:
            arrays[f"history.{k}"] = np.asarray(self.history[k], dtype=np.float64)
        arrays.update(health_arrays(self.history))
        meta["run"] = self.info
        # Ctrl-C can land after save_checkpoint's rename but before it returns; last_good()
        # then sees the new file by its new inode (the rename brings the temporary file's).
        self.saving = (trainer.step, file_id(self.checkpoint_path))
        save_checkpoint(self.checkpoint_path, arrays, meta)
        self.last_saved = (self.checkpoint_path, trainer.step)
        self.saving = None
        self.write_history_csv()

    def write_history_csv(self):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(("step", "epoch") + HISTORY_KEYS)
        for i, row in enumerate(zip(*(self.history[k] for k in HISTORY_KEYS))):
            writer.writerow([i + 1, i // self.steps_per_epoch + 1] + [f"{v:.6g}" for v in row])
        atomic_write(self.path("history.csv"), lambda f: f.write(text.getvalue().encode()))

    def write_json(self, name, obj):
        data = (json.dumps(obj, indent=2) + "\n").encode()
        atomic_write(self.path(name), lambda f: f.write(data))

    def path(self, name):
        return os.path.join(self.out_dir, name)
