"""``--config FILE.json``: a run's architecture and settings from a file.

The file is a JSON object in the format of the ``config.json`` every run writes, so any run
can be repeated from its folder (``--config runs/mnist/config.json --out runs/again``):

    {
      "about":      "optional free text: where the network comes from",
      "model":      {"latent_dim": 10, "g_hidden": [128, 256, 512, 1024], "output": "sigmoid", ...},
      "batch_size": 64, "epochs": 15, "lr": 0.0002, "betas": [0.5, 0.999],
      "optimizer":  "adam", "seed": 0, "ema": 0.0, "mode_seeking": 0.0, "label_smoothing": 0.0,
      "lr_decay": 0.0
    }

Only "model" is required. Its fields are those of ``GANConfig`` (the fully connected GAN,
``npgan/models/config.py``) or, with ``"model": "dcgan"`` inside it, ``DCGANConfig``; a
field left out keeps its default. The other keys are the training settings; the flags on the
command line override them. What a run records about itself is accepted too: "backend" and
"max_steps" as settings, "data_dir" (the IDX demos' --data-dir) and "data" (the images
demo's PATH, --size, --grey and --max-images, used when no PATH is given) as where the data
was, and "dataset" as a note when it is not the demo's. A file that records its "backend" is
a run's own, and a setting it does not name ("ema", "mode_seeking", "label_smoothing",
"lr_decay") is off, as it was then.

Unknown keys, values of the wrong kind and fields that contradict each other (a ``slope``
when no layer is a LeakyReLU, ``--model dcgan`` for a fully connected file) are errors that
name the file and the field. ``demos/configs/`` holds the networks of well-known tutorials;
``--config NAME`` finds them by name (``--config coursera``).
"""

import json
import math
from pathlib import Path

from npgan.backend import BACKENDS
from npgan.models import config_from_dict
from npgan.optim import OPTIMIZERS

SHIPPED = Path(__file__).resolve().parent / "configs"


class ConfigFileError(ValueError):
    """A --config file that cannot be used; the message names the file and the field."""


def shipped_names():
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


def resolve(name):
    """A path to a file, a run's folder (its config.json), or the name of a shipped network
    (``coursera`` or ``coursera.json``)."""
    path = Path(name)
    if path.is_file():
        return path
    if path.is_dir() and (path / "config.json").is_file():     # a run's folder
        return path / "config.json"
    shipped = SHIPPED / (path.name if path.suffix == ".json" else path.name + ".json")
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    if path.exists():
        raise ConfigFileError(f"--config {name}: not a file")
    raise ConfigFileError(f"--config {name}: no such file, and not one of the shipped networks "
                          f"({', '.join(shipped_names())})")


def _check(path, key, value, ok, wanted):
    if not ok(value):
        raise ConfigFileError(f"{path}: {key!r} must be {wanted}, got {value!r}")
    return value


def _positive_int(v):
    return type(v) is int and v >= 1


def _finite(v):
    return type(v) in (int, float) and math.isfinite(v)


def _data_record(v):
    """What demos/images.py records under "data": path, size, grey, max_images, each valid."""
    return (isinstance(v, dict) and set(v) <= {"path", "size", "grey", "max_images"}
            and isinstance(v.get("path", ""), str)
            and (v.get("size") is None or (isinstance(v["size"], list) and len(v["size"]) == 2
                                           and all(_positive_int(x) for x in v["size"])))
            and isinstance(v.get("grey", False), bool)
            and (v.get("max_images") is None or _positive_int(v["max_images"])))


SETTINGS = {  # key -> (test, what it must be)
    "batch_size": (_positive_int, "a positive integer"),
    "epochs": (_positive_int, "a positive integer"),
    "lr": (lambda v: _finite(v) and v > 0, "a positive number"),
    "betas": (lambda v: isinstance(v, list) and len(v) == 2
              and all(_finite(b) and 0 <= b < 1 for b in v), "two numbers in [0, 1)"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "seed": (lambda v: type(v) is int and v >= 0, "a non-negative integer"),
    "ema": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"),
    "mode_seeking": (lambda v: _finite(v) and v >= 0, "a number >= 0"),
    "label_smoothing": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"),
    "lr_decay": (lambda v: _finite(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "backend": (lambda v: v in BACKENDS, f"one of {', '.join(BACKENDS)}"),
    "dataset": (lambda v: isinstance(v, str), "a string"),
    "about": (lambda v: isinstance(v, str), "a string"),
    "config_file": (lambda v: isinstance(v, str), "a string"),   # a run's note of its source
    "max_steps": (_positive_int, "a positive integer"),
    "images": (_positive_int, "a positive integer"),           # a run's record of its data
    "data_dir": (lambda v: isinstance(v, str), "a folder's path"),
    "data": (lambda v: _data_record(v),                          # the images demo's PATH etc.
             'the images demo\'s record {"path": "...", "size": [H, W] or null, "grey": '
             'true or false, "max_images": N or null}'),
}


def read_config_file(name):
    """Read and check ``name`` (a path or a shipped network's name).

    Returns ``(path, model, settings)``: the file's path, its "model" object as written
    (checked by building the config; the builder's ValueError is reported with the path),
    and its other keys. Every problem is a ConfigFileError naming the file.
    """
    path = resolve(name)
    try:
        obj = json.loads(path.read_text())
    except OSError as e:
        raise ConfigFileError(f"{path}: cannot be read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path}: not a text file") from None
    except json.JSONDecodeError as e:
        raise ConfigFileError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, "
                              f"column {e.colno})") from None
    if not isinstance(obj, dict):
        raise ConfigFileError(f"{path}: must hold a JSON object {{...}}, got a "
                              f"{type(obj).__name__}")
    unknown = sorted(set(obj) - set(SETTINGS) - {"model"})
    if unknown:
        raise ConfigFileError(f"{path}: unknown keys {unknown}; a config file has \"model\" "
                              f"and the settings {sorted(SETTINGS)}")
    model = obj.get("model")
    if isinstance(model, str):              # {"model": "dcgan"}: the kind, one level too high
        raise ConfigFileError(f"{path}: \"model\" must be an object of the network's fields; "
                              f"to name the kind, put it inside: {{\"model\": {{\"model\": "
                              f"{json.dumps(model)}}}}}")
    if not isinstance(model, dict):
        raise ConfigFileError(f"{path}: needs a \"model\" object with the network's fields "
                              "(see npgan/models/config.py), e.g. {\"model\": {\"latent_dim\": 64}}")
    settings = {k: _check(path, k, v, *SETTINGS[k]) for k, v in obj.items() if k != "model"}
    try:
        cfg = config_from_dict(model)
    except (TypeError, ValueError) as e:
        raise ConfigFileError(f"{path}: its \"model\" is invalid: {e}") from None
    acts = {getattr(cfg, "g_activation", "relu"), getattr(cfg, "d_activation", "leaky_relu")}
    if model.get("slope", cfg.slope) != type(cfg)().slope and "leaky_relu" not in acts:
        raise ConfigFileError(f"{path}: \"slope\" is {cfg.slope}, but no layer is a LeakyReLU "
                              "(g_activation and d_activation are both \"relu\")")
    return path, dict(model), settings
