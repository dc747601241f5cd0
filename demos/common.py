"""The command line shared by the demos: parse flags, build or resume a run, report clearly."""

import argparse
import math
import os
import sys

import numpy as np

from npgan.backend import BACKENDS, BackendError, backend_name
from npgan.checkpoint import CheckpointError
from npgan.data import DataError, scale_images
from npgan.metrics import evaluate, format_metrics, save_metrics
from npgan.models import MODELS, DCGANConfig, GANConfig
from npgan.run import Run, TrainingDiverged, load_run
from npgan.train import OPTIMIZERS, GANTrainer

DEFAULTS = {"batch_size": 64, "lr": 2e-4, "latent_dim": 100, "seed": 0, "optimizer": "adam"}
DCGAN_EPOCHS = 9            # the DCGAN's default: about 9 minutes on 2 CPU cores (README)
EMA = {"mlp": 0.0, "dcgan": 0.999}      # the default average of G's weights, per model


def number(kind, *, low=0, strict=True):
    """An argparse type: ``kind(text)``, finite, and > low (>= low when not ``strict``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if not (value > low if strict else value >= low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def fraction(text):
    """An argparse type: a float in [0, 1)."""
    value = number(float, low=-math.inf)(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def positive(kind):
    return number(kind, low=0)


def build_parser(prog, dataset, default_epochs, description):
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--model", choices=MODELS, default=None,
                   help="mlp: the fully connected GAN (default); dcgan: the convolutional GAN "
                        "(npgan/models/dcgan.py; a resumed run keeps its own)")
    p.add_argument("--upsample", choices=("transpose", "nearest"), default=None,
                   help="how the DCGAN's generator doubles its image size: transposed "
                        "convolutions (default) or nearest-neighbour upsampling followed by a "
                        "convolution (no checkerboard artefacts)")
    p.add_argument("--ema", type=fraction, default=None, metavar="B",
                   help="sample from an exponential moving average of G's weights, "
                        "G_ema = B G_ema + (1 - B) G after each step (0: off; default "
                        f"{EMA['mlp']:g}, or {EMA['dcgan']:g} with --model dcgan)")
    p.add_argument("--epochs", type=positive(int), default=None,
                   help=f"passes over the training set (default {default_epochs}, or "
                        f"{DCGAN_EPOCHS} with --model dcgan; a resumed run keeps its own unless given)")
    p.add_argument("--batch-size", type=positive(int), default=None,
                   help=f"images per step (default {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=positive(float), default=None,
                   help=f"learning rate of both optimizers (default {DEFAULTS['lr']})")
    p.add_argument("--latent-dim", type=positive(int), default=None,
                   help=f"size of the noise vector z (default {DEFAULTS['latent_dim']})")
    p.add_argument("--seed", type=number(int, strict=False), default=None,
                   help=f"seed of weights, noise and shuffling (default {DEFAULTS['seed']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help="adam (lr, betas 0.5/0.999) or rmsprop (default adam)")
    p.add_argument("--out", default=None,
                   help=f"output folder (default runs/{dataset}/; runs/{dataset}_conditional/ "
                        f"with --conditional; runs/{dataset}_dcgan/ and "
                        f"runs/{dataset}_dcgan_conditional/ with --model dcgan)")
    p.add_argument("--max-steps", type=positive(int), default=None,
                   help="stop after this many training steps in total, counting resumed ones")
    p.add_argument("--checkpoint-every", type=positive(int), default=None, metavar="STEPS",
                   help="also write checkpoint.npz every STEPS steps (always after each epoch)")
    p.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue the run saved in this checkpoint.npz")
    p.add_argument("--data-dir", default=None,
                   help="read the four IDX files from this folder instead of the default")
    p.add_argument("--conditional", action="store_true",
                   help="train a conditional GAN: G and D also see the class label, and sample "
                        "grids show one row per class")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="numpy (CPU) or cupy (an NVIDIA GPU; pip install \"npgan[gpu]\"); "
                        "default numpy, or a resumed run's own")
    p.add_argument("--eval-samples", type=number(int, strict=False), default=10000, metavar="N",
                   help="at the end, score N samples with the shipped classifier and write "
                        "metrics.json (0: skip; default 10000, about 10 s)")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in an --out folder that already holds one (its "
                        "checkpoint and outputs are replaced)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv, **demo):
    """Run a demo (``run_demo``). Returns the process exit code: 0 ok, 1 diverged or could
    not write, 2 bad input (flags, data or checkpoint; nothing is written), 130 Ctrl-C."""
    try:
        return run_demo(argv, **demo)
    except KeyboardInterrupt:       # while starting up or scoring: no training to save
        print("\ninterrupted", file=sys.stderr)
        return 130


def run_demo(argv, *, dataset, load_images, default_epochs, description, class_names=None):
    """Parse ``argv``, build or resume the run, train, write the outputs and score them.
    Ctrl-C during training reports the last good checkpoint (``main`` handles the rest)."""
    parser = build_parser(f"python -m npgan.demos.{dataset}", dataset, default_epochs, description)
    args = parser.parse_args(argv)
    if args.upsample and args.model != "dcgan" and not args.resume:
        parser.error("--upsample is for --model dcgan")
    suffix = ("_dcgan" if args.model == "dcgan" else "") + ("_conditional" if args.conditional else "")
    out = args.out or ((os.path.dirname(args.resume) or ".") if args.resume
                       else os.path.join("runs", dataset + suffix))
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out} is a file, not a folder")
    previous = os.path.join(out, "checkpoint.npz")
    if not args.resume and not args.overwrite and os.path.exists(previous):
        parser.error(f"{out} already holds a run ({previous}); continue it with --resume "
                     f"{previous}, start another with --out FOLDER, or replace it with "
                     "--overwrite")
    try:
        if args.resume:                 # checkpoints hold host arrays: any backend may resume
            trainer, history, info = load_run(args.resume, backend=args.backend)
            check_resume_flags(parser, args, trainer, info, dataset)
        else:
            settings = {k: v if getattr(args, k) is None else getattr(args, k)
                        for k, v in DEFAULTS.items()}
            classes = 10 if args.conditional else 0
            if args.model == "dcgan":
                cfg = DCGANConfig(latent_dim=settings["latent_dim"], num_classes=classes,
                                  upsample=args.upsample or "transpose")
                default_epochs = DCGAN_EPOCHS
            else:
                cfg = GANConfig(latent_dim=settings["latent_dim"], num_classes=classes)
            ema = EMA[args.model or "mlp"] if args.ema is None else args.ema
            trainer = GANTrainer(cfg, lr=settings["lr"], optimizer=settings["optimizer"],
                                 seed=settings["seed"], backend=args.backend or "numpy", ema=ema)
            history, info = None, {"dataset": dataset, "batch_size": settings["batch_size"],
                                   "model": trainer.cfg.to_dict(), **trainer.settings}
        info["epochs"] = args.epochs or info.get("epochs") or (
            DCGAN_EPOCHS if isinstance(trainer.cfg, DCGANConfig) else default_epochs)
        info["backend"] = backend_name(trainer.xp)
        images, labels = load_images("train", args.data_dir)
    except (BackendError, CheckpointError, DataError, OSError) as e:   # OSError: unreadable
        print(f"error: {e}", file=sys.stderr)
        return 2
    if info["batch_size"] > len(images):
        print(f"error: a batch of {info['batch_size']} is larger than the {len(images)} training "
              "images", file=sys.stderr)
        return 2
    run = Run(trainer, scale_images(images), out, batch_size=info["batch_size"],
              epochs=info["epochs"], max_steps=args.max_steps, checkpoint_every=args.checkpoint_every,
              history=history, info=info, quiet=args.quiet, resumed_from=args.resume,
              labels=labels.astype(np.int64), class_names=class_names)
    if run.total_steps < trainer.step:
        print(f"error: the checkpoint is at step {trainer.step}, past the step {run.total_steps} "
              "where this run would stop (--max-steps and --epochs count every step of the run, "
              "the resumed ones included)", file=sys.stderr)
        return 2
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create the output folder {out}: {e.strerror}", file=sys.stderr)
        return 2
    kind = ("a conditional " if trainer.conditional else "a ") + (
        "DCGAN" if isinstance(trainer.cfg, DCGANConfig) else "GAN")
    resumed = f", resuming at step {trainer.step}" if args.resume else ""
    print(f"npgan: training {kind} on {dataset} until step {run.total_steps} "
          f"({info['epochs']} epochs of {run.steps_per_epoch} steps{resumed}); "
          f"outputs in {os.path.abspath(out)}")
    try:
        seconds = run.train()
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:                                        # e.g. the disk is full
        print(f"error: {e}. {run.last_good()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted at step {trainer.step}. {run.last_good()}", file=sys.stderr)
        return 130
    warned = sum(f.kind == "warning" for f in run.findings)
    print(f"done: {trainer.step} steps in {seconds:.0f} s. Samples: {run.path('samples.png')}, "
          f"curves: {run.path('losses.png')}, checkpoint: {run.checkpoint_path}, log: "
          f"{run.path('log.txt')}" + (f" ({warned} health warning(s))" if warned else ""))
    if args.eval_samples:
        report_metrics(trainer, dataset, args.eval_samples, args.data_dir, run.path("metrics.json"))
    return 0


def report_metrics(trainer, dataset, n, data_dir, path):
    """Score the trained G with the shipped classifier, print the table, write metrics.json.
    Training has succeeded by now, so a failure here is reported but does not fail the run."""
    try:
        metrics = evaluate(trainer, dataset, n=max(n, 2), data_dir=data_dir)
        save_metrics(metrics, path)
    except (CheckpointError, DataError, OSError, ValueError) as e:
        print(f"note: metrics skipped ({e})", file=sys.stderr)
        return
    print(format_metrics(metrics))
    print(f"metrics: {path}")


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
              "optimizer": trainer.settings["optimizer"], "ema": trainer.settings["ema"]}
    for name, value in stored.items():
        given = getattr(args, name)
        if given is not None and given != value:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} {given} contradicts the checkpoint's {value}; "
                         "a resumed run keeps its own settings")
