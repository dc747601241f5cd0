"""benchmarks/gpu_check.sh, the one script that takes issue 17's GPU figures: it parses, and
on a machine without a GPU it stops at once, with a clear message, a non-zero exit and a
summary.txt. (``GPU_CHECK_REHEARSAL=1 bash benchmarks/gpu_check.sh DIR`` runs every step on
the CPU, in about a minute on 2 cores: too slow for the suite.)"""

import os
import pathlib
import subprocess
import sys

import pytest

from devices import CUPY

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def test_gpu_check_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(CUPY is not None, reason="CuPy and a GPU are available here")
def test_gpu_check_without_a_gpu_stops_early_with_a_summary(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_REHEARSAL"}
    env["PYTHON"] = sys.executable
    result = subprocess.run(["bash", str(SCRIPT), "results"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gpu_check: STOPPED: CuPy cannot run on a GPU here" in result.stderr
    results = tmp_path / "results"
    summary = (results / "summary.txt").read_text()
    assert "STOPPED EARLY: CuPy cannot run on a GPU here" in summary
    assert "cupy-cuda12x or cupy-cuda13x" in summary
    lines = [line.split()[:3] for line in summary.splitlines() if line[:2].isdigit()]
    assert lines == [["01", "versions", "ok"], ["02", "imports", "ok"],
                     ["03", "cupy", "FAILED"]]                 # and nothing after it ran
    logs = sorted(p.name for p in (results / "logs").iterdir())
    assert logs == ["01-versions.log", "02-imports.log", "03-cupy.log", "status.txt"]
    assert "npgan.demos: " + str(SCRIPT.parents[1] / "demos") in (
        results / "logs" / "02-imports.log").read_text()
    assert list((results / "runs").iterdir()) == []
