"""The README's pictures, made again: ``python -m npgan.demos.gallery``.

Runs each command below as written (adding only ``--out``, ``--quiet`` and ``--overwrite``), two at a
time on a machine with two cores or more, then copies the pictures the README shows into
``--out`` (default ``demos/gallery/``, run from the repository root). About 23 minutes on 2
CPU cores (22 min 34 s on 2026-12-02; the DCGAN took 14 of them, beside the others); since
2026-12-08 the DCGAN trains 14 epochs instead of 10, so expect some minutes more (not
measured again as a whole).
Every picture is a file the command itself wrote; nothing is retouched.

    python -m npgan.demos.mnist                   samples.png, losses.png, health.png, progress.gif
    python -m npgan.demos.mnist --conditional     samples.png
    python -m npgan.demos.fashion_mnist           samples.png
    python -m npgan.demos.mnist --model dcgan     samples.png
    python -m npgan.demos.mnist --info 0 --lr 0.01 --epochs 2 --eval-samples 0
                                                  losses.png, samples.png of a run that fails
    python -m npgan.demos.toy2d --dataset ring    toy2d_ring.png
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from npgan.data import DataError, load_fashion_mnist
from npgan.threads import available_cores

# (name, the command's module and flags, [(file the command writes, name in the gallery)])
COMMANDS = [
    ("mnist_dcgan", ["npgan.demos.mnist", "--model", "dcgan"],        # the longest: first
     [("samples.png", "mnist_dcgan_samples.png")]),
    ("mnist", ["npgan.demos.mnist"],
     [("samples.png", "mnist_samples.png"), ("losses.png", "mnist_losses.png"),
      ("health.png", "mnist_health.png"), ("progress.gif", "mnist_progress.gif")]),
    ("mnist_conditional", ["npgan.demos.mnist", "--conditional"],
     [("samples.png", "mnist_conditional_samples.png")]),
    ("fashion_mnist", ["npgan.demos.fashion_mnist"],
     [("samples.png", "fashion_mnist_samples.png")]),
    ("mnist_lr_0.01", ["npgan.demos.mnist", "--info", "0", "--lr", "0.01", "--epochs", "2",
                       "--eval-samples", "0"],
     [("losses.png", "failing_losses.png"), ("samples.png", "failing_samples.png")]),
    ("toy2d", ["npgan.demos.toy2d", "--dataset", "ring"],
     [("toy2d_ring.png", "toy2d_ring.png")]),
]


def command_line(args, folder):
    """The subprocess's argv: the command, its own output folder, no progress bar."""
    extra = ["--quiet"] + ([] if args[0].endswith("toy2d") else ["--overwrite"])
    return [sys.executable, "-m", *args, "--out", folder, *extra]


def run_one(name, args, runs):
    """Run one command into runs/name; returns (name, seconds, exit code, log path)."""
    folder = os.path.join(runs, name)
    os.makedirs(folder, exist_ok=True)
    log = os.path.join(runs, name + ".log")
    start = time.perf_counter()
    with open(log, "w") as f:
        code = subprocess.run(command_line(args, folder), stdout=f, stderr=subprocess.STDOUT).returncode
    return name, time.perf_counter() - start, code, log


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m npgan.demos.gallery",
                                description=__doc__.split("\n")[0].replace("``", ""),
                                epilog="\n".join(__doc__.split("\n")[2:]).replace("``", ""),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("demos", "gallery"),
                   help="where the pictures go (default demos/gallery)")
    p.add_argument("--runs", default=os.path.join("runs", "gallery"),
                   help="where the runs write their folders and logs (default runs/gallery)")
    p.add_argument("--jobs", type=int, default=min(2, available_cores()),
                   help="commands run at once (default 2, or 1 on one core)")
    p.add_argument("--only", choices=[c[0] for c in COMMANDS], nargs="+",
                   help="remake only these pictures")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be at least 1, got {args.jobs}")
    chosen = [c for c in COMMANDS if not args.only or c[0] in args.only]
    if any(c[1][0] == "npgan.demos.fashion_mnist" for c in chosen):
        try:                                    # not bundled: say so now, not minutes in
            load_fashion_mnist("test")
        except (DataError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda c: run_one(c[0], c[1], args.runs), chosen))
    failed = []
    for (name, cmd, files), (_, seconds, code, log) in zip(chosen, done):
        print(f"{'python -m ' + ' '.join(cmd):48s} exit {code}, {seconds:.0f} s (log: {log})")
        if code != 0:
            failed.append(name)
            continue
        for source, target in files:
            try:
                shutil.copyfile(os.path.join(args.runs, name, source), os.path.join(args.out, target))
            except OSError as e:
                print(f"error: {name}: {e}", file=sys.stderr)
                failed.append(name)
                break
            print(f"    {os.path.join(args.out, target)}")
    if failed:
        print(f"error: {', '.join(failed)} failed; see the logs above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
