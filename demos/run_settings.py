"""A demo run's settings: a new run's from the defaults (demos/flags.py), a ``--config`` file
(demos/config_file.py) and the flags, in that order; a resumed run's from its checkpoint, with
the flags that would contradict them refused (``check_resume_flags``)."""

import sys

from npgan.data import DataError
from npgan.demos.config_file import ConfigFileError, read_config_file
from npgan.demos.flags import (CONDITIONAL, DCGAN_LR, DCGAN_MODEL, DCGAN_PLAIN_MODEL, DEFAULTS,
                               EMA, INFO_CODES, PLAIN, PLAIN_MODEL)
from npgan.models import DCGANConfig, config_from_dict

MAX_WEIGHTS = 50_000_000  # 0.75 GiB with gradients and Adam's moments: the demos' 1 GB budget


def apply_config_file(parser, args, dataset):
    """Read ``--config`` (demos/config_file.py) and let it fill in what the flags left open:
    the model, whether conditional, --data-dir and --max-steps (the file's other settings go
    in with the defaults, in ``new_run_settings``). Returns ``(path, model, settings)``, or
    (None, None, {}) without --config; a file that cannot be used is a parser error."""
    if args.config and args.resume:
        parser.error("--config starts a new run; a resumed run keeps its checkpoint's network "
                     "and settings")
    try:
        file_path, file_model, file_settings = (read_config_file(args.config) if args.config
                                                else (None, None, {}))
    except ConfigFileError as e:
        parser.error(str(e))
    if file_model is not None:
        kind = file_model.get("model", "mlp")
        if args.model not in (None, kind):
            parser.error(f"--model {args.model} contradicts {file_path}, which holds "
                         f"{'a fully connected (mlp)' if kind == 'mlp' else 'a dcgan'} network")
        args.model = kind
        args.conditional = args.conditional or file_model.get("num_classes", 0) > 0
        if file_settings.get("dataset", dataset) != dataset:
            print(f"note: {file_path} was written for {file_settings['dataset']}; training it "
                  f"on {dataset}", file=sys.stderr)
    if getattr(args, "data_dir", None) is None and "data_dir" in file_settings:
        args.data_dir = file_settings["data_dir"]              # the run's own IDX folder
    if args.max_steps is None and "max_steps" in file_settings:
        args.max_steps = file_settings["max_steps"]
    return file_path, file_model, file_settings


def new_run_settings(args, file_model, file_settings, shape, dataset):
    """The config and settings of a new run of the ``dataset`` demo: the defaults, then the
    --config file's, then the flags. ``shape``: the image fields of the data
    (``image_fields``), unless the file gives its own (then they must fit the data, which
    ``run_demo`` checks). Returns ``(cfg, settings)``, settings with every key GANTrainer and
    Run take.

    A run's own config.json (it records the run's "backend") repeats that run: a setting it
    does not record did not exist when it ran, so it is off (0), not today's default."""
    own_run = "backend" in file_settings            # a run's own config.json: its settings then
    model = dict(file_model or {"latent_dim": DEFAULTS["latent_dim"]})
    if not {"image_dim", "image_shape"} & set(file_model or ()):
        model.update(shape)
    if args.latent_dim is not None:
        model["latent_dim"] = args.latent_dim
    if args.conditional and not model.get("num_classes"):
        model["num_classes"] = 10
    if args.model == "dcgan":
        model["model"] = "dcgan"
        if args.upsample:
            model["upsample"] = args.upsample
    dcgan = model.get("model") == "dcgan"
    if dcgan and not own_run:                       # an own run's config names its whole D
        model = {**DCGAN_MODEL, **model}
    mlp, conditional = model.get("model", "mlp") == "mlp", bool(model.get("num_classes"))
    if args.info and conditional:
        raise DataError(f"--info {args.info:g} is for a GAN without --conditional: a conditional "
                        "G is told which class to draw, and InfoGAN's codes would compete with "
                        "the labels for that job")
    if args.info is not None:                       # InfoGAN's code head (demos/flags.py)
        model["info_weight"] = args.info
        if args.info and not model.get("latent_components"):
            model["latent_components"] = INFO_CODES
    elif not conditional and not file_model:          # the demo's own network
        model.update((PLAIN_MODEL if mlp else DCGAN_PLAIN_MODEL).get(dataset, {}))
    codes = model.get("latent_components", 0) if model.get("info_weight") else 0
    if codes and model.get("latent_dim", DEFAULTS["latent_dim"]) <= codes:
        raise DataError(f"--latent-dim {model.get('latent_dim')} leaves no noise beside the "
                        f"{codes} InfoGAN codes, which take z's first {codes} entries: give a "
                        f"--latent-dim above {codes}, or turn the codes off with --info 0")
    if mlp and conditional:
        model.setdefault("d_label", "projection")   # README "Results": 99.9% against 90% labels
    # the fully connected GAN's own defaults per dataset (README "Results")
    own = (CONDITIONAL if conditional else PLAIN).get(dataset, {}) if mlp else {}
    recorded = ({"ema": 0.0, "mode_seeking": 0.0, "label_smoothing": 0.0, "lr_decay": 0.0}
                if own_run else {})
    settings = {**DEFAULTS, "betas": [0.5, 0.999], "backend": "numpy", "ema": EMA,
                "mode_seeking": 0.0, "label_smoothing": 0.0, "lr_decay": 0.0,
                **({"lr": DCGAN_LR} if dcgan else {}),
                **own, **recorded, **file_settings}
    settings.update({k: getattr(args, k) for k in ("batch_size", "lr", "seed", "optimizer",
                                                      "ema", "mode_seeking", "label_smoothing",
                                                      "lr_decay", "backend")
                     if getattr(args, k) is not None})
    try:
        cfg = config_from_dict(model)
    except ValueError as e:                 # the file's network does not fit these images
        raise DataError(f"{e}") from None
    if cfg.weight_count() > MAX_WEIGHTS:
        raise DataError(
            f"that network has {cfg.weight_count():,} weights, more than the demos' limit of "
            f"{MAX_WEIGHTS:,} (with its gradients and Adam's two moments, float32, "
            f"{16 * cfg.weight_count() / 2**30:.1f} GiB); make the images smaller (--size, "
            "--grey), the hidden layers narrower, or "
            + ("drop the DCGAN's fully connected layers (--config dcgan_without_fc)" if dcgan
               else "use --model dcgan"))
    return cfg, settings


def check_resume_flags(parser, args, trainer, info, dataset):
    """A resumed run keeps its settings; a flag that contradicts them is an error.

    ``info`` is the run information saved in the checkpoint (checked by ``load_run``). A
    checkpoint written without a batch size (by the Python API, not a demo) needs
    ``--batch-size``, which then fills it in.
    """
    if info.get("dataset", dataset) != dataset:
        parser.error(f"the checkpoint was trained on {info['dataset']}, not {dataset}")
    if args.conditional and not trainer.conditional:
        parser.error("--conditional given, but the checkpoint holds a plain GAN")
    model = "dcgan" if isinstance(trainer.cfg, DCGANConfig) else "mlp"
    if args.model is not None and args.model != model:
        parser.error(f"--model {args.model} contradicts the checkpoint's {model}")
    if args.upsample is not None and getattr(trainer.cfg, "upsample", None) != args.upsample:
        parser.error(f"--upsample {args.upsample} contradicts the checkpoint's "
                     f"{getattr(trainer.cfg, 'upsample', 'fully connected model')}")
    if info.get("batch_size") is None:
        if args.batch_size is None:
            parser.error("the checkpoint does not record its batch size; give --batch-size")
        info["batch_size"] = args.batch_size
    stored = {"batch_size": info["batch_size"], "lr": trainer.settings["lr"],
              "latent_dim": trainer.cfg.latent_dim, "seed": trainer.settings["seed"],
              "optimizer": trainer.settings["optimizer"], "ema": trainer.settings["ema"],
              "mode_seeking": trainer.settings["mode_seeking"],
              "label_smoothing": trainer.settings["label_smoothing"],
              "lr_decay": trainer.settings["lr_decay"], "info": trainer.cfg.info_weight}
    decay = trainer.settings["lr_decay"]
    if decay and args.epochs is not None and info.get("epochs") not in (None, args.epochs):
        parser.error(f"--epochs {args.epochs} would change this run's learning-rate schedule "
                     f"(--lr-decay {decay:g}: to 0 over the last {decay:.0%} of its "
                     f"{info['epochs']} epochs); a resumed run keeps its own: leave out --epochs, "
                     "or start a new run")
    for name, value in stored.items():
        given = getattr(args, name)
        if given is not None and given != value:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} {given} contradicts the checkpoint's {value}; "
                         "a resumed run keeps its own settings")
