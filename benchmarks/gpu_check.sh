#!/usr/bin/env bash
# Every GPU figure issue 17 asks for, in one run:  bash benchmarks/gpu_check.sh [RESULTS_DIR]
#
# For a machine with an NVIDIA GPU, CuPy, PyTorch with CUDA, numpy, matplotlib, tqdm, pytest and
# hypothesis. Needs no network and installs nothing: npgan runs from this checkout. About 5-8
# minutes on an H100/H200-class GPU. Writes into RESULTS_DIR (default gpu_results):
# logs/NN-step.log for each step, the demo runs' outputs under runs/, and summary.txt (each
# step's status and the key figures). Every step runs even if an earlier one failed, except
# that the script stops at once, exit status 1, if npgan does not import from the checkout or
# CuPy cannot run a kernel. Exit status: 0 if every step passed, 1 otherwise.
#
#   1 versions     nvidia-smi, Python, NumPy, CuPy (cupy.show_config()), PyTorch and its CUDA
#   2 imports      npgan and npgan.demos import from this checkout (see "npgan.demos" below)
#   3 cupy         npgan.backend.load_backend("cupy") and a small product checked against NumPy
#   4 tests        pytest tests/test_backend*.py tests/test_gpu.py: on CuPy and on the strict
#                  backend; fails if no test ran on CuPy
#   5-8 demos      300-step MNIST runs on the GPU, GAN and cGAN (--eval-samples 1000), and
#                  npgan.sample grids drawn on the GPU from their checkpoints
#   9-11 resumes   the GPU checkpoint resumed on the CPU (to step 350); a CPU checkpoint
#                  (50 steps) resumed on the GPU (to step 100)
#   12-13 speed    benchmarks/train_step.py --backend cupy --batch-sizes 64 1024 (npgan, the
#                  matrix-product floor and PyTorch on CUDA), and --model dcgan where
#                  train_step.py has --model
#   14 full demo   the default demo's wall time on the GPU (30 epochs, 28,110 steps), last,
#                  under its own time limit (what is left of the 8 minutes, at most 240 s); a
#                  run stopped by the limit reports its step count, so steps/s still comes out
#
# npgan.demos: pyproject.toml maps the top-level demos/ folder to the package npgan.demos at
# install time, so with only PYTHONPATH=. `python -m npgan.demos.mnist` (and the tests, which
# import npgan.demos) fail. The script writes a stand-in package into a temporary folder put
# first on PYTHONPATH: its npgan/__init__.py runs the checkout's npgan/__init__.py with
# __path__ = [<checkout>/npgan, <temporary>/npgan], and <temporary>/npgan/demos is a link to
# <checkout>/demos. So npgan.X is the checkout's npgan/X and npgan.demos is demos/, as installed.
#
# GPU_CHECK_REHEARSAL=1 rehearses the whole script on a CPU: the numpy backend instead of
# cupy, tiny sizes, a 25 s full demo (for testing this script, not for figures).

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${1:-gpu_results}
mkdir -p "$RESULTS/logs" "$RESULTS/runs" || { echo "gpu_check: cannot create $RESULTS" >&2; exit 1; }
RESULTS=$(cd "$RESULTS" && pwd)
LOGS=$RESULTS/logs RUNS=$RESULTS/runs STATUS=$RESULTS/logs/status.txt
: >"$STATUS"
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3

BUDGET=${GPU_CHECK_BUDGET_S:-465}        # the whole script; the full demo gets what is left
FULL_LIMIT=${GPU_CHECK_FULL_DEMO_S:-240}
BACKEND=cupy STEPS=300 RESUMED=350 CPU_STEPS=50 EVAL=1000 BENCH=()
if [ -n "${GPU_CHECK_REHEARSAL:-}" ]; then
    BACKEND=numpy STEPS=20 RESUMED=25 CPU_STEPS=10 EVAL=200 FULL_LIMIT=25
    BENCH=(--repeats 1 --steps 2)
fi

SHIM=$(mktemp -d "${TMPDIR:-/tmp}/npgan-checkout.XXXXXX") || exit 1
trap 'rm -rf "$SHIM"' EXIT
mkdir "$SHIM/npgan" && ln -s "$ROOT/demos" "$SHIM/npgan/demos"
cat >"$SHIM/npgan/__init__.py" <<EOF
# Written by benchmarks/gpu_check.sh: npgan from the checkout $ROOT, with its demos/
# folder as npgan.demos (what pyproject.toml's package-dir does at install time).
import os as _os
__file__ = _os.path.join("$ROOT", "npgan", "__init__.py")
__path__ = [_os.path.dirname(__file__), _os.path.dirname(_os.path.abspath(__spec__.origin))]
del _os
with open(__file__) as _source:
    exec(compile(_source.read(), __file__, "exec"))
del _source
EOF
export PYTHONPATH="$SHIM:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg
# Not in the checkout: `python -c` and `python -m` put the current folder first on sys.path,
# where the checkout's npgan/ would win over the stand-in (and npgan.demos would be missing).
cd "$RESULTS" || exit 1

START=$(date +%s)
N=0
# step NAME LIMIT_S EXPECT CMD...: run CMD (in RESULTS, npgan from the checkout) into
# logs/NN-NAME.log under a time limit (SIGINT first, as Ctrl-C: a demo then says where it
# stopped); passed if it exits 0 and its log matches the regex EXPECT ("" for any log).
step() {
    local name=$1 limit=$2 expect=$3; shift 3
    N=$((N + 1))
    LOG=$(printf '%s/%02d-%s.log' "$LOGS" "$N" "$name")
    echo "== $N $name: $(echo "$*" | tr -s ' \n' ' ' | cut -c1-110)"
    echo "\$ $*" >"$LOG"
    local t0 t1 rc status
    t0=$(date +%s.%N)
    timeout -s INT -k 15 "$limit" "$@" >>"$LOG" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="TIMEOUT after ${limit} s"
    elif [ $rc -ne 0 ]; then status="FAILED (exit $rc)"
    elif [ -n "$expect" ] && ! grep -Eq -- "$expect" "$LOG"; then status="FAILED (no '$expect' in the log)"
    else status=ok
    fi
    RC=$rc STEP_STATUS=$status
    printf '%02d %-22s %-28s %7s s  %s\n' "$N" "$name" "$status" "$SECS" "logs/${LOG##*/}" | tee -a "$STATUS"
}
skip() {   # skip NAME WHY
    N=$((N + 1))
    printf '%02d %-22s %-28s %7s    %s\n' "$N" "$1" "skipped" "-" "$2" | tee -a "$STATUS"
}
log_of() { ls "$LOGS"/[0-9]*-"$1".log 2>/dev/null | head -n1; }

summary() {   # summary [WHY STOPPED]
    local f
    {
        echo "npgan GPU check (issue 17): $(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
             "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')," \
             "backend $BACKEND, $(( $(date +%s) - START )) s in all"
        [ -n "${GPU_CHECK_REHEARSAL:-}" ] && echo "REHEARSAL on the CPU (numpy backend, tiny sizes): no GPU figures"
        [ $# -gt 0 ] && printf '\nSTOPPED EARLY: %s\n' "$1"
        printf '\nsteps (status, seconds, log):\n'
        cat "$STATUS"
        if f=$(log_of versions) && [ -n "$f" ]; then
            printf '\nversions:\n'
            grep -E '^(gpu|python|numpy|cupy|cuda|torch) ' "$f" | sed 's/^/  /'
        fi
        if f=$(log_of tests) && [ -n "$f" ]; then
            printf '\ntests: %s; %s of them on CuPy\n' "$(grep -E '(passed|failed|error)' "$f" | tail -n1 | tr -d '=' | xargs)" \
                "$(grep -Ec '\[cupy[^ ]*\] PASSED' "$f")"
        fi
        [ -n "$(log_of demo-gan)" ] && printf '\ndemos (training time as the demo reports it; scores from --eval-samples):\n'
        for f in demo-gan demo-cgan resume-gpu-on-cpu demo-gan-cpu resume-cpu-on-gpu; do
            f=$(log_of "$f") && [ -n "$f" ] || continue
            printf '  %-28s %s\n' "$(basename "$f" .log)" \
                "$(grep -E '^(done:|interrupted)' "$f" | sed 's/ Samples:.*//' | tail -n1)"
            grep -E '^(classifier score|Frechet distance|label accuracy)' "$f" | sed 's/^/      /'
        done
        for f in "$LOGS"/*bench*.log; do
            [ -f "$f" ] || continue
            printf '\n%s:\n' "$(basename "$f" .log)"
            grep -E 'cores|^batch|ms/step|speed|floor time|error|skipped' "$f" | sed 's/^/  /'
        done
        if f=$(log_of full-demo) && [ -n "$f" ]; then
            printf '\nfull default demo (%s):\n' "$(grep -E '^wall ' "$f" | tail -n1)"
            grep -E '^(npgan: training|done:|interrupted|classifier score|Frechet)' "$f" \
                | sed 's/ Samples:.*//; s/^/  /'
        fi
        printf '\nlogs: %s\n' "$LOGS"
    } >"$RESULTS/summary.txt"
}

stop() {   # stop WHY: the summary, a clear message, exit 1
    summary "$1"
    printf '\ngpu_check: STOPPED: %s\nsummary: %s\n' "$1" "$RESULTS/summary.txt" >&2
    exit 1
}

echo "npgan GPU check: results in $RESULTS"

# -- 1-3: versions, the checkout's npgan, a CuPy kernel ----------------------------------------
VERSIONS_PY='
import platform, sys
print("python", sys.version.split()[0], platform.platform())
import numpy
print("numpy", numpy.__version__)
try:
    import cupy
    print("cupy", cupy.__version__, "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
          "driver", cupy.cuda.runtime.driverGetVersion())
    cupy.show_config()
except Exception as e:
    print("cupy not usable:", repr(e))
try:
    import torch
    ok = torch.cuda.is_available()
    print("torch", torch.__version__, "CUDA", torch.version.cuda, "available", ok,
          torch.cuda.get_device_name(0) if ok else "")
except Exception as e:
    print("torch not usable:", repr(e))
'
step versions 90 "" bash -c '
    if gpus=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
              --format=csv,noheader 2>&1); then echo "$gpus" | sed "s/^/gpu /"; nvidia-smi
    else echo "gpu none: nvidia-smi failed: $gpus"; fi
    "$1" -c "$2"' versions "$PY" "$VERSIONS_PY"

step imports 60 "^npgan from the checkout" "$PY" -c '
import os, sys
import npgan, npgan.train, npgan.demos.common
root = os.path.realpath(sys.argv[1])
for m in (npgan, npgan.train, npgan.demos.common):
    path = os.path.realpath(m.__file__)
    assert path.startswith(root + os.sep), f"{m.__name__} comes from {path}, not {root}"
print("npgan from the checkout:", os.path.dirname(npgan.train.__file__),
      "npgan.demos:", os.path.realpath(os.path.dirname(npgan.demos.common.__file__)))' "$ROOT"
[ "$STEP_STATUS" = ok ] || stop "npgan does not import from the checkout $ROOT (see $LOG)"

step cupy 120 "^backend works" "$PY" -c '
import sys
import numpy as np
from npgan.backend import load_backend, to_device, to_host
xp = load_backend(sys.argv[1])
x = np.random.default_rng(0).standard_normal((256, 300)).astype(np.float32)
d = to_device(x, xp)
got = to_host(xp.tanh(d @ d.T).sum(axis=1))
assert np.allclose(got, np.tanh(x @ x.T).sum(axis=1), rtol=1e-3, atol=1e-3)
name = xp.cuda.runtime.getDeviceProperties(0)["name"] if xp.__name__ == "cupy" else "the CPU"
print("backend works:", xp.__name__, "on", name.decode() if isinstance(name, bytes) else name)' "$BACKEND"
[ "$STEP_STATUS" = ok ] || stop "CuPy cannot run on a GPU here: $(grep -E 'Error|error' "$LOG" | tail -n1). This script needs an NVIDIA GPU (nvidia-smi lists it), a driver that supports CuPy's CUDA version, and CuPy (e.g. cupy-cuda12x or cupy-cuda13x); see $LOG"

# -- 4: the backend tests, on CuPy ---------------------------------------------------------------
# On the GPU, at least one test must have run (and passed) on CuPy, not only on strict.
ON_CUPY='\[cupy[^ ]*\] PASSED'
[ "$BACKEND" = cupy ] || ON_CUPY=" passed"
step tests 240 "$ON_CUPY" "$PY" -m pytest -v -rs -p no:cacheprovider "$ROOT/tests/test_backend.py" \
    "$ROOT/tests/test_backend_training.py" "$ROOT/tests/test_gpu.py"

# -- 5-11: demo runs on the GPU, sampling, checkpoints across backends ---------------------------
DEMO=("$PY" -m npgan.demos.mnist --quiet)
step demo-gan 150 "^done: $STEPS steps" "${DEMO[@]}" --backend "$BACKEND" --max-steps "$STEPS" \
    --eval-samples "$EVAL" --out "$RUNS/gan_gpu" --overwrite
step demo-cgan 150 "^done: $STEPS steps" "${DEMO[@]}" --conditional --backend "$BACKEND" \
    --max-steps "$STEPS" --eval-samples "$EVAL" --out "$RUNS/cgan_gpu" --overwrite
step sample-gan 60 "" "$PY" -m npgan.sample "$RUNS/gan_gpu/checkpoint.npz" \
    --backend "$BACKEND" -n 64 -o "$RUNS/gan_gpu/grid.png"
step sample-cgan 60 "" "$PY" -m npgan.sample "$RUNS/cgan_gpu/checkpoint.npz" \
    --backend "$BACKEND" -n 64 -o "$RUNS/cgan_gpu/grid.png"
step resume-gpu-on-cpu 120 "^done: $RESUMED steps" "${DEMO[@]}" \
    --resume "$RUNS/gan_gpu/checkpoint.npz" --backend numpy --max-steps "$RESUMED" \
    --eval-samples "$EVAL" --out "$RUNS/gan_gpu_resumed_on_cpu"
step demo-gan-cpu 120 "^done: $CPU_STEPS steps" "${DEMO[@]}" --backend numpy \
    --max-steps "$CPU_STEPS" --eval-samples 0 --out "$RUNS/gan_cpu" --overwrite
step resume-cpu-on-gpu 120 "^done: $((2 * CPU_STEPS)) steps" "${DEMO[@]}" \
    --resume "$RUNS/gan_cpu/checkpoint.npz" --backend "$BACKEND" \
    --max-steps "$((2 * CPU_STEPS))" --eval-samples 0 --out "$RUNS/gan_cpu_resumed_on_gpu"

# -- 12-13: one training step against PyTorch on CUDA --------------------------------------------
step bench-mlp 180 "ms/step" "$PY" "$ROOT/benchmarks/train_step.py" --backend "$BACKEND" \
    --batch-sizes 64 1024 "${BENCH[@]}"
if "$PY" "$ROOT/benchmarks/train_step.py" --help 2>/dev/null | grep -q -- '--model'; then
    step bench-dcgan 180 "ms/step" "$PY" "$ROOT/benchmarks/train_step.py" --backend "$BACKEND" \
        --model dcgan --batch-sizes 64 1024 "${BENCH[@]}"
else
    skip bench-dcgan "benchmarks/train_step.py has no --model option (no DCGAN benchmark yet)"
fi

# -- 14: the default demo's wall time, last, in what is left of the budget -----------------------
LEFT=$((BUDGET - ($(date +%s) - START)))
[ "$LEFT" -lt "$FULL_LIMIT" ] && FULL_LIMIT=$LEFT
if [ "$FULL_LIMIT" -lt 20 ]; then
    skip full-demo "under 20 s left of the ${BUDGET} s budget"
else
    step full-demo "$FULL_LIMIT" "" "${DEMO[@]}" --backend "$BACKEND" --eval-samples 10000 \
        --out "$RUNS/full_gpu" --overwrite
    echo "wall $SECS s (limit $FULL_LIMIT s, exit $RC)" >>"$LOG"
    if [ "$RC" -eq 124 ]; then     # stopped by the limit, as planned: steps/s from its last step
        sed -i "\$ s/TIMEOUT after $FULL_LIMIT s/stopped at the limit/" "$STATUS"
        grep -E '^interrupted at step' "$LOG" | tail -n1 | awk -v s="$SECS" \
            '{ n = $4 + 0; if (n > 0) printf "   stopped at step %d after %s s: about %.0f steps/s, so the 28,110 steps would take about %.0f s\n", n, s, n / s, 28110 * s / n }' \
            | tee -a "$LOG" "$STATUS"
    fi
fi

summary
echo "summary: $RESULTS/summary.txt"
[ "$(grep -Ec '^[0-9]+ +[^ ]+ +(FAILED|TIMEOUT)' "$STATUS")" -eq 0 ]
