"""benchmarks/train_step.py runs for both models and several batch sizes (no time is
asserted: benchmarks are not tests; this only keeps the script working)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "train_step.py"


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_train_step_benchmark_runs(model):
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", model, "--batch-sizes", "2", "3",
                           "--repeats", "1", "--steps", "1", "--plain"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("npgan time / floor time") == 2
    assert f", {model}, npgan on numpy" in done.stdout and "plain step / fast step" in done.stdout
