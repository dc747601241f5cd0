"""Reading a run back: ``load_run(checkpoint.npz)`` -> (trainer, history, run info), and the
checks it makes first, so that a damaged or hostile checkpoint is refused with a message
before any model is built. Also the checkpoint's layout of the per-epoch health history
(``health_arrays`` writes it, ``pop_health_history`` reads it back).
"""

import os

import numpy as np

from npgan.backend import BACKENDS
from npgan.checkpoint import CheckpointError, load_checkpoint
from npgan.health import FIGURES, HEALTH_KEYS
from npgan.models import config_from_dict
from npgan.train import HISTORY_KEYS, GANTrainer


def checkpoint_file(path):
    """``path``, or the checkpoint.npz inside it when it is a run's folder."""
    return os.path.join(path, "checkpoint.npz") if os.path.isdir(path) else path


def load_run(path, backend="numpy"):
    """Load ``checkpoint.npz`` (or the one in a run's folder): returns ``(trainer, history,
    run_info)``.

    The trainer lives on ``backend`` ("numpy", "cupy"; None: the one the run info records),
    whichever backend wrote the file: checkpoints hold host arrays.
    Every problem is a CheckpointError that names the file and what is wrong, found before
    any model is built (see ``check_run_state``) or by ``GANTrainer.from_state``.
    """
    arrays, meta = load_checkpoint(checkpoint_file(path))
    try:
        check_run_state(arrays, meta)
        history = {k: list(arrays.pop(f"history.{k}")) for k in HISTORY_KEYS}
        history.update(pop_health_history(arrays))
        if backend is None:
            backend = meta.get("run", {}).get("backend", "numpy")
        trainer = GANTrainer.from_state(arrays, meta, backend=backend)
    except CheckpointError as e:
        raise CheckpointError(f"{os.fspath(path)}: {e}") from e
    return trainer, history, meta.get("run", {})


def check_run_state(arrays, meta):
    """Check what ``GANTrainer.from_state`` takes on trust; raise CheckpointError.

    The dtype, finite numeric arrays, a step count with one history entry per step and as
    many steps of each optimizer, the noise generator's state, and an architecture small enough to fit the arrays: a config
    claiming huge layers is refused before they are allocated. The health figures are
    optional (older checkpoints have none); when there, one value per check.
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
    check_health_history(arrays, step)
    for name in ("opt_g.t", "opt_d.t"):         # every step steps both optimizers once
        t = arrays.get(name)
        if t is None or t.shape != () or t.dtype.kind not in "iu" or int(t) != step:
            got = "missing" if t is None else f"{t.tolist()!r} ({t.dtype})"
            raise CheckpointError(f"{name}, the optimizer's step count, is {got}; a run at step "
                                  f"{step} has taken {step} optimizer steps (Adam's bias "
                                  "correction divides by 1 - beta**t)")
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
    bad = [f"{k}={run[k]!r}" for k in ("batch_size", "epochs", "images")
           if k in run and (type(run[k]) is not int or run[k] < 1)]
    bad += [f"dataset={run['dataset']!r}"] if not isinstance(run.get("dataset", ""), str) else []
    bad += [f"backend={run['backend']!r}"] if run.get("backend", "numpy") not in BACKENDS else []
    if bad:
        raise CheckpointError(f"its run information has invalid values: {', '.join(bad)}")


def check_health_history(arrays, step):
    """The per-epoch health arrays, if any: ``history.health_step`` (m,) increasing steps in
    1..step, and each figure (m,) beside it; raise CheckpointError."""
    present = [k for k in HEALTH_KEYS if f"history.{k}" in arrays]
    if not present:
        return                                  # written before npgan kept health figures
    checks = arrays.get("history.health_step")
    if checks is None:
        raise CheckpointError(f"history.{present[0]} is there but history.health_step, the "
                              "steps its values were measured at, is missing")
    if checks.ndim != 1 or checks.dtype.kind not in "iu" or len(checks) and (
            checks[0] < 1 or checks[-1] > step or np.any(np.diff(checks) <= 0)):
        raise CheckpointError(f"history.health_step must hold increasing integer steps in "
                              f"1..{step}, got {checks.dtype} {checks.shape}")
    for k in FIGURES:
        h = arrays.get(f"history.{k}")
        if h is not None and h.shape != checks.shape:
            raise CheckpointError(f"history.{k} is of shape {h.shape}; it has one value per "
                                  f"health check, shape {checks.shape}")


def pop_health_history(arrays):
    """Take the health arrays out of checkpoint ``arrays``: {"health_step": [int], figure:
    [float or None]}; all empty for a checkpoint written before there were any, and a
    figure that was never measured (no classifier for the data) is None at every check."""
    steps = [int(s) for s in arrays.pop("history.health_step", np.zeros(0, np.int64))]
    history = {"health_step": steps}
    for k in FIGURES:
        values = arrays.pop(f"history.{k}", None)
        history[k] = [None] * len(steps) if values is None else [
            int(v) if k == "classes_covered" else float(v) for v in values]
    return history


def health_arrays(history):
    """The checkpoint arrays of the health history (``pop_health_history`` reads them): the
    steps, and each figure measured at every check (a figure missing at some check, e.g. no
    classifier for the data, is left out; there are no NaNs in a checkpoint)."""
    arrays = {"history.health_step": np.asarray(history["health_step"], dtype=np.int64)}
    for k in FIGURES:
        if all(v is not None for v in history[k]):
            arrays[f"history.{k}"] = np.asarray(history[k], dtype=np.float64)
    return arrays
