"""The demos' flags: their defaults, argparse types that say what was wrong, and the parser
every demo shares (``build_parser``; demos/common.py runs what it parses)."""

import argparse
import math

from npgan.backend import BACKENDS
from npgan.demos.config_file import shipped_names
from npgan.models import MODELS
from npgan.optim import OPTIMIZERS

DEFAULTS = {"batch_size": 64, "lr": 2e-4, "latent_dim": 100, "seed": 0, "optimizer": "adam"}
DCGAN_EPOCHS = 10           # the DCGAN's default: about 10 minutes on 2 CPU cores (README)
# The DCGAN demos' network and learning rate, where they differ from DCGANConfig's and the
# MLP's defaults: a fully connected layer before G's convolutions and one after D's, and a
# higher learning rate (npgan/models/dcgan.py lists the runs that chose them; README "Results").
DCGAN_MODEL = {"g_hidden": [256], "d_hidden": [256]}
DCGAN_LR = 5e-4
EMA = 0.999        # the default average of G's weights (Yazici et al. 2019; README "Results")
# The fully connected cGAN's settings that differ from the plain GAN's defaults, per dataset
# (README "Results": on MNIST, MSGAN's mode-seeking term and a shorter average of G's weights
# drew more varied digits, closer to the data's, and with a learning rate that falls to 0 over the
# second half of the run, half the term's weight did best; on Fashion-MNIST every weight of
# the term tried did worse, so it keeps the plain defaults).
CONDITIONAL = {"mnist": {"mode_seeking": 0.5, "ema": 0.99, "lr_decay": 0.5}}
# The fully connected plain GAN's, per dataset (README "Results": on MNIST, one-sided label
# smoothing lowered the Frechet distance for each of three seeds, 5.98 / 6.62 / 7.39 to
# 5.26 / 5.15 / 5.57; for the conditional GAN, the DCGAN and Fashion-MNIST it was mixed or
# no better)
PLAIN = {"mnist": {"label_smoothing": 0.1}}
# InfoGAN's code head (--info W): with W > 0 and no latent_components of a --config file's,
# z starts with a one-hot code of one of INFO_CODES components, one per digit or garment
INFO_CODES = 10
# The fully connected plain GAN's own network, per dataset, where no --config file gives one
# and no --info flag replaces it, and its epochs (README "Results": on MNIST InfoGAN's codes,
# weight 0.1, and twice the epochs took the classifier score from 8.91-8.97 to 9.42-9.63 and
# the Frechet distance from 5.15-5.57 to 4.95-5.18, three seeds)
PLAIN_MODEL = {"mnist": {"latent_components": INFO_CODES, "info_weight": 0.1}}
# (on Fashion-MNIST the codes did not help, the epochs did: Frechet 9.85-14.56 after 15,
# 4.60-5.97 after 30, three seeds; README "Results")
PLAIN_EPOCHS = {"mnist": 30, "fashion_mnist": 30}
# The plain DCGAN's, likewise (README "Results": on MNIST, InfoGAN's codes at weight 0.3 and
# 14 epochs, about 10 minutes on 2 cores, took the classifier score from 8.81-8.88 to
# 9.27-9.47 and the Frechet distance from 6.12 / 7.96 / 6.79 to 5.25 / 6.70 / 7.17, seeds
# 0 / 1 / 2; seed 0 with 14 epochs alone: 8.95 / 5.77 (against 8.88 / 6.12), with the codes
# alone: 9.05 / 8.17 (against 8.92 / 5.88, before BatchNorm2d's one sum))
DCGAN_PLAIN_MODEL = {"mnist": {"latent_components": INFO_CODES, "info_weight": 0.3}}
DCGAN_PLAIN_EPOCHS = {"mnist": 14}
# The fully connected cGAN's epochs: about 6 minutes on 2 cores (README "Results": with a
# flat learning rate, Frechet 6.76 / 8.21 / 7.25 after 30 against 8.90 / 9.59 / 6.74 after
# 15, seeds 0 / 1 / 2; with the falling one, 4.21 / 4.90 / 4.50 after 30)
CONDITIONAL_EPOCHS = {"mnist": 30}


def plural(n, word):
    """"1 step", "4 steps"."""
    return f"{n} {word}{'s' * (n != 1)}"


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


def unit_fraction(text):
    """An argparse type: a float in [0, 1]."""
    value = number(float, low=-math.inf)(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def positive(kind):
    return number(kind, low=0)


def threads_flag(text):
    """An argparse type for --threads: ``auto`` or a whole number >= 1."""
    if text == "auto":
        return text
    try:
        return number(int)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 1, got {text!r}") \
            from None


def add_threads_flag(p, tuned=True):
    """--threads N|auto (demos/common.py threads_for)."""
    auto = ("time a few steps on every core this process may use and on one, keep the "
            "faster, and time again when the step time moves, so that a busy neighbour "
            "program does not stall training" if tuned else "every core this process may use")
    p.add_argument("--threads", type=threads_flag, default=None, metavar="N|auto",
                   help="CPU threads for the matrix products (BLAS) and the optimizer's passes. "
                        f"auto (the default): {auto}; N: exactly N, for runs that repeat "
                        "bit for bit. OPENBLAS_NUM_THREADS or OMP_NUM_THREADS in the "
                        "environment, when set, pin the default")


def build_parser(prog, dataset, default_epochs, description, *, data_dir=True, default_steps=None):
    """The demos' flags. ``data_dir``: offer --data-dir (the IDX demos). ``default_steps``: the
    default --epochs are as many as make about this many steps (a demo whose data size varies)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", metavar="FILE.json", default=None,
                   help="the network (and any training settings) from a JSON file: a run's own "
                        "config.json (or its folder) repeats that run; a shipped "
                        "network by name ("
                        + ", ".join(shipped_names()) + "; demos/configs/). Flags override "
                        "the file's settings")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="mlp: the fully connected GAN (default); dcgan: the convolutional GAN "
                        "(npgan/models/dcgan.py; a resumed run keeps its own)")
    p.add_argument("--upsample", choices=("transpose", "nearest"), default=None,
                   help="how the DCGAN's generator doubles its image size: transposed "
                        "convolutions (default) or nearest-neighbour upsampling followed by a "
                        "convolution (no checkerboard artefacts)")
    own = CONDITIONAL.get(dataset, {})       # this dataset's fully connected cGAN defaults
    cgan = " for the fully connected --conditional GAN"
    p.add_argument("--ema", type=fraction, default=None, metavar="B",
                   help="sample from an exponential moving average of G's weights, "
                        "G_ema = B G_ema + (1 - B) G after each step (0: off; default "
                        f"{EMA:g}" + (f", {own['ema']:g}{cgan}" if "ema" in own else "")
                        + "); training itself uses G")
    p.add_argument("--mode-seeking", type=number(float, strict=False), default=None, metavar="W",
                   help="add W times MSGAN's mode-seeking term (Mao et al. 2019) to G's loss: "
                        "1 / (distance between the images of two noise vectors / distance "
                        "between the noise vectors), which grows when G ignores its noise "
                        "(0: off; default "
                        + (f"{own['mode_seeking']:g}{cgan}, else 0)" if "mode_seeking" in own
                           else "0)"))
    plain = PLAIN.get(dataset, {})
    p.add_argument("--label-smoothing", type=fraction, default=None, metavar="S",
                   help="one-sided label smoothing (Salimans et al. 2016): D's target for real "
                        "images is 1 - S instead of 1, fakes keep 0; a D that cannot be sure of "
                        "the real images gives G steadier gradients (0: off; default "
                        + (f"{plain['label_smoothing']:g} for the fully connected GAN without "
                           "--conditional, else 0; a --config file's value replaces the default "
                           "and this flag replaces both; a resumed run keeps its own)"
                           if "label_smoothing" in plain else "0; a resumed run keeps its own)"))
    p.add_argument("--info", type=number(float, strict=False), default=None, metavar="W",
                   help="InfoGAN (Chen et al. 2016) for a GAN without --conditional: z starts "
                        f"with a one-hot code of one of {INFO_CODES} components (npgan/latent.py), "
                        "D also guesses which code drew each fake, and D and G both add W times "
                        "that guess's cross-entropy, so G learns to make the codes draw "
                        "different kinds of image, found without labels (0: off, and z ~ "
                        "N(0, I) unless a --config file gives latent_components; default "
                        + (f"{PLAIN_MODEL[dataset]['info_weight']:g} for the fully connected GAN "
                           f"and {DCGAN_PLAIN_MODEL[dataset]['info_weight']:g} for the DCGAN, "
                           "without --conditional or --config, else 0"
                           if dataset in PLAIN_MODEL and dataset in DCGAN_PLAIN_MODEL else
                           f"{PLAIN_MODEL[dataset]['info_weight']:g} for the fully connected GAN "
                           "without --conditional or --config, else 0"
                           if dataset in PLAIN_MODEL else "0") + "; a resumed run keeps its own)")
    if dataset in PLAIN_EPOCHS and PLAIN_EPOCHS[dataset] == CONDITIONAL_EPOCHS.get(dataset):
        own_epochs = (f"{PLAIN_EPOCHS[dataset]} for the fully connected GAN ({default_epochs} "
                      "for a --config network without --conditional)")
    elif dataset in PLAIN_EPOCHS:
        own_epochs = (f"{PLAIN_EPOCHS[dataset]} for the fully connected GAN without "
                      f"--conditional, {default_epochs} with it or for a --config network")
    else:
        own_epochs = f"{default_epochs}" + (
            f", {CONDITIONAL_EPOCHS[dataset]} for the fully connected --conditional"
            if dataset in CONDITIONAL_EPOCHS else "")
    dcgan_epochs = (f"{DCGAN_PLAIN_EPOCHS[dataset]} without --conditional or --config, "
                    f"{DCGAN_EPOCHS} with them" if dataset in DCGAN_PLAIN_EPOCHS else
                    f"{DCGAN_EPOCHS}")
    epochs = (f"default {own_epochs}, or with --model dcgan {dcgan_epochs}"
              if default_steps is None else
              f"default: as many as make about {default_steps:,} steps, for either model")
    p.add_argument("--epochs", type=positive(int), default=None,
                   help=f"passes over the training set ({epochs}; a resumed run keeps its own "
                        "unless given)")
    p.add_argument("--batch-size", type=positive(int), default=None,
                   help=f"images per step (default {DEFAULTS['batch_size']})")
    p.add_argument("--lr", type=positive(float), default=None,
                   help=f"learning rate of both optimizers (default {DEFAULTS['lr']:g}, or "
                        f"{DCGAN_LR:g} with --model dcgan)")
    p.add_argument("--lr-decay", type=unit_fraction, default=None, metavar="F",
                   help="both learning rates fall linearly to 0 over the last F of the steps "
                        "of the epochs asked for (npgan/train.py decayed_lr; 0.5: the first half "
                        "of the epochs at the full rate, as CycleGAN trains; --max-steps stops a "
                        "run early without changing it; 0: off; default "
                        + (f"{own['lr_decay']:g}{cgan}, else 0" if "lr_decay" in own else "0")
                        + "; a resumed run keeps its own, and its --epochs)")
    p.add_argument("--latent-dim", type=positive(int), default=None,
                   help=f"size of the noise vector z, InfoGAN's codes included (default "
                        f"{DEFAULTS['latent_dim']})")
    p.add_argument("--seed", type=number(int, strict=False), default=None,
                   help=f"seed of weights, noise and shuffling (default {DEFAULTS['seed']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                   help="adam (lr, betas 0.5/0.999) or rmsprop (default adam)")
    p.add_argument("--out", default=None,
                   help=f"output folder (default runs/{dataset}/; runs/{dataset}_conditional/ "
                        f"with --conditional; runs/{dataset}_dcgan/ and "
                        f"runs/{dataset}_dcgan_conditional/ with --model dcgan, "
                        "_nearest after _dcgan with --upsample nearest; "
                        f"runs/{dataset}_NAME/ with --config NAME, a shipped network, "
                        "_dcgan and _conditional following for such a network)"
                   if data_dir else f"output folder (default runs/{dataset}/; runs/{dataset}_dcgan/ "
                        f"with --model dcgan, runs/{dataset}_dcgan_nearest/ with --upsample "
                        f"nearest; runs/{dataset}_NAME/ with --config NAME, a shipped network)")
    p.add_argument("--max-steps", type=positive(int), default=None,
                   help="stop after this many training steps in total, counting resumed ones")
    p.add_argument("--checkpoint-every", type=positive(int), default=None, metavar="STEPS",
                   help="also write checkpoint.npz every STEPS steps (always after each epoch, "
                        "or every k-th epoch in a run of more than 50, with its sample grid)")
    p.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue the run saved in this checkpoint.npz (or in this run folder)")
    if data_dir:
        p.add_argument("--data-dir", default=None,
                       help="read the four IDX files from this folder instead of the default")
    if data_dir:                        # your own images (demos/images.py) have no labels
        p.add_argument("--conditional", action="store_true",
                       help="train a conditional GAN: G and D also see the class label (the "
                            "fully connected D through a projection, npgan/models/"
                            "conditional.py, the DCGAN's D as a learned label plane beside "
                            "the image, npgan/models/dcgan.py; see also --mode-seeking), and "
                            "sample grids show one row per class")
    else:
        p.set_defaults(conditional=False)
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="numpy (CPU) or cupy (an NVIDIA GPU; pip install \"npgan[gpu]\"); "
                        "default numpy, or a resumed run's own")
    if data_dir:                        # the shipped classifiers know MNIST and Fashion-MNIST
        p.add_argument("--eval-samples", type=number(int, strict=False), default=10000,
                       metavar="N", help="at the end, score N samples with the shipped classifier "
                                         "and write metrics.json (0: skip; default 10000, about 10 s)")
        p.add_argument("--parzen", action="store_true",
                       help="also score the Parzen-window log-likelihood of the test images in "
                            "metrics.json (the GAN paper's protocol, npgan/parzen.py; about 15 s)")
    else:
        p.add_argument("--eval-samples", type=number(int, strict=False), default=0, metavar="N",
                       help="the MNIST demo's scoring of N samples: npgan ships no classifier "
                            "for your own images, so the default is 0 (skip)")
    add_threads_flag(p)
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run, or continue a --resume'd one, in an --out folder "
                        "that already holds another run (its checkpoint and outputs are "
                        "replaced)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (health warnings are still printed, and logged in "
                        "log.txt)")
    return p
