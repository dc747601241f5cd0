"""``python -m npgan.gradcheck``: every listed check passes, a broken backward is reported
as FAIL with a non-zero exit, and a learner's own layer is checked gradient by gradient."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from npgan.gradcheck_cases import SEED, all_cases
from npgan.gradcheck_cli import main
from npgan.nn import Tanh

pytestmark = pytest.mark.gradcheck
CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[name for _, name, _ in CASES])
def test_every_listed_check_passes(case):
    _, name, fn = case
    errors = fn(np.random.default_rng(SEED))
    assert errors and max(errors.values()) < 1e-6, (name, errors)


def test_the_list_covers_every_layer_loss_and_model():
    names = " ".join(name for _, name, _ in CASES)
    for expected in ("Linear", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "BatchNorm1d (train)",
                     "BatchNorm1d (eval)", "staged", "BatchNorm2d (train)", "Dropout", "Embedding",
                     "Sequential", "bce_with_logits", "mode_seeking", "GAN: D loss", "cGAN: D loss"):
        assert expected in names, expected


def test_command_prints_one_passing_line_per_check(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    results = [line for line in out.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(results) == len(CASES) and all(line.startswith("PASS") for line in results)
    assert "all checks passed" in out


def test_a_broken_backward_fails_the_command(capsys, monkeypatch):
    monkeypatch.setattr(Tanh, "backward", lambda self, dout: dout * (1 - self.pop_cache()))
    assert main([]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[-1]: line.split()[0] for line in out.splitlines() if line[:4] in ("PASS", "FAIL")}
    assert lines["Tanh"] == "FAIL" and lines["Linear"] == "PASS" and lines["ReLU"] == "PASS"
    assert "failed: Tanh, Sequential" in out             # and what uses Tanh fails too


def test_python_dash_m_runs_it():
    done = subprocess.run([sys.executable, "-m", "npgan.gradcheck"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "all checks passed" in done.stdout


LAYERS = textwrap.dedent('''
    import numpy as np
    from npgan.nn import Module, Parameter

    class Scale(Module):                     # float32 weights: the checker makes them float64
        def __init__(self, wrong=False):
            super().__init__()
            self.w = Parameter(np.linspace(0.5, 2, 5).astype(np.float32))
            self.wrong = wrong

        def forward(self, x):
            self.cache = x
            return x * self.w.data

        def backward(self, dout):
            x = self.pop_cache()
            self.w.grad += (dout * x).sum(0) * (1.01 if self.wrong else 1)
            return dout * self.w.data

    class WrongScale(Scale):
        def __init__(self):
            super().__init__(wrong=True)

    class NeedsArgs(Scale):
        def __init__(self, n):
            super().__init__()
''')


@pytest.fixture
def learner_dir(tmp_path, monkeypatch):
    name = f"learner_{tmp_path.name.replace('-', '_')}"     # unique: no stale import
    (tmp_path / f"{name}.py").write_text(LAYERS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return name


def test_a_correct_learner_layer_passes(learner_dir, capsys):
    assert main([f"{learner_dir}:Scale", "--input-shape", "8,5"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 2 and "dL/dw" in out and "dL/dx" in out


def test_a_wrong_learner_layer_names_the_wrong_gradient(learner_dir, capsys):
    assert main([f"{learner_dir}:WrongScale", "--input-shape", "8,5"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "wrong: w." in out
    assert "w: backward ~ 1.01 x finite differences" in out       # the clue: a factor of 1.01
    assert "PASS" in out.split("FAIL")[0]                      # dL/dx is still right


@pytest.mark.parametrize("spec, message", [
    ("{m}:NeedsArgs", "constructible without arguments"),
    ("{m}:Nope", "has no 'Nope'"),
    ("{m}:np", "not a subclass of npgan.nn.Module"),
    ("no_such_module_here:X", "cannot import"),
    ("{m}", "module:Class"),
])
def test_a_learner_layer_that_cannot_be_checked_says_why(learner_dir, capsys, spec, message):
    assert main([spec.format(m=learner_dir), "--input-shape", "8,5"]) == 2
    assert message in capsys.readouterr().err


def test_a_layer_needs_an_input_shape(learner_dir, capsys):
    with pytest.raises(SystemExit) as stop:
        main([f"{learner_dir}:Scale"])
    assert stop.value.code == 2 and "--input-shape" in capsys.readouterr().err
