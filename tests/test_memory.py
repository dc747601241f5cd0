"""npgan.memory: keeping freed memory changes where arrays live, never what is computed.

Each case runs in a fresh Python, because malloc's settings are the whole process's and
cannot be undone."""

import ctypes
import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.system() != "Linux"
                           or not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"),
                           reason="keep_freed_memory only changes glibc's malloc")

TRAIN = """
import hashlib, sys
import numpy as np
if sys.argv[1] == "keep":
    from npgan.memory import keep_freed_memory
    print(keep_freed_memory())
from npgan.models import DCGANConfig
from npgan.train import GANTrainer
t = GANTrainer(DCGANConfig(), seed=0, ema=0.999)
real = np.random.default_rng(0).uniform(-1, 1, (64, 784)).astype(np.float32)
for _ in range(3):
    t.train_step(real)
h = hashlib.sha256()
for p in t.G.parameters() + t.D.parameters() + t.G_ema.parameters():
    h.update(p.data.tobytes())
print(h.hexdigest())
"""

# Minor page faults while a 16 MB array is made a second time, after the first was freed:
# fresh pages from the kernel fault at least once per page, 4 KB or (with transparent huge
# pages) 2 MB, so at least 8 times; pages kept in the process do not fault again.
FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from npgan.memory import keep_freed_memory
    keep_freed_memory()
a = np.ones(1 << 22, dtype=np.float32)
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(1 << 22, dtype=np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def python(code, *args, env=None):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env={**clean, **(env or {})}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")[:-1]


@glibc
def test_training_is_bit_identical_with_and_without_kept_memory():
    note, kept = python(TRAIN, "keep")
    (plain,) = python(TRAIN, "plain")
    assert "kept for reuse" in note
    assert kept == plain


@glibc
def test_a_freed_array_is_reused_instead_of_faulted_in_again():
    plain = int(python(FAULTS, "plain")[0])
    kept = int(python(FAULTS, "keep")[0])
    assert plain >= 8                   # glibc's default: fresh pages (506 measured here)
    assert kept <= 2                    # the same pages again (0 measured here)


@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "1000000"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"}])
def test_settings_in_the_environment_win(env):
    code = "from npgan.memory import keep_freed_memory as k; print(k()); print(k())"
    first, again = python(code, env=env)
    assert first == again == "memory: malloc settings from the environment"
