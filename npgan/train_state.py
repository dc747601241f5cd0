"""What a checkpoint holds of a GANTrainer, and how a trainer is rebuilt from it.

``TrainerState`` is the part of GANTrainer (npgan/train.py) that saves and restores: the
weights, BatchNorm statistics and optimizer moments as arrays, and the config, settings, step
and random generators' states as JSON-able metadata. npgan/checkpoint.py writes the two to
one file; npgan/run_state.py reads a run back.
"""

import numpy as np

from npgan.backend import load_backend, to_host
from npgan.checkpoint import CheckpointError, check_arrays
from npgan.models import config_from_dict


def settings_arguments(settings):
    """GANTrainer's keyword arguments from its ``settings`` dict (betas back to a tuple)."""
    return {k: tuple(v) if k == "betas" else v for k, v in settings.items()}


class TrainerState:
    """GANTrainer's checkpoint state: arrays for the weights, JSON-able meta for the rest."""

    def state(self):
        """Return ``(arrays, meta)``: every array needed to continue (weights, BatchNorm
        statistics, optimizer moments) under prefixes G., D., opt_g., opt_d. (and G_ema. when the
        trainer keeps an average), and a dict with
        the config, settings, step and the noise generator's exact state (None on a GPU).

        The arrays are NumPy arrays on every backend, so a checkpoint loads anywhere, and
        copies: a snapshot of this step, which the next step does not change (the modules'
        and the fast optimizers' state_dicts hand out their live arrays)."""
        snapshot = (lambda a: a.copy()) if self.xp is np else to_host      # to_host copies
        arrays = {k: snapshot(v) for k, v in self.device_state().items()}
        meta = {"kind": "cgan" if self.conditional else "gan", "config": self.cfg.to_dict(),
                "settings": self.settings, "dtype": np.dtype(self.dtype).name, "step": self.step,
                "noise_rng": self.noise_rng.bit_generator.state if self.xp is np else None,
                "dropout_rng": self.dropout_rng.bit_generator.state}
        return arrays, meta

    def saved_objects(self):
        """The objects whose state a checkpoint holds, with their key prefixes."""
        objects = (("G.", self.G), ("D.", self.D), ("opt_g.", self.opt_g), ("opt_d.", self.opt_d))
        return objects + ((("G_ema.", self.G_ema),) if self.ema else ())

    def device_state(self):
        """``state()``'s arrays where they live (no copies): {"G.<name>": array, ...}."""
        return {prefix + k: v for prefix, obj in self.saved_objects() for k, v in obj.state_dict().items()}

    @classmethod
    def from_state(cls, arrays, meta, *, backend="numpy", fast=True):
        """Rebuild a trainer from ``state()``'s output on ``backend`` (any: checkpoints hold
        host arrays); errors name what does not fit.

        The noise stream continues exactly when the checkpoint holds a NumPy generator state
        and the backend is NumPy. Otherwise (a GPU wrote it, or reads it) the stream is
        reseeded from (seed, step): a resumed GPU run is reproducible, and statistically the
        same run, but not bit-identical to one that never stopped.
        """
        xp = load_backend(backend)                  # its errors are not the checkpoint's
        if meta.get("kind") not in ("gan", "cgan"):
            raise CheckpointError(f"checkpoint holds a {meta.get('kind')!r} model, not an npgan "
                                  "'gan' or 'cgan'")
        try:
            cfg = config_from_dict(meta["config"])
            trainer = cls(cfg, dtype=np.dtype(meta["dtype"]).type, backend=xp, fast=fast,
                          **settings_arguments(meta["settings"]))
            step = int(meta["step"])
            if cfg.conditional != (meta["kind"] == "cgan"):
                raise ValueError(f"kind {meta['kind']!r} contradicts num_classes={cfg.num_classes}")
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint metadata is incomplete or invalid: {e!r}") from e
        own = trainer.device_state()
        check_arrays(arrays, {k: (v.shape, None) for k, v in own.items()}, what="GAN")
        for prefix, obj in trainer.saved_objects():
            n = len(prefix)
            obj.load_state_dict({k[n:]: v for k, v in arrays.items() if k.startswith(prefix)})
        trainer.step = step
        if meta.get("dropout_rng") is not None:
            trainer.dropout_rng.bit_generator.state = meta["dropout_rng"]
        if trainer.xp is np and meta.get("noise_rng") is not None:
            trainer.noise_rng.bit_generator.state = meta["noise_rng"]
        else:
            trainer.noise_rng = trainer.fresh_noise_rng()
        return trainer
