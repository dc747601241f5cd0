"""The training loop behind the demos: epochs of steps, a progress bar, and every output file.

    out/config.json             the run's settings, written at the start
    out/samples_epoch_NNN.png   64 samples after each epoch, from the same fixed noise
    out/checkpoint.npz          everything needed to resume, after each epoch and at the end
    out/history.csv             d_loss, g_loss, D(x), D(G(z)) for every step
    out/losses.png              those four curves
    out/samples.png             the final 8x8 grid
    out/progress.gif            those grids as a looping GIF, at the end (npgan/animate.py)

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

from npgan.animate import save_progress_gif
from npgan.backend import BACKENDS, to_host
from npgan.checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint
from npgan.data import batches
from npgan.models import config_from_dict, image_shape_of
from npgan.plots import save_image_grid, save_loss_curves
from npgan.train import HISTORY_KEYS, GANTrainer

N_FIXED = 64


class TrainingDiverged(RuntimeError):
    """A batch, loss or weight held NaN or infinite values; the last good checkpoint was left
    untouched."""


def fixed_noise(trainer, n=N_FIXED):
    """The noise every sample grid of a run is drawn from, so grids are comparable.

    Returns ``(z, labels)``. A plain GAN gets n noise vectors and labels None. A
    conditional one gets a class grid: row k asks for class k, and column j uses the same
    noise in every row, so a column shows one "style" drawn as every class. Drawn on the host
    (``trainer.sample`` copies it to the device), so grids are comparable across backends.
    """
    rng = np.random.default_rng([trainer.settings["seed"], 2])
    if not trainer.conditional:
        return rng.standard_normal((n, trainer.cfg.latent_dim)).astype(trainer.dtype), None
    k = trainer.cfg.num_classes
    z = rng.standard_normal((k, trainer.cfg.latent_dim)).astype(trainer.dtype)
    return np.tile(z, (k, 1)), np.repeat(np.arange(k), k)


def load_run(path, backend="numpy"):
    """Load ``checkpoint.npz``: returns ``(trainer, history, run_info)``.

    The trainer lives on ``backend`` ("numpy", "cupy"; None: the one the run info records),
    whichever backend wrote the file: checkpoints hold host arrays.
    Every problem is a CheckpointError that names the file and what is wrong, found before
    any model is built (see ``check_run_state``) or by ``GANTrainer.from_state``.
    """
    arrays, meta = load_checkpoint(path)
    try:
        check_run_state(arrays, meta)
        history = {k: list(arrays.pop(f"history.{k}")) for k in HISTORY_KEYS}
        if backend is None:
            backend = meta.get("run", {}).get("backend", "numpy")
        trainer = GANTrainer.from_state(arrays, meta, backend=backend)
    except CheckpointError as e:
        raise CheckpointError(f"{os.fspath(path)}: {e}") from e
    return trainer, history, meta.get("run", {})


def check_run_state(arrays, meta):
    """Check what ``GANTrainer.from_state`` takes on trust; raise CheckpointError.

    The dtype, finite numeric arrays, a step count with one history entry per step, the
    noise generator's state, and an architecture small enough to fit the arrays: a config
    claiming huge layers is refused before they are allocated.
    """
    if meta.get("dtype") not in ("float32", "float64"):
        raise CheckpointError(f"its dtype {meta.get('dtype')!r} is not float32 or float64")
    try:
        cfg = config_from_dict(meta["config"])
        weights = cfg.weight_count()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"its 'config' is missing or invalid ({e!r})") from e
    held = sum(v.size for v in arrays.values())
    if weights > held:
        raise CheckpointError(f"its config describes layers of {weights} weights, but the file "
                              f"holds {held} numbers: the config does not fit the arrays")
    odd = [f"{k} ({v.dtype})" for k, v in arrays.items() if v.dtype.kind not in "fiu"]
    if odd:
        raise CheckpointError(f"arrays that are not real numbers: {', '.join(odd)}")
    bad = [k for k, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"NaN or infinite values in {', '.join(bad)}")
    step = meta.get("step")
    if type(step) is not int or step < 0:
        raise CheckpointError(f"its step {step!r} is not a non-negative integer")
    for k in HISTORY_KEYS:
        h = arrays.get(f"history.{k}")
        if h is None or h.shape != (step,):
            got = "missing" if h is None else f"of shape {h.shape}"
            raise CheckpointError(f"history.{k} is {got}; a run at step {step} has one "
                                  f"value per step, shape ({step},)")
    for name, value in (("noise_rng", meta.get("noise_rng", "missing")),
                        ("dropout_rng", meta.get("dropout_rng"))):
        try:
            if value is not None:           # None: a GPU wrote it, or no dropout state (older)
                np.random.default_rng().bit_generator.state = value
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"its {name!r} is not a generator state ({e!r})") from e
    run = meta.get("run", {})                     # what a demo saved: dataset, batch size, ...
    if not isinstance(run, dict):
        raise CheckpointError("its 'run' information is not a JSON object")
    bad = [f"{k}={run[k]!r}" for k in ("batch_size", "epochs")
           if k in run and (type(run[k]) is not int or run[k] < 1)]
    bad += [f"dataset={run['dataset']!r}"] if not isinstance(run.get("dataset", ""), str) else []
    bad += [f"backend={run['backend']!r}"] if run.get("backend", "numpy") not in BACKENDS else []
    if bad:
        raise CheckpointError(f"its run information has invalid values: {', '.join(bad)}")


def file_id(path):
    """The inode number of ``path``, or None if there is no such file."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


class Run:
    """One training run: a trainer, its data, its output folder, and its history."""

    def __init__(self, trainer, images, out_dir, *, batch_size, epochs, max_steps=None,
                 checkpoint_every=None, history=None, info=None, quiet=False, resumed_from=None,
                 labels=None, class_names=None):
        self.trainer, self.images, self.out_dir = trainer, images, out_dir
        if trainer.conditional and labels is None:
            raise ValueError("a conditional GAN needs the training labels")
        self.labels = labels if trainer.conditional else None
        self.class_names = class_names
        self.batch_size, self.epochs, self.max_steps = batch_size, epochs, max_steps
        self.checkpoint_every, self.quiet = checkpoint_every, quiet
        self.history = history or {k: [] for k in HISTORY_KEYS}
        self.info = info or {}
        self.steps_per_epoch = len(images) // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"batch_size {batch_size} is larger than the {len(images)} images")
        total = epochs * self.steps_per_epoch
        self.total_steps = total if max_steps is None else min(total, max_steps)
        self.checkpoint_path = os.path.join(out_dir, "checkpoint.npz")
        # The last good checkpoint: the one resumed from, until this run writes its own.
        self.last_saved = (resumed_from, trainer.step) if resumed_from else None
        self.saving = None                  # (step, old file id) while save_checkpoint runs
        self.z_fixed, self.labels_fixed = fixed_noise(trainer)

    def train(self):
        """Train until ``total_steps``; write outputs. Raises TrainingDiverged on NaN/inf."""
        trainer, steps_per_epoch = self.trainer, self.steps_per_epoch
        os.makedirs(self.out_dir, exist_ok=True)
        self.write_json("config.json", self.info)
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
                    self.check_batch(batch[0] if self.labels is not None else batch)
                    self.record(trainer.train_step(*batch) if self.labels is not None
                                else trainer.train_step(batch))
                    bar.update(1)
                    if trainer.step % 25 == 0:
                        bar.set_postfix({k: f"{self.history[k][-1]:.3f}" for k in HISTORY_KEYS})
                    if self.checkpoint_every and trainer.step % self.checkpoint_every == 0:
                        self.save()
                if trainer.step % steps_per_epoch == 0:                 # a whole epoch is done
                    self.save_samples(f"samples_epoch_{epoch + 1:03d}.png",
                                      f"epoch {epoch + 1}, step {trainer.step}")
                    self.save()
        finally:
            bar.close()
        self.save()
        self.save_samples("samples.png", f"step {trainer.step}")
        save_loss_curves(self.history, self.path("losses.png"))
        save_progress_gif(self.out_dir, last_epoch=trainer.step // steps_per_epoch)
        return time.perf_counter() - start

    def save_samples(self, name, title):
        """A grid of G's images for the run's fixed noise (one row per class if conditional)."""
        images = to_host(self.trainer.sample(self.z_fixed, self.labels_fixed))   # for matplotlib
        shape = image_shape_of(self.trainer.cfg)                # (C, H, W) of the flat rows
        if self.labels_fixed is None:
            save_image_grid(images, self.path(name), title=title, shape=shape)
        else:
            k = self.trainer.cfg.num_classes
            names = self.class_names or [str(c) for c in range(k)]
            save_image_grid(images, self.path(name), nrow=k, row_labels=names, title=title,
                            shape=shape)

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
                + self.last_good())

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
                                   "checkpoint not written. " + self.last_good())
        for k in HISTORY_KEYS:
            arrays[f"history.{k}"] = np.asarray(self.history[k], dtype=np.float64)
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
