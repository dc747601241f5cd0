"""The 2-D mode-coverage benchmark: ``python -m npgan.demos.toy2d --dataset ring|grid``.

Trains a plain GAN (npgan's GANTrainer: fully connected G with BatchNorm, D without, the
non-saturating loss, Adam) on a ring of 8 or a grid of 25 tight Gaussians (npgan/toy2d.py),
once per seed, then draws 2,500 samples and counts, as VEEGAN and PacGAN do, the modes
captured and the share of high-quality samples (within 3 standard deviations of a mode).
Prints one line per seed and the averages, with each seed's spread (how far its high-quality
samples lie from their modes, which the protocol does not check; npgan.toy2d.mode_spread);
writes a scatter plot of each seed's samples over
the modes (toy2d_DATASET.png) and the numbers (toy2d_DATASET.json) into --out.

On the grid, z is drawn from a mixture of 100 small Gaussians (a one-hot code of one of 100
components joined to 0.1 * N(0, I) in 2 dimensions; npgan/latent.py explains why), not from one
N(0, I): from one connected blob, G strings a third of its samples between the modes.

Every step draws a fresh batch from the mixture, and the learning rate of both optimizers falls
linearly from --lr to 0 over the steps: the modes are found early, at a high rate, and the
samples settle onto them (within 0.03 of the ring's modes) as it falls. G ends in Tanh, so
the data are divided by ``scale`` (1.5 for the ring, 5 for the grid) to lie in [-1, 1], and
samples are multiplied back before they are measured.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from npgan.checkpoint import atomic_write
from npgan.demos.common import threads_for
from npgan.demos.flags import add_threads_flag
from npgan.latent import draw_latent
from npgan.models import GANConfig
from npgan.toy2d import (DATA_SPREAD, N_SAMPLES, TOY_DATASETS, mode_coverage, mode_spread,
                         sample_mixture)
from npgan.train import GANTrainer

SCALE = {"ring": 1.5, "grid": 5.0}
# The defaults of each dataset (every flag can override them). A plain GAN; what mattered in
# tuning: a 4-layer G (sharper boundaries between modes, so fewer samples strung between
# them), on the ring lr 1e-3 rather than 2e-3 (no dropped modes), on the grid a mixture latent
# (README, "The 2-D mode-coverage benchmark", has what each choice measured), and enough steps at a
# falling lr.
PRESETS = {
    "ring": {"steps": 12000, "batch_size": 256, "lr": 1e-3, "latent_dim": 16,
             "latent_components": 0, "latent_std": 1.0,
             "g_hidden": (128, 128, 128, 128), "d_hidden": (128, 128)},
    "grid": {"steps": 12000, "batch_size": 256, "lr": 2e-3, "latent_dim": 102,
             "latent_components": 100, "latent_std": 0.1,
             "g_hidden": (128, 128, 128, 128), "d_hidden": (128, 128)},
}


def train_one(dataset, seed, *, steps, batch_size, lr, latent_dim, latent_components,
              latent_std, g_hidden, d_hidden, quiet=True):
    """Train one GAN on ``dataset``; return its N_SAMPLES samples (N, 2) in data coordinates."""
    modes, std = TOY_DATASETS[dataset]
    scale = SCALE[dataset]
    cfg = GANConfig(latent_dim=latent_dim, latent_components=latent_components,
                    latent_std=latent_std, g_hidden=g_hidden, d_hidden=d_hidden, image_dim=2)
    trainer = GANTrainer(cfg, lr=lr, betas=(0.5, 0.999), seed=seed)
    data_rng = np.random.default_rng([seed, 3])
    for step in tqdm(range(steps), disable=quiet, desc=f"{dataset}, seed {seed}", unit="step",
                     mininterval=0.5, leave=False):
        trainer.opt_g.lr = trainer.opt_d.lr = lr * (1 - step / steps)     # linear decay to 0
        real = (sample_mixture(modes, std, batch_size, data_rng) / scale).astype(np.float32)
        stats = trainer.train_step(real)
        if not all(np.isfinite(v) for v in stats.values()):
            raise FloatingPointError(f"training diverged at step {trainer.step}: {stats}")
    z = draw_latent(cfg, np.random.default_rng([seed, 4]), N_SAMPLES)
    return trainer.sample(z.astype(np.float32)).astype(np.float64) * scale


def save_scatter(path, dataset, runs):
    """One panel per seed: samples as small dots over the modes (red circles). runs: list of dicts."""
    modes, _ = TOY_DATASETS[dataset]
    lim = np.abs(modes).max() * 1.25
    fig = Figure(figsize=(3.2 * len(runs), 3.4), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(runs)))
    for ax, run in zip(axes, runs):
        s = run["samples"]
        ax.scatter(modes[:, 0], modes[:, 1], s=60, facecolors="none", edgecolors="C3", linewidths=1)
        ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.3, color="C0", linewidths=0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"seed {run['seed']}: {run['modes']}/{len(modes)} modes, "
                     f"{100 * run['hq']:.1f}% HQ", fontsize=9)
        ax.tick_params(labelsize=7)
    return atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.demos.toy2d",
                                description=__doc__.split("\n")[0].replace("``", ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(TOY_DATASETS), default="ring", help="default ring")
    p.add_argument("--seeds", type=int, default=3, help="train this many GANs, seeds 0..N-1 (default 3)")
    p.add_argument("--steps", type=int, help="training steps per seed")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="Adam's starting lr for G and D, falling linearly to 0")
    p.add_argument("--latent-dim", type=int, help="the width of z")
    p.add_argument("--latent-components", type=int, metavar="K",
                   help="draw z from a mixture of K Gaussians: its first K entries a one-hot "
                        "code, the others Gaussian (npgan/latent.py); 0: z ~ N(0, I)")
    p.add_argument("--latent-std", type=float, help="the std of z's Gaussian entries")
    p.add_argument("--g-hidden", type=int, nargs="+", metavar="WIDTH", help="G's hidden layers")
    p.add_argument("--d-hidden", type=int, nargs="+", metavar="WIDTH", help="D's hidden layers")
    p.add_argument("--out", default=os.path.join("runs", "toy2d"), help="output folder (default runs/toy2d)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_threads_flag(p, tuned=False)
    p.epilog = "defaults of the other flags, per dataset:\n" + "\n".join(
        f"  {name}: " + ", ".join(f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, tuple) else v}"
                                  for k, v in preset.items()) for name, preset in PRESETS.items())
    args = p.parse_args(argv)
    _, threads_note = threads_for(args.threads, "numpy", tuned=False)
    if not args.quiet:
        print(threads_note)
    settings = {k: v if getattr(args, k) is None else getattr(args, k)
                for k, v in PRESETS[args.dataset].items()}
    settings["g_hidden"], settings["d_hidden"] = tuple(settings["g_hidden"]), tuple(settings["d_hidden"])
    if min(args.seeds, settings["steps"], settings["latent_dim"], *settings["g_hidden"],
           *settings["d_hidden"]) < 1 or not settings["lr"] > 0:
        p.error("--seeds, --steps, --latent-dim and layer widths must be >= 1, --lr > 0")
    if not 0 <= settings["latent_components"] <= settings["latent_dim"]:
        given = ("" if args.latent_components is not None else
                 f" (the {args.dataset} default; --latent-components 0 draws z ~ N(0, I))")
        p.error(f"--latent-components must be between 0 and the latent width "
                f"{settings['latent_dim']} (--latent-dim), got "
                f"{settings['latent_components']}{given}")
    if not (math.isfinite(settings["latent_std"]) and settings["latent_std"] > 0):
        p.error(f"--latent-std must be a finite number > 0, got {settings['latent_std']}")
    if settings["batch_size"] < 2:
        p.error("--batch-size must be at least 2 (G has BatchNorm)")
    modes, std = TOY_DATASETS[args.dataset]
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create {args.out}: {e.strerror}", file=sys.stderr)
        return 2

    runs, start = [], time.perf_counter()
    for seed in range(args.seeds):
        try:
            samples = train_one(args.dataset, seed, quiet=args.quiet, **settings)
        except FloatingPointError as e:
            print(f"error: seed {seed}: {e}", file=sys.stderr)
            return 1
        captured, hq = mode_coverage(samples, modes, std)
        spread = mode_spread(samples, modes, std) / std                # in units of std
        runs.append({"seed": seed, "modes": captured, "hq": hq, "spread": spread,
                     "samples": samples})
        print(f"{args.dataset} seed {seed}: {captured}/{len(modes)} modes captured, "
              f"{100 * hq:.1f}% high-quality samples, spread {spread:.2f} std "
              f"(the data's: {DATA_SPREAD})", flush=True)
    seconds = time.perf_counter() - start

    mean_modes = float(np.mean([r["modes"] for r in runs]))
    mean_hq = float(np.mean([r["hq"] for r in runs]))
    print(f"{args.dataset}, mean of {args.seeds} seeds: {mean_modes:.2f}/{len(modes)} modes, "
          f"{100 * mean_hq:.1f}% high-quality ({N_SAMPLES} samples each; {seconds:.0f} s)")
    plot = save_scatter(os.path.join(args.out, f"toy2d_{args.dataset}.png"), args.dataset, runs)
    result = {"dataset": args.dataset, "modes_total": len(modes), "std": std,
              "samples": N_SAMPLES, "seeds": args.seeds, "mean_modes": mean_modes,
              "mean_hq": mean_hq, "seconds": round(seconds, 1),
              "per_seed": [{k: r[k] for k in ("seed", "modes", "hq", "spread")} for r in runs],
              "spread_unit": "std", "data_spread": DATA_SPREAD,
              "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}}
    data = (json.dumps(result, indent=2) + "\n").encode()
    json_path = os.path.join(args.out, f"toy2d_{args.dataset}.json")
    atomic_write(json_path, lambda f: f.write(data))
    print(f"wrote {plot} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
