"""Time one GAN training step: npgan, PyTorch (CPU, eager) and two floors; and the main
command's step as a user runs it.

    python benchmarks/train_step.py [--model mlp|dcgan|dcgan-demo] [--batch-sizes 64 256] [--repeats 7]
                                    [--steps 30] [--threads N] [--backend numpy|cupy] [--plain]
                                    [--cli] [--cli-threads auto 1]

All contenders do the same work in float32: a D step on a real and a fake batch, then a G step
with the non-saturating loss through D, with Adam. ``--model mlp`` (default) is the default
MNIST GAN's networks (z 100; G 128-256-512-1024-784 with BatchNorm; D 784-512-256-1; the demo's
InfoGAN code head, D's 10 more outputs, about 0.05 ms a step, is left out, and ``--cli``'s
main command has it); ``--model dcgan``
is the DCGAN paper's layout, ``--model dcgan-demo`` the demo's default DCGAN (see
dcgan_steppers.py). Each is timed as `repeats` runs of `steps`
steps, interleaved so that machine noise hits them alike (each round in a fresh seeded
order); the medians are compared.

- npgan: ``GANTrainer.train_step`` on ``--threads`` threads (default: every core this process
  may use; npgan.threads), with OpenBLAS's thread timeout the demos set (demos/__init__.py).
- pytorch: the identical network and step, on as many threads (``torch.set_num_threads``).
- floor: only the matrix products such a step needs.
- floor+opt: those, plus the one pass of memory traffic an optimizer cannot avoid: read each
  weight's gradient, m, v and value, write m, v and the value (``m += g; v += w; w[:] = 0``,
  on chunks spread over the threads as npgan's optimizer is).
- ``--plain`` also times npgan's plain step (``GANTrainer(fast=False)``).
- ``--cli`` (MNIST MLP) times the main command itself: the wall time of
  ``python -m npgan.demos.mnist --max-steps 1200`` minus that of ``--max-steps 200``, over 1000,
  so that start-up cancels (the 1000 steps include one epoch's end: a grid, a health check, a
  checkpoint), once for each ``--cli-threads`` setting, interleaved with each other.

With --backend cupy, npgan and the floors run on the GPU (data moved there once, before timing)
and PyTorch runs on CUDA, if it can; each timed run ends by waiting for the GPU to finish.
"""

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from types import SimpleNamespace

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")     # as the demos do, before NumPy

import numpy as np  # noqa: E402

from npgan.backend import BACKENDS, BackendError, load_backend, to_device, to_host  # noqa: E402
from npgan.models import GANConfig  # noqa: E402
from npgan.optim import CHUNK  # noqa: E402
from npgan.memory import keep_freed_memory  # noqa: E402
from npgan.threads import available_cores, blas_libraries, parallel_for, set_threads  # noqa: E402
from npgan.train import GANTrainer  # noqa: E402

CFG = GANConfig()


def npgan_stepper(batch, xp, fast=True):
    trainer = GANTrainer(CFG, seed=0, backend=xp, fast=fast)
    real = np.random.default_rng(0).uniform(-1, 1, (batch, CFG.image_dim)).astype(np.float32)
    real = to_device(real, xp)                              # once, outside the timed steps
    return lambda: trainer.train_step(real)


def floor_stepper(batch, xp):
    """Only the matrix products: forward, weight gradients and input gradients that a step
    needs (D sees real and fake as one 2B batch; the G step needs only dL/dx from D)."""
    rng = np.random.default_rng(0)
    g_sizes = (CFG.latent_dim,) + CFG.g_hidden + (CFG.image_dim,)
    d_sizes = (CFG.image_dim,) + CFG.d_hidden + (1,)
    gw = [to_device(rng.standard_normal((a, b)).astype(np.float32), xp)
          for a, b in zip(g_sizes, g_sizes[1:])]
    dw = [to_device(rng.standard_normal((a, b)).astype(np.float32), xp)
          for a, b in zip(d_sizes, d_sizes[1:])]

    def forward(ws, x):
        acts = [x]
        for w in ws:
            acts.append(acts[-1] @ w)
        return acts

    def backward(ws, acts, weight_grads, input_grad):
        d = xp.ones_like(acts[-1])
        for i in reversed(range(len(ws))):
            if weight_grads:
                acts[i].T @ d
            if i > 0 or input_grad:
                d = d @ ws[i].T
        return d

    z = to_device(rng.standard_normal((batch, CFG.latent_dim)).astype(np.float32), xp)
    real = to_device(rng.standard_normal((batch, CFG.image_dim)).astype(np.float32), xp)

    def step():
        g_acts = forward(gw, z)
        d_acts = forward(dw, xp.concatenate([real, g_acts[-1]]))
        backward(dw, d_acts, weight_grads=True, input_grad=False)            # D step
        d_acts = forward(dw, g_acts[-1])
        backward(dw, d_acts, weight_grads=False, input_grad=True)             # G step through D
        backward(gw, g_acts, weight_grads=True, input_grad=False)
    return step


def with_optimizer_pass(step, n_weights, xp, chunk=CHUNK):
    """``step`` followed by the memory traffic one optimizer step cannot avoid on
    ``n_weights`` float32 weights: read g, m, v, w; write m, v, w (module docstring)."""
    g, m, v, w = (xp.ones(n_weights, dtype=np.float32) for _ in range(4))
    chunks = [slice(a, a + chunk) for a in range(0, n_weights, chunk)]

    def one_pass(i):
        m[i] += g[i]
        v[i] += w[i]
        w[i] = 0

    def both():
        step()
        if xp is np:
            parallel_for(one_pass, chunks)
        else:
            one_pass(slice(None))
    return both


def n_weights(model):
    """The number of trainable weights of G and D in ``model``'s npgan stepper's network."""
    trainer = GANTrainer(model.CFG, seed=0)
    return sum(p.data.size for net in (trainer.G, trainer.D) for p in net.parameters())


def torch_stepper(batch, device):
    import torch
    from torch import nn

    torch.manual_seed(0)

    def block(n_in, n_out, normalize):
        layers = [nn.Linear(n_in, n_out, bias=not normalize)]
        if normalize:
            layers.append(nn.BatchNorm1d(n_out, eps=CFG.bn_eps, momentum=CFG.bn_momentum))
        return layers + [nn.LeakyReLU(CFG.slope)]

    g_sizes = (CFG.latent_dim,) + CFG.g_hidden
    g_layers = []
    for i, (a, b) in enumerate(zip(g_sizes, g_sizes[1:])):
        g_layers += block(a, b, i > 0)
    G = nn.Sequential(*g_layers, nn.Linear(g_sizes[-1], CFG.image_dim), nn.Tanh()).to(device)
    d_sizes = (CFG.image_dim,) + CFG.d_hidden
    d_layers = []
    for a, b in zip(d_sizes, d_sizes[1:]):
        d_layers += [nn.Linear(a, b), nn.LeakyReLU(CFG.slope)]
    D = nn.Sequential(*d_layers, nn.Linear(d_sizes[-1], 1)).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, CFG.image_dim, device=device) * 2 - 1
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)

    def step():
        fake = G(torch.randn(batch, CFG.latent_dim, device=device))
        opt_d.zero_grad()
        d_loss = loss(D(real), ones) + loss(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = loss(D(fake), ones)
        g_loss.backward()
        opt_g.step()
    return step


def pytorch_contender(args, model):
    """(make a PyTorch stepper for a batch size, its wait, a note for the first line), or
    (None, None, why it is left out)."""
    if args.only and "pytorch" not in args.only:
        return None, None, "PyTorch not timed (--only)"
    try:
        import torch
    except ImportError:
        return None, None, "PyTorch not installed (pip install 'npgan[bench]'): skipped"
    torch.set_num_threads(args.threads)
    device = "cuda" if args.backend == "cupy" else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        return None, None, f"PyTorch {torch.__version__} has no CUDA here: skipped"
    return (lambda b: model.torch_stepper(b, device),
            torch.cuda.synchronize if device == "cuda" else lambda: None,
            f"PyTorch {torch.__version__} on {device}: {torch.get_num_threads()} threads "
            "(torch.get_num_threads)")


def time_steps(step, steps, wait):
    """Seconds per step; ``wait()`` returns once the device has finished the queued work."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wait()
    return (time.perf_counter() - start) / steps


def cli_seconds(max_steps, threads, folder):
    """Wall time of the main command, as a user runs it, trained for ``max_steps``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cmd = [sys.executable, "-m", "npgan.demos.mnist", "--max-steps", str(max_steps), "--out",
           folder, "--overwrite", "--eval-samples", "0", "--threads", threads]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_cli(settings, repeats, short=200, long=1200):
    """Median ms per step of the main command for each --threads setting, interleaved."""
    per_step = {t: [] for t in settings}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            for t in settings:
                run = os.path.join(folder, t)
                per_step[t].append((cli_seconds(long, t, run) - cli_seconds(short, t, run))
                                   / (long - short))
    return {t: statistics.median(v) for t, v in per_step.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("mlp", "dcgan", "dcgan-demo"), default="mlp",
                   help="the fully connected GAN (default); the DCGAN paper's layout (dcgan); "
                        "or the DCGAN that python -m npgan.demos.mnist --model dcgan trains")
    p.add_argument("--plain", action="store_true",
                   help="also time npgan's plain step (GANTrainer(fast=False))")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256], metavar="B",
                   help="batch sizes to time (default 64 256)")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed runs per contender, median taken (default 7)")
    p.add_argument("--steps", type=int, default=30, help="steps per timed run (default 30)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="where npgan runs: numpy (CPU) or cupy (GPU; PyTorch then uses CUDA)")
    p.add_argument("--threads", type=int, default=available_cores(), metavar="N",
                   help="CPU threads for npgan (BLAS and its optimizer) and PyTorch alike "
                        f"(default: the {available_cores()} cores this process may use)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="time only these contenders (npgan floor floor+opt plain pytorch), e.g. "
                        "--only pytorch to time PyTorch in a process of its own")
    p.add_argument("--cli", action="store_true",
                   help="also time the main command's step (python -m npgan.demos.mnist)")
    p.add_argument("--cli-threads", nargs="+", default=["auto", "1"], metavar="T",
                   help="the main command's --threads settings to time (default auto 1)")
    p.add_argument("--cli-steps", type=int, nargs=2, default=[200, 1200], metavar=("A", "B"),
                   help="time the main command to step A and to step B (default 200 1200)")
    p.add_argument("--cli-repeats", type=int, default=3,
                   help="pairs of main-command runs per setting, median taken (default 3)")
    args = p.parse_args()
    if min(args.batch_sizes) < 2:
        p.error("--batch-sizes must be at least 2 (BatchNorm needs two examples)")
    if args.repeats < 1 or args.steps < 1 or args.threads < 1 or args.cli_repeats < 1:
        p.error("--repeats, --steps, --threads and --cli-repeats must be at least 1")
    if any(t != "auto" and not (t.isdigit() and int(t) > 0) for t in args.cli_threads):
        p.error(f"--cli-threads takes auto or whole numbers >= 1, got {args.cli_threads}")
    if args.cli and (args.model != "mlp" or args.backend != "numpy"):
        p.error("--cli times the main command: --model mlp on numpy")
    if not 1 <= args.cli_steps[0] < args.cli_steps[1]:
        p.error("--cli-steps A B needs 1 <= A < B")
    try:
        xp = load_backend(args.backend)
    except BackendError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    set_threads(args.threads)
    memory_note = keep_freed_memory()       # for every contender: it is one process
    # A device runs asynchronously: copying one number back waits for everything queued.
    wait = lambda: to_host(xp.zeros(1))                     # noqa: E731
    model = sys.modules[__name__]                           # this file's MLP steppers
    if args.model != "mlp":
        import dcgan_steppers                               # benchmarks/dcgan_steppers.py
        cfg = dcgan_steppers.CONFIGS[args.model]
        model = SimpleNamespace(CFG=cfg, **{name: partial(getattr(dcgan_steppers, name), cfg=cfg)
                                            for name in ("npgan_stepper", "floor_stepper",
                                                         "torch_stepper")})
    weights = n_weights(model)
    contenders = {"npgan": lambda b: model.npgan_stepper(b, xp),
                  "floor": lambda b: model.floor_stepper(b, xp),
                  "floor+opt": lambda b: with_optimizer_pass(model.floor_stepper(b, xp),
                                                             weights, xp)}
    waits = dict.fromkeys(contenders, wait)
    if args.plain:
        contenders["plain"] = lambda b: model.npgan_stepper(b, xp, fast=False)
        waits["plain"] = wait
    stepper, wait_torch, torch_note = pytorch_contender(args, model)
    if stepper:
        contenders["pytorch"], waits["pytorch"] = stepper, wait_torch
    if args.only:
        unknown = set(args.only) - set(contenders) - {"pytorch"}
        if unknown:
            p.error(f"--only: no contender {sorted(unknown)}; there are {sorted(contenders)}")
        contenders = {k: v for k, v in contenders.items() if k in args.only}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"({available_cores()} usable), {time.strftime('%Y-%m-%d %H:%M')}; {args.model}, "
          f"{weights:,} weights; npgan on {args.backend}: NumPy {np.__version__}, "
          f"{args.threads} threads ({', '.join(blas_libraries())}; OPENBLAS_THREAD_TIMEOUT "
          f"{os.environ.get('OPENBLAS_THREAD_TIMEOUT')}); {torch_note}; {memory_note}")

    for batch in args.batch_sizes:
        steppers = {name: make(batch) for name, make in contenders.items()}
        for name, step in steppers.items():                # warm up: allocate, fault in pages
            time_steps(step, 5, waits[name])
        times = {name: [] for name in steppers}
        order, shuffle = list(steppers), random.Random(0).shuffle
        for _ in range(args.repeats):
            # each round in a fresh (seeded) order, so that no contender always runs right
            # after the same other one and pays alone for what that one leaves behind (its
            # idle threads, a cache full of its arrays). Until 2026-12-07 npgan always ran
            # right after PyTorch (benchmarks/README.md)
            shuffle(order)
            for name in order:
                times[name].append(time_steps(steppers[name], args.steps, waits[name]))
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"\nbatch {batch}: median of {args.repeats} runs x {args.steps} steps")
        for name, t in med.items():
            print(f"  {name:<10} {1000 * t:7.2f} ms/step  {1 / t:7.1f} steps/s")
        if {"pytorch", "npgan"} <= set(med):
            print(f"  npgan / PyTorch speed: {med['pytorch'] / med['npgan']:.2f}x "
                  "(> 1: npgan is faster)")
        if {"npgan", "floor", "floor+opt"} <= set(med):
            print(f"  npgan time / floor time: {med['npgan'] / med['floor']:.2f}x; "
                  f"/ floor+opt time: {med['npgan'] / med['floor+opt']:.2f}x")
        if {"pytorch", "floor"} <= set(med) and med["floor"] >= med["pytorch"]:
            # PyTorch's CPU kernels are its own (oneDNN, MKL), not NumPy's BLAS: when NumPy's
            # products alone take longer than PyTorch's whole step, no npgan step made of them
            # can be faster, whatever it does around them (benchmarks/README.md)
            print(f"  the floor alone takes {med['floor'] / med['pytorch']:.2f}x PyTorch's "
                  "whole step: on these BLAS kernels npgan cannot reach PyTorch's speed")
        if {"plain", "npgan"} <= set(med):
            print(f"  plain step / fast step time: {med['plain'] / med['npgan']:.2f}x")

    if args.cli:
        cli = time_cli(args.cli_threads, args.cli_repeats, *args.cli_steps)
        torch_ms = 1000 * med["pytorch"] if "pytorch" in med and batch == 64 else None

        a, b = args.cli_steps
        print(f"\nthe main command, python -m npgan.demos.mnist (batch 64): ms per step over "
              f"steps {a}-{b}, median of {args.cli_repeats} interleaved pairs of runs")
        for t, sec in cli.items():
            vs = f"  npgan / PyTorch speed: {torch_ms / (1000 * sec):.2f}x" if torch_ms else ""
            print(f"  --threads {t:<5} {1000 * sec:7.2f} ms/step{vs}")
        if torch_ms is None:
            print("  (the PyTorch ratio needs PyTorch and batch 64 as the last --batch-sizes)")


if __name__ == "__main__":
    main()
