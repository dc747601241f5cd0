"""Demos, installed as ``npgan.demos``: ``python -m npgan.demos.minimal_gan`` (the whole GAN in
one short file), ``python -m npgan.demos.mnist``, ``.fashion_mnist``, ``.images`` (your own
images), ``.toy2d`` and ``.train_classifier``.

Threads are chosen at run time by ``--threads`` (npgan/threads.py). One setting must come
before NumPy is imported, which this does for ``python -m npgan.demos.<name>``: OpenBLAS's idle
threads spin for about 2^28 cycles (~0.1 s) after each matrix product before they sleep, and
hold a core that the optimizer's passes could use. 2^20 cycles (~0.4 ms) keeps them awake
between the products of one pass and lets them sleep during the optimizer: measured on 2
cores, default MNIST GAN, batch 64, 10.1 ms a step before, 9.4 ms after (with the optimizer
on both threads; benchmarks/README.md). A user's own setting wins.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
