"""benchmarks/train_step.py runs for both models and several batch sizes (no time is
asserted: benchmarks are not tests; this only keeps the script working)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "train_step.py"


@pytest.mark.parametrize("model", ["mlp", "dcgan", "dcgan-demo"])
def test_train_step_benchmark_runs(model):
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", model, "--batch-sizes", "2", "3",
                           "--repeats", "1", "--steps", "1", "--plain"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("npgan time / floor time") == 2
    assert f"; {model}, " in done.stdout and "npgan on numpy" in done.stdout
    assert "plain step / fast step" in done.stdout and "/ floor+opt time" in done.stdout


def test_benchmark_times_the_main_command():
    done = subprocess.run([sys.executable, str(SCRIPT), "--batch-sizes", "64", "--repeats", "1",
                           "--steps", "1", "--cli", "--cli-steps", "2", "4", "--cli-repeats", "1",
                           "--cli-threads", "1", "auto"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "the main command" in done.stdout
    assert "--threads 1 " in done.stdout and "--threads auto " in done.stdout


def test_the_pytorch_twin_is_the_same_network():
    """benchmarks/dcgan_steppers.py builds each timed DCGAN again in PyTorch: the same
    parameter count in G and in D, and the same output shapes (PyTorch is a benchmark
    dependency; skipped without it)."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(SCRIPT.parent))
    import dcgan_steppers
    from npgan.models import build_networks

    for name, cfg in dcgan_steppers.CONFIGS.items():
        twins = dcgan_steppers.torch_networks(cfg)
        for net, ours, theirs in zip("GD", build_networks(cfg, rng=np.random.default_rng(0)), twins):
            count = sum(p.data.size for _, p in ours.named_parameters())
            assert sum(p.numel() for p in theirs.parameters()) == count, (name, net)
        G, D = twins
        assert G(torch.zeros(3, cfg.latent_dim)).shape == (3, 1, 28, 28)
        assert D(G(torch.zeros(3, cfg.latent_dim))).shape == (3, 1)
