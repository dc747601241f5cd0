"""Demos, installed as ``npgan.demos``: ``python -m npgan.demos.minimal_gan`` (the whole GAN in
one short file), ``python -m npgan.demos.mnist``, ``.fashion_mnist``, ``.images`` (your own
images), ``.toy2d`` and ``.train_classifier``.

One BLAS thread by default (a user's own setting wins), because OpenBLAS threads that
spin-wait for a core collapse when anything else runs: measured on 2 cores with one other busy
process, 2.6 steps/s with two BLAS threads against 28.9 with one. On a quiet machine two
threads are faster (see benchmarks/README.md): run with ``OPENBLAS_NUM_THREADS=2`` when
nothing else needs the cores. This must run before NumPy is
imported, which it does for ``python -m npgan.demos.<name>``.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
