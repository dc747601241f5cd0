"""The training loop behind the demos: epochs of steps, a progress bar, and every output file.

    out/config.json             the run's settings, written at the start
    out/samples_epoch_NNN.png   64 samples after each epoch, from the same fixed noise
    out/checkpoint.npz          everything needed to resume, after each epoch and at the end
    out/history.csv             d_loss, g_loss, D(x), D(G(z)) for every step
    out/losses.png              those four curves
    out/samples.png             the final 8x8 grid

A step's position in the data is a pure function of the step number: epoch e shuffles with a
generator seeded by (seed, e), so a resumed run reads exactly the batches it would have read.
"""

import csv
import io
import json
import math
import os
import time

import numpy as np
from tqdm import tqdm

from npgan.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from npgan.data import batches
from npgan.plots import save_image_grid, save_loss_curves
from npgan.train import HISTORY_KEYS, GANTrainer

N_FIXED = 64


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN or infinite; the last good checkpoint was left untouched."""


def fixed_noise(trainer, n=N_FIXED):
    """The noise every sample grid of a run is drawn from, so grids are comparable."""
    rng = np.random.default_rng([trainer.settings["seed"], 2])
    return rng.standard_normal((n, trainer.cfg.latent_dim)).astype(trainer.dtype)


def load_run(path):
    """Load ``checkpoint.npz``: returns ``(trainer, history, run_info)``."""
    arrays, meta = load_checkpoint(path)
    history = {k: list(arrays.pop(f"history.{k}", np.zeros(0))) for k in HISTORY_KEYS}
    trainer = GANTrainer.from_state(arrays, meta)
    return trainer, history, meta.get("run", {})


class Run:
    """One training run: a trainer, its data, its output folder, and its history."""

    def __init__(self, trainer, images, out_dir, *, batch_size, epochs, max_steps=None,
                 checkpoint_every=None, history=None, info=None, quiet=False, resumed_from=None):
        self.trainer, self.images, self.out_dir = trainer, images, out_dir
        self.batch_size, self.epochs, self.max_steps = batch_size, epochs, max_steps
        self.checkpoint_every, self.quiet = checkpoint_every, quiet
        self.history = history or {k: [] for k in HISTORY_KEYS}
        self.info = info or {}
        self.steps_per_epoch = len(images) // batch_size
        total = epochs * self.steps_per_epoch
        self.total_steps = total if max_steps is None else min(total, max_steps)
        self.checkpoint_path = os.path.join(out_dir, "checkpoint.npz")
        # The last good checkpoint: the one resumed from, until this run writes its own.
        self.last_saved = (resumed_from, trainer.step) if resumed_from else None
        self.z_fixed = fixed_noise(trainer)

    def train(self):
        """Train until ``total_steps``; write outputs. Raises TrainingDiverged on NaN/inf."""
        t, spe = self.trainer, self.steps_per_epoch
        os.makedirs(self.out_dir, exist_ok=True)
        self.write_json("config.json", self.info)
        bar = tqdm(total=self.total_steps, initial=t.step, disable=self.quiet, unit="step",
                   dynamic_ncols=True, mininterval=0.5)
        start = time.perf_counter()
        try:
            while t.step < self.total_steps:
                epoch, skip = divmod(t.step, spe)
                bar.set_description(f"epoch {epoch + 1}/{self.epochs}")
                epoch_rng = np.random.default_rng([t.settings["seed"], 1000 + epoch])
                for i, real in enumerate(batches(self.images, self.batch_size, epoch_rng)):
                    if i < skip:
                        continue
                    if t.step >= self.total_steps:
                        break
                    self.record(t.train_step(real))
                    bar.update(1)
                    if t.step % 25 == 0:
                        bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in HISTORY_KEYS})
                    if self.checkpoint_every and t.step % self.checkpoint_every == 0:
                        self.save()
                if t.step % spe == 0:                           # a whole epoch is done
                    save_image_grid(t.sample(self.z_fixed), self.path(f"samples_epoch_{epoch + 1:03d}.png"),
                                    title=f"epoch {epoch + 1}, step {t.step}")
                    self.save()
        finally:
            bar.close()
        self.save()
        save_image_grid(t.sample(self.z_fixed), self.path("samples.png"), title=f"step {t.step}")
        save_loss_curves(self.history, self.path("losses.png"))
        return time.perf_counter() - start

    def record(self, stats):
        for k in HISTORY_KEYS:
            self.history[k].append(stats[k])
        if not all(math.isfinite(v) for v in stats.values()):
            raise TrainingDiverged(
                f"training diverged at step {self.trainer.step}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in stats.items()) + ". "
                + self.last_good())

    def last_good(self):
        if self.last_saved is None:
            return "No checkpoint was written by this run."
        return "The last good checkpoint is {} (step {}).".format(*self.last_saved)

    def save(self):
        """Write checkpoint.npz and history.csv atomically, unless a weight is not finite."""
        t = self.trainer
        if self.last_saved == (self.checkpoint_path, t.step):
            return
        arrays, meta = t.state()
        bad = [k for k, v in arrays.items() if not np.all(np.isfinite(v))]
        if bad:
            raise TrainingDiverged(f"non-finite values in {bad[:3]} at step {t.step}; "
                                   "checkpoint not written. " + self.last_good())
        for k in HISTORY_KEYS:
            arrays[f"history.{k}"] = np.asarray(self.history[k], dtype=np.float64)
        meta["run"] = self.info
        save_checkpoint(self.checkpoint_path, arrays, meta)
        self.write_history_csv()
        self.last_saved = (self.checkpoint_path, t.step)

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
