"""Time one GAN training step: npgan, PyTorch (CPU, eager) and the matrix-product floor.

    python benchmarks/train_step.py [--model mlp|dcgan] [--batch-sizes 64 256] [--repeats 7]
                                    [--steps 30] [--backend numpy|cupy] [--plain]

All three do the same work in float32: a D step on a real and a fake batch, then a G step with
the non-saturating loss through D, with Adam. ``--model mlp`` (default) is the default MNIST
GAN (z 100; G 128-256-512-1024-784 with BatchNorm; D 784-512-256-1); ``--model dcgan`` is the
default DCGAN (see dcgan_steppers.py). Each is timed as `repeats` runs of `steps` steps,
interleaved so that machine noise hits them alike; the medians are compared. The floor runs
only the matrix products such a step needs and nothing else. ``--plain`` also times npgan's
plain step (``GANTrainer(fast=False)``: the textbook step and the optimizers' plain rules).

With --backend cupy, npgan and the floor run on the GPU (data moved there once, before timing)
and PyTorch runs on CUDA, if it can; each timed run ends by waiting for the GPU to finish.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

from npgan.backend import BACKENDS, BackendError, load_backend, to_device, to_host
from npgan.models import GANConfig
from npgan.train import GANTrainer

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


def time_steps(step, steps, wait):
    """Seconds per step; ``wait()`` returns once the device has finished the queued work."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wait()
    return (time.perf_counter() - start) / steps


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("mlp", "dcgan"), default="mlp",
                   help="the fully connected GAN (default) or the DCGAN")
    p.add_argument("--plain", action="store_true",
                   help="also time npgan's plain step (GANTrainer(fast=False))")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256], metavar="B",
                   help="batch sizes to time (default 64 256)")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed runs per contender, median taken (default 7)")
    p.add_argument("--steps", type=int, default=30, help="steps per timed run (default 30)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="where npgan runs: numpy (CPU) or cupy (GPU; PyTorch then uses CUDA)")
    p.add_argument("--torch-threads", type=int, default=None, metavar="N",
                   help="PyTorch's CPU threads (default: its own choice, one per core); "
                        "NumPy's BLAS threads are set by OPENBLAS_NUM_THREADS before the run")
    args = p.parse_args()
    if min(args.batch_sizes) < 2:
        p.error("--batch-sizes must be at least 2 (BatchNorm needs two examples)")
    if args.repeats < 1 or args.steps < 1:
        p.error("--repeats and --steps must be at least 1")
    try:
        xp = load_backend(args.backend)
    except BackendError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    # A device runs asynchronously: copying one number back waits for everything queued.
    waits = {"npgan": lambda: to_host(xp.zeros(1)), "floor": lambda: to_host(xp.zeros(1))}
    model = sys.modules[__name__]                           # this file's MLP steppers
    if args.model == "dcgan":
        import dcgan_steppers as model                      # benchmarks/dcgan_steppers.py
    contenders = {"npgan": lambda b: model.npgan_stepper(b, xp),
                  "floor": lambda b: model.floor_stepper(b, xp)}
    if args.plain:
        contenders["plain"] = lambda b: model.npgan_stepper(b, xp, fast=False)
        waits["plain"] = waits["npgan"]
    try:
        import torch
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        device = "cuda" if args.backend == "cupy" else "cpu"
        if device == "cpu" or torch.cuda.is_available():
            contenders["pytorch"] = lambda b: model.torch_stepper(b, device)
            waits["pytorch"] = torch.cuda.synchronize if device == "cuda" else lambda: None
            torch_note = (f"PyTorch {torch.__version__} on {device}, "
                          f"{torch.get_num_threads()} threads")
        else:
            torch_note = f"PyTorch {torch.__version__} has no CUDA here: skipped"
    except ImportError:
        torch_note = "PyTorch not installed (pip install 'npgan[bench]'): skipped"
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "unset: one per core")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"NumPy {np.__version__} (OPENBLAS_NUM_THREADS {blas}), {args.model}, npgan on "
          f"{args.backend}; "
          f"{torch_note}")

    for batch in args.batch_sizes:
        steppers = {name: make(batch) for name, make in contenders.items()}
        for name, step in steppers.items():                # warm up: allocate, fault in pages
            time_steps(step, 5, waits[name])
        times = {name: [] for name in steppers}
        for _ in range(args.repeats):
            for name, step in steppers.items():
                times[name].append(time_steps(step, args.steps, waits[name]))
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"\nbatch {batch}: median of {args.repeats} runs x {args.steps} steps")
        for name, t in med.items():
            print(f"  {name:<8} {1000 * t:7.2f} ms/step  {1 / t:7.1f} steps/s")
        if "pytorch" in med:
            print(f"  npgan / PyTorch speed: {med['pytorch'] / med['npgan']:.2f}x "
                  "(> 1: npgan is faster)")
        print(f"  npgan time / floor time: {med['npgan'] / med['floor']:.2f}x")
        if "plain" in med:
            print(f"  plain step / fast step time: {med['plain'] / med['npgan']:.2f}x")


if __name__ == "__main__":
    main()
