"""How many threads npgan computes on, and the element-wise passes spread over them.

A training step does two kinds of work. Matrix products go to NumPy's BLAS library
(OpenBLAS), which is multithreaded inside. Element-wise passes (the optimizer's dozen passes
over every weight, 3.3 of the default GAN's 10 ms step on 2 cores) run on the calling thread.

- ``set_threads(n)`` sets both: BLAS through threadpoolctl (at run time, so nothing must be set
  in the environment before NumPy is imported), and the number of threads ``parallel_for``
  uses.
- ``parallel_for(fn, items)`` is, plainly, ``for item in items: fn(item)``. With more than one
  thread (fast beside), the items are handed out one at a time to the calling thread and to
  n - 1 pool threads, so a thread slowed by another program does fewer of them. NumPy
  releases the GIL inside its loops, so the passes really run at once. Each item must touch
  only its own slice of the arrays; then the result is bit-for-bit the plain loop's, whatever
  the thread count (tests/test_threads.py). A parallel_for inside another runs its items on
  the thread that called it (the pool is busy with the outer one).
- ``ThreadTuner`` is ``--threads auto``: it chooses the count from measured step times.

Measured (default MNIST GAN, batch 64, 2 cores, quiet; benchmarks/README.md has the runs):
the optimizer's chunks on two threads took a 10.1 ms step to 9.4 ms, but only with OpenBLAS's
idle threads sleeping after about 0.4 ms (``OPENBLAS_THREAD_TIMEOUT=20``, set by the demos):
by default they spin for ~0.1 s after each product and hold the second core, and the same
change made the step slower (10.3 ms).
"""

import os
import statistics
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait

_pool = None                    # a ThreadPoolExecutor of n - 1 threads once set_threads(n > 1)
_threads = 1
_on_pool = threading.local()    # .yes on a pool thread while it runs a parallel_for's items


def available_cores():
    """The cores this process may run on (its affinity on Linux; all of them elsewhere)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def blas_libraries(counts=True):
    """threadpoolctl's view of the BLAS/OpenMP libraries loaded, e.g.
    ['openblas 0.3.31, SkylakeX kernels: 2 threads'] (without ": 2 threads" when not ``counts``).

    The kernels (OpenBLAS's name for the instruction set its matrix products use) matter to
    every speed figure: on this project's machine on 2026-12-07, the AVX-512 kernels
    (SkylakeX) did the default GAN's products in 3.1-4.2 ms a step against 5.2-6.0 ms for the
    AVX2 ones (Haswell) that ``OPENBLAS_CORETYPE=Haswell`` forces (benchmarks/README.md,
    the floor column). When that variable chose them, the line says so.
    """
    from threadpoolctl import threadpool_info
    forced = os.environ.get("OPENBLAS_CORETYPE")
    lines = []
    for i in threadpool_info():
        kernels = i.get("architecture")
        chosen_by_variable = (forced or "").lower() == (kernels or "").lower()
        if kernels and i["internal_api"] == "openblas" and chosen_by_variable:
            kernels += f" kernels, set by OPENBLAS_CORETYPE={forced}"
        elif kernels:
            kernels += " kernels"
        name = " ".join(filter(None, (i["internal_api"], i.get("version"))))
        lines.append(f"{name}{', ' + kernels if kernels else ''}"
                     + (f": {i['num_threads']} thread{'s' * (i['num_threads'] != 1)}"
                        if counts else ""))
    return lines


def set_threads(n):
    """Compute on ``n`` threads: BLAS's and ``parallel_for``'s. Returns ``n``."""
    global _pool, _threads
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"threads must be a whole number >= 1, got {n!r}")
    from threadpoolctl import threadpool_limits
    threadpool_limits(n)                    # every BLAS / OpenMP library in this process
    if n != _threads:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(n - 1, thread_name_prefix="npgan") if n > 1 else None
        _threads = n
    return n


def get_threads():
    return _threads


def parallel_for(fn, items):
    """Call ``fn(item)`` for every item; on ``get_threads()`` threads (module docstring)."""
    if _pool is None or getattr(_on_pool, "yes", False):
        for item in items:              # (on a pool thread: plainly, never waiting on the pool)
            fn(item)
        return
    # fast beside: one shared iterator; next() on it is atomic under the GIL, so every item
    # is taken exactly once, by whichever thread is free first.
    todo = iter(items)

    def work():
        for item in todo:
            fn(item)

    def helper():                       # a pool thread: a nested parallel_for runs plainly
        _on_pool.yes = True
        try:
            work()
        finally:
            _on_pool.yes = False
    helpers = [_pool.submit(helper) for _ in range(_threads - 1)]
    try:
        work()
    except BaseException:                   # an error or Ctrl-C (which lands on this thread):
        for _ in todo:                      # leave the helpers no item to start...
            pass
        wait(helpers)                       # ...and return only once none is still writing
        raise
    wait(helpers)                           # all done (one may have failed while another
    for h in helpers:                       # was still writing), then
        h.result()                          # re-raise an exception from a helper


class ThreadTuner:
    """``--threads auto``: the thread count that makes this run's steps fastest, now.

    Why: on a quiet machine all cores are fastest (2 cores: 10 ms a step against 14 ms on one),
    but another busy program can make threads that wait for each other at every matrix
    product fall behind one thread, so no fixed count is right everywhere.

    How: ``probe(measure)`` times ``probe_steps`` steps (after ``settle`` to warm up) on each
    candidate count (all cores, one fewer, one) and keeps the fastest by median. ``measure(k)``
    must run k steps of a stand-in, not of the run itself (``npgan.run`` builds a second
    trainer like the run's), so the run's own steps only ever see the chosen count: a quiet
    run's numbers are those of ``--threads N`` for the N it chose. ``step_done(seconds)``
    records each real step; a probe is ``due`` at the start, when the median of the last
    ``window`` steps moves by more than ``drift`` from the probe's median (a neighbour came
    or went), and every ``every`` steps anyway (a one-thread run cannot see a neighbour
    leave). ``switches`` lists (step, threads, why); steps count from ``first_step``, the
    trainer's step when the run started (a resumed run's is not 0).
    """

    def __init__(self, cores, *, settle=3, probe_steps=15, window=100, drift=0.3, every=3000,
                 apply=set_threads):
        self.candidates = sorted({cores, max(1, cores - 1), 1}, reverse=True)
        self.settle, self.probe_steps, self.window = settle, probe_steps, window
        self.drift, self.every, self.apply = drift, every, apply
        self.steps, self.switches = 0, []
        self.first_step = 0                             # set by npgan.run.Run: trainer.step
        self.times = deque(maxlen=window)               # the last ``window`` real steps
        self.current = self.reference = None
        self.due = "start"                              # why the next probe runs, or None

    def step_done(self, seconds):
        """Record one real step's time; set ``due`` when a probe is needed."""
        self.steps += 1
        self.times.append(seconds)
        if self.reference is None:
            return                                      # no probe yet: one is due already
        if len(self.times) < self.window or self.steps % 10:
            return                                      # look every 10 steps
        now = statistics.median(self.times)
        if abs(now / self.reference - 1) > self.drift:
            self.due = (f"step time moved from {1e3 * self.reference:.1f} to "
                        f"{1e3 * now:.1f} ms")
        elif self.steps - self.chosen_at >= self.every:
            self.due = "regular re-check"

    def probe(self, measure):
        """Time each candidate on ``measure`` and keep the fastest. Returns a message when
        the choice changed, else None."""
        medians = {}
        for n in self.candidates:
            self.apply(n)
            medians[n] = statistics.median(measure(self.settle + self.probe_steps)[self.settle:])
        best = min(medians, key=medians.get)
        self.apply(best)
        why, before = self.due, self.current
        self.current, self.reference, self.chosen_at = best, medians[best], self.steps
        self.due = None
        self.times.clear()
        if best == before:
            return None
        step = self.first_step + self.steps
        self.switches.append((step, best, why))
        times = ", ".join(f"{n}: {1e3 * t:.1f} ms" for n, t in medians.items())
        return f"threads: {best} from step {step} ({why}; median step on {times})"


def timed(fn, *args):
    """``fn(*args)`` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start
