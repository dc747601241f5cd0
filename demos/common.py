"""The command line shared by the demos: build or resume a run from the flags (demos/flags.py),
train it, report clearly."""

import contextlib
import json
import math
import os
import re
import signal
import sys

import numpy as np

from npgan.backend import BackendError, backend_name
from npgan.checkpoint import CheckpointError
from npgan.classifier import DATASETS
from npgan.data import DataError, scale_images
from npgan.metrics import evaluate, format_metrics, save_metrics
from npgan.demos.config_file import SHIPPED
from npgan.demos.flags import (CONDITIONAL_EPOCHS, DCGAN_EPOCHS, DCGAN_PLAIN_EPOCHS, PLAIN_EPOCHS,
                               build_parser, plural)
from npgan.models import DCGANConfig, image_shape_of, shape_fields
from npgan.nn import BatchNorm1d, BatchNorm2d
from npgan.run import Run, TrainingDiverged, check_image_count
from npgan.run_state import checkpoint_file, load_run
from npgan.demos.run_settings import apply_config_file, check_resume_flags, new_run_settings
from npgan.memory import keep_freed_memory
from npgan.threads import ThreadTuner, available_cores, blas_libraries, set_threads
from npgan.train import GANTrainer


def main(argv, **demo):
    """Run a demo (``run_demo``). Returns the process exit code: 0 ok, 1 diverged or could
    not write, 2 bad input (flags, data or checkpoint; nothing is written), 130 Ctrl-C."""
    try:
        return run_demo(argv, **demo)
    except KeyboardInterrupt:       # while starting up or scoring: no training to save
        print("\ninterrupted", file=sys.stderr)
        return 130


def run_demo(argv, *, dataset, load_images=None, default_epochs=None, description,
             class_names=None, add_arguments=None, read_data=None, default_steps=None):
    """Parse ``argv``, build or resume the run, train, write the outputs and score them.
    Ctrl-C during training reports the last good checkpoint (``main`` handles the rest).

    The IDX demos give ``load_images(split, data_dir)`` -> (images, labels). A demo that reads
    files named by its own flags (demos/images.py) gives instead ``add_arguments(parser)`` and
    ``read_data(args, info)`` -> (images, None), where ``info`` is a resumed run's information
    (else empty) and ``read_data`` may record its flags in it; and ``default_steps``, from which
    the default --epochs follow (see ``build_parser``).
    """
    parser = build_parser(f"python -m npgan.demos.{dataset}", dataset, default_epochs, description,
                          data_dir=read_data is None, default_steps=default_steps)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if getattr(args, "parzen", False) and args.eval_samples == 0:
        parser.error("--parzen is scored with the end-of-run evaluation, which --eval-samples 0 "
                     "skips; drop one of them")
    if args.resume:
        args.resume = checkpoint_file(args.resume)          # a run's folder: its checkpoint
    file_path, file_model, file_settings = apply_config_file(parser, args, dataset)
    if args.upsample and args.model != "dcgan" and not args.resume:
        parser.error("--upsample is for --model dcgan")
    suffix = (("_dcgan" if args.model == "dcgan" else "")
              + ("_nearest" if args.upsample == "nearest" else "")     # not over the default DCGAN
              + ("_conditional" if args.conditional else ""))
    if file_path is not None and file_path.parent == SHIPPED:     # not over the default run's
        suffix = "_" + file_path.stem + suffix
    out = args.out or ((os.path.dirname(args.resume) or ".") if args.resume
                       else os.path.join("runs", dataset + suffix))
    if os.path.exists(out) and not os.path.isdir(out):
        parser.error(f"--out {out} is a file, not a folder")
    previous = os.path.join(out, "checkpoint.npz")
    same_run = bool(args.resume) and os.path.exists(args.resume) and os.path.exists(previous) \
        and os.path.samefile(args.resume, previous)         # resuming in the run's own folder
    if os.path.exists(previous) and not args.overwrite and not same_run:
        if args.resume:
            parser.error(f"{out} already holds another run ({previous}); resuming "
                         f"{args.resume} there would replace it: give another --out, or "
                         "--overwrite to replace that run")
        parser.error(f"{out} already holds a run ({previous}); continue it with --resume "
                     f"{previous}, start another with --out FOLDER, or replace it with "
                     "--overwrite")
    try:
        info = {"data": file_settings["data"]} if "data" in file_settings else {}
        if args.resume:                 # checkpoints hold host arrays: any backend may resume
            trainer, history, info = load_run(args.resume, backend=args.backend)
            check_resume_flags(parser, args, trainer, info, dataset)
            if hasattr(args, "data_dir") and args.data_dir is None and info.get("data_dir"):
                args.data_dir = info["data_dir"]            # the IDX folder the run trained on
                print(f"note: reading the images from {args.data_dir}, the --data-dir this "
                      "run was trained on", file=sys.stderr)
            # the settings and network the trainer runs with: a checkpoint from before a
            # setting existed records none for it, and its run's config.json then says 0
            info.update(trainer.settings, model=trainer.cfg.to_dict())
        images, labels = (read_data(args, info) if read_data
                          else load_images("train", args.data_dir))
        if args.resume:
            check_data_shape(trainer, images, f"the checkpoint {args.resume} was trained on")
            check_image_count(info, len(images))
        else:
            cfg, settings = new_run_settings(args, file_model, file_settings,
                                             image_fields(images), dataset)
            trainer = GANTrainer(cfg, lr=settings["lr"], betas=settings["betas"],
                                 optimizer=settings["optimizer"], seed=settings["seed"],
                                 backend=settings["backend"], ema=settings["ema"],
                                 mode_seeking=settings["mode_seeking"],
                                 label_smoothing=settings["label_smoothing"],
                                 lr_decay=settings["lr_decay"])
            history, info = None, {"dataset": dataset, **info, "batch_size": settings["batch_size"],
                                   "model": trainer.cfg.to_dict(), **trainer.settings}
            info["epochs"] = settings.get("epochs")
            if args.config:
                info["config_file"] = str(file_path.resolve())
            if {"image_dim", "image_shape"} & set(file_model or ()):    # else the data's own
                check_data_shape(trainer, images, f"the network of {file_path} (its image_dim / "
                                 "image_shape; remove them to take the data's) takes")
        info["backend"] = backend_name(trainer.xp)
        info.pop("max_steps", None)                 # this run's own, so that --config repeats it
        info.pop("data_dir", None)
        if args.max_steps is not None:
            info["max_steps"] = args.max_steps
        if getattr(args, "data_dir", None) is not None:
            info["data_dir"] = os.path.abspath(args.data_dir)
    except (BackendError, CheckpointError, DataError, OSError) as e:   # OSError: unreadable
        print(f"error: {e}", file=sys.stderr)
        return 2
    if trainer.conditional and labels is not None and trainer.cfg.num_classes != labels.max() + 1:
        print(f"error: a conditional network for {trainer.cfg.num_classes} classes (num_classes), "
              f"but {dataset} has {labels.max() + 1}", file=sys.stderr)
        return 2
    if info["batch_size"] > len(images):
        print(f"error: a batch of {info['batch_size']} is larger than the {len(images)} training "
              f"images: give --batch-size {len(images)} or less"
              + (" (a resumed run keeps its own batch size; start a new run)" if args.resume
                 else ""), file=sys.stderr)
        return 2
    batchnorm = any(isinstance(m, (BatchNorm1d, BatchNorm2d))
                    for net in (trainer.G, trainer.D) for m in net.modules())
    if batchnorm and info["batch_size"] < 2:
        print(f"error: a batch of {info['batch_size']} image: this network's BatchNorm layers "
              "normalize over the batch and need at least 2 (--batch-size 2 or more)",
              file=sys.stderr)
        return 2
    if default_steps:                   # as many epochs as make about default_steps steps
        default_epochs = max(1, round(default_steps / (len(images) // info["batch_size"])))
    dcgan = isinstance(trainer.cfg, DCGANConfig)
    if dcgan and not default_steps:
        default_epochs = (DCGAN_PLAIN_EPOCHS.get(dataset, DCGAN_EPOCHS)
                          if not trainer.conditional and not file_model else DCGAN_EPOCHS)
    elif trainer.conditional and not dcgan:
        default_epochs = CONDITIONAL_EPOCHS.get(dataset, default_epochs)
    elif not dcgan and not file_model:              # the fully connected GAN's own network
        default_epochs = PLAIN_EPOCHS.get(dataset, default_epochs)
    info["epochs"] = args.epochs or info.get("epochs") or default_epochs
    tuner, threads_note = threads_for(args.threads, info["backend"])
    memory_note = keep_freed_memory()                   # npgan/memory.py: reuse freed arrays
    run = Run(trainer, scale_images(images, low=trainer.cfg.pixel_low), out,
              batch_size=info["batch_size"],
              epochs=info["epochs"], max_steps=args.max_steps, checkpoint_every=args.checkpoint_every,
              history=history, info=info, quiet=args.quiet, resumed_from=args.resume,
              labels=None if labels is None else labels.astype(np.int64), class_names=class_names,
              tuner=tuner)
    if run.total_steps < trainer.step:
        print(f"error: the checkpoint is at step {trainer.step}, past the step {run.total_steps} "
              "where this run would stop (--max-steps and --epochs count every step of the run, "
              "the resumed ones included)", file=sys.stderr)
        return 2
    if trainer.step == run.total_steps:
        print(f"note: the checkpoint is already at step {trainer.step}, where this run stops "
              f"({plural(info['epochs'], 'epoch')}" + (f", --max-steps {args.max_steps}"
                                                         if args.max_steps else "")
              + "): nothing to train; its pictures and scores are written again", file=sys.stderr)
    elif args.max_steps and args.max_steps > run.total_steps:
        print(f"note: --max-steps {args.max_steps} is beyond the {plural(info['epochs'], 'epoch')}"
              f" ({run.total_steps} steps); the run stops there", file=sys.stderr)
    try:
        os.makedirs(out, exist_ok=True)
        if args.overwrite and not same_run:
            remove_old_outputs(out)
    except OSError as e:
        print(f"error: cannot create the output folder {out}: {e.strerror}", file=sys.stderr)
        return 2
    kind = ("a conditional " if trainer.conditional else "a ") + (
        "DCGAN" if isinstance(trainer.cfg, DCGANConfig) else "GAN")
    if trainer.cfg.info_weight:                     # the MNIST defaults have them unasked
        kind += (f" with InfoGAN's {trainer.cfg.latent_components} codes (--info "
                 f"{trainer.cfg.info_weight:g})")
    resumed = f", resuming at step {trainer.step}" if args.resume else ""
    kind += f" (network and settings from {file_path})" if args.config else ""
    print(f"npgan: training {kind} on {dataset} until step {run.total_steps} "
          f"({plural(info['epochs'], 'epoch')} of {plural(run.steps_per_epoch, 'step')}"
          f"{resumed}); "
          f"outputs in {os.path.abspath(out)}")
    print(threads_note)
    print(memory_note)
    try:
        with termination_as_interrupt():
            seconds = run.train()
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:                                        # e.g. the disk is full
        print(f"error: {e}. {run.last_good()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = ("" if run.last_saved else " A checkpoint is written at each epoch's end; "
                "--checkpoint-every STEPS writes one more often.")
        print(f"\ninterrupted at step {trainer.step}. {run.last_good()}{hint}", file=sys.stderr)
        return 130
    gif = run.path("progress.gif")
    animation = f", animation: {gif}" if os.path.exists(gif) else ""
    warned = sum(f.kind == "warning" for f in run.findings)
    print(f"done: step {trainer.step} reached in {seconds:.0f} s. Samples: {run.path('samples.png')}"
          f"{animation}, curves: {run.path('losses.png')}, checkpoint: {run.checkpoint_path}, "
          f"log: {run.path('log.txt')}" + (f" ({warned} health warning(s))" if warned else ""))
    if args.eval_samples:
        report_metrics(trainer, dataset, args.eval_samples, getattr(args, "data_dir", None),
                       run.path("metrics.json"), parzen=getattr(args, "parzen", False))
    else:
        note_stale_metrics(run.path("metrics.json"), trainer.step)
    return 0


@contextlib.contextmanager
def termination_as_interrupt():
    """Within this block a SIGTERM (``kill``, ``timeout``, a batch system's stop) stops the
    run as Ctrl-C does: logged, with the last good checkpoint named, instead of ending the
    process at once with nothing said. (Only from the main thread, where Python takes
    signals; elsewhere nothing changes.)"""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:                                  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def note_stale_metrics(path, step):
    """--eval-samples 0: say so if an earlier run of this folder left its metrics.json, which
    scores another step than the checkpoint beside it (it is kept: it records its step)."""
    try:
        with open(path) as f:
            scored = json.load(f).get("step")
    except (OSError, ValueError, AttributeError):
        return
    if scored != step:
        print(f"note: {path} scores step {scored}, not this run's step {step} (--eval-samples "
              "0 skipped the scoring; python -m npgan.evaluate scores the checkpoint)",
              file=sys.stderr)


def threads_for(flag, backend, *, tuned=True):
    """Set up ``--threads`` (demos/flags.py). Returns (a ThreadTuner or None, the line that
    says what was chosen). A thread count in the environment pins the default; ``tuned``
    False (a demo without a Run) makes auto all cores."""
    cores = available_cores()
    env = next((v for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if os.environ.get(v)),
               None)
    if flag is None and env:
        try:
            flag, why = max(1, int(os.environ[env])), f"from {env}"
        except ValueError:
            flag, why = "auto", f"{env}={os.environ[env]!r} is not a number"
    else:
        flag, why = (flag, "--threads") if flag is not None else ("auto", "the default")
    if flag == "auto" and backend != "numpy":
        flag, why = cores, "auto on a GPU: all cores for the host work"
    if flag == "auto" and cores == 1:
        flag, why = 1, "auto: this process may use one core"
    if flag == "auto" and not tuned:
        flag, why = cores, "auto: every core this process may use"
    if flag == "auto":
        tuner = ThreadTuner(cores)
        return tuner, (f"threads: auto ({why}): {' or '.join(map(str, tuner.candidates))} "
                       f"of the {cores} cores this process may use, whichever steps fastest, "
                       "timed before the first step and again when step times move "
                       f"(--threads N pins the count); "
                       f"{', '.join(blas_libraries(counts=False)) or 'no BLAS library found'}")
    set_threads(flag)
    return None, (f"threads: {flag} ({why}; {cores} cores available; "
                  f"{', '.join(blas_libraries()) or 'no BLAS library found'})")


OLD_OUTPUTS = ("samples.png", "progress.gif", "losses.png", "health.png", "history.csv",
               "metrics.json")


def remove_old_outputs(out):
    """--overwrite: remove the pictures and tables an earlier run left in ``out``, so that none
    of them (an epoch grid past this run's last, a progress.gif of a longer run) passes for
    this run's. checkpoint.npz stays until this run's first checkpoint replaces it atomically,
    and log.txt keeps its lines: it is the folder's record, and says that a new run started."""
    for name in os.listdir(out):
        if name in OLD_OUTPUTS or re.fullmatch(r"samples_epoch_\d+\.png", name):
            os.remove(os.path.join(out, name))


def report_metrics(trainer, dataset, n, data_dir, path, *, parzen=False):
    """Score the trained G with the shipped classifier, print the table, write metrics.json.
    Training has succeeded by now, so a failure here is reported but does not fail the run."""
    if dataset not in DATASETS:
        print(f"note: no classifier metrics: npgan ships classifiers for {' and '.join(DATASETS)} "
              f"only, not for {dataset}; judge the samples by eye", file=sys.stderr)
        return
    try:
        metrics = evaluate(trainer, dataset, n=max(n, 2), data_dir=data_dir, parzen=parzen)
        save_metrics(metrics, path)
    except (CheckpointError, DataError, OSError, ValueError) as e:
        print(f"note: metrics skipped ({e})", file=sys.stderr)
        return
    print(format_metrics(metrics))
    print(f"metrics: {path}")


def pictures_shape(images):
    """(C, H, W) of a demo's uint8 pictures (N, H, W) grey or (N, H, W, 3) colour."""
    return (images.shape[3] if images.ndim == 4 else 1, *images.shape[1:3])


def image_fields(images):
    """The config fields for a demo's pictures: none for 28 x 28 grey (the configs' default,
    as MNIST's checkpoints have always been), else image_dim and image_shape."""
    shape = pictures_shape(images)
    return {} if shape == (1, 28, 28) else shape_fields(shape)


def check_data_shape(trainer, images, whose):
    """The data must have the shape the model draws (a resumed run's, or a --config file's
    that sets it); DataError if not, starting with ``whose`` ("the checkpoint X was trained
    on")."""
    got = pictures_shape(images)
    try:
        want = image_shape_of(trainer.cfg)
    except ValueError as e:                      # an image_dim that is not a square
        raise DataError(f"{whose} images of {trainer.cfg.image_dim} values: {e}") from None
    if want != got:
        def say(c, h, w):
            return f"{h} x {w} {'grey' if c == 1 else 'colour'} images"
        raise DataError(f"{whose} {say(*want)}, but the data given now are {say(*got)} "
                        f"({math.prod(want)} values an image against {math.prod(got)})")
