"""npgan.threads: the optimizer on several threads gives the same bits as on one; the tuner
picks the faster count and looks again when step times move; the demos' --threads flag."""

import numpy as np
import pytest

from npgan import threads
from npgan.demos.common import threads_for
from npgan.nn import Parameter
from npgan.optim import CHUNK, SGD, Adam, RMSprop
from npgan.threads import ThreadTuner, parallel_for, set_threads


@pytest.fixture
def two_threads():
    set_threads(2)
    yield
    set_threads(1)                      # the suite's setting (tests/conftest.py)


def trained_weights(opt_class, n_threads):
    """Weights after 3 fast steps of ``opt_class`` on a model larger than 5 chunks."""
    set_threads(n_threads)
    rng = np.random.default_rng(0)
    params = [Parameter(rng.standard_normal(shape).astype(np.float32))
              for shape in ((700, 1000), (5 * CHUNK // 7,), (3,))]
    opt = opt_class(params, lr=1e-3, fast=True)
    for _ in range(3):
        opt.zero_grad()
        for p in params:
            p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
        opt.step()
    return [p.data.copy() for p in params]


@pytest.mark.parametrize("opt_class", [SGD, RMSprop, Adam])
def test_optimizer_on_two_threads_is_bit_identical_to_one(opt_class):
    one = trained_weights(opt_class, 1)
    try:
        two = trained_weights(opt_class, 2)
    finally:
        set_threads(1)
    assert len(one) == len(two)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


def test_parallel_for_calls_every_item_once(two_threads):
    seen = []
    parallel_for(seen.append, range(1000))
    assert sorted(seen) == list(range(1000))


def test_parallel_for_reraises_a_worker_error(two_threads):
    def fail(i):
        if i == 7:
            raise RuntimeError("item 7")
    with pytest.raises(RuntimeError, match="item 7"):
        parallel_for(fail, range(20))


def test_parallel_for_returns_an_error_only_once_no_helper_still_writes(two_threads):
    """An error (or Ctrl-C) on the calling thread: parallel_for raises it only after the
    helpers are done, and they start no further item; otherwise an optimizer's buffers would
    still change after the exception, under a caller that saves a checkpoint."""
    import threading
    import time
    main, done = threading.current_thread(), []

    def fn(i):
        if threading.current_thread() is main:
            time.sleep(0.05)                # let a helper start an item first
            raise KeyboardInterrupt
        time.sleep(0.02)
        done.append(i)
    with pytest.raises(KeyboardInterrupt):
        parallel_for(fn, range(200))
    finished = len(done)
    time.sleep(0.3)
    assert len(done) == finished            # nothing written after the return
    assert finished < 20                    # the helpers took no new item once it failed


def test_a_helpers_error_is_raised_only_once_the_other_helpers_are_done():
    """Three threads: one helper fails while another is inside a slow item. parallel_for
    used to re-raise the first helper's error at once, with the other still writing."""
    import threading
    import time
    set_threads(3)
    try:
        main, writing, failed = threading.current_thread(), [], []

        def fn(i):
            if threading.current_thread() is main:
                time.sleep(0.01)
                return
            with lock:
                fail = not failed
                failed.append(1)
            if fail:
                time.sleep(0.05)
                raise RuntimeError("helper failed")
            writing.append("start")
            time.sleep(0.3)
            writing.append("end")
        lock = threading.Lock()
        with pytest.raises(RuntimeError, match="helper failed"):
            parallel_for(fn, range(8))
        assert writing.count("start") == writing.count("end") >= 1   # none still writing
    finally:
        set_threads(1)


def test_parallel_for_inside_parallel_for_finishes(two_threads):
    """A parallel_for inside another (im2col inside some future threaded layer) runs its
    inner loop plainly on a pool thread instead of waiting on the busy pool for ever."""
    import threading
    seen = []
    outer = threading.Thread(target=parallel_for, daemon=True, args=(
        lambda i: parallel_for(lambda j: seen.append((i, j)), range(5)), range(4)))
    outer.start()
    outer.join(timeout=20)
    if outer.is_alive():                # deadlocked: abandon the stuck pool, then fail
        threads._pool, threads._threads = None, 1
        pytest.fail("a nested parallel_for waited for ever on the busy pool")
    assert sorted(seen) == [(i, j) for i in range(4) for j in range(5)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_set_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="threads"):
        set_threads(bad)


class FakeMachine:
    """Step times that depend on the thread count in use, and that the test can change.
    ``run`` plays a Run's part: a probe on the stand-in when one is due, then a real step."""

    def __init__(self, ms):
        self.ms, self.threads, self.applied, self.real_steps_on = dict(ms), None, [], []

    def apply(self, n):
        self.threads = n
        self.applied.append(n)

    def measure(self, steps):
        return [self.ms[self.threads] / 1000] * steps

    def run(self, tuner, steps):
        news = []
        for _ in range(steps):
            if tuner.due and (message := tuner.probe(self.measure)):
                news.append(message)
            self.real_steps_on.append(self.threads)
            tuner.step_done(self.ms[self.threads] / 1000)
        return news


def test_tuner_keeps_the_faster_count_and_moves_when_a_neighbour_arrives():
    machine = FakeMachine({2: 10.0, 1: 13.0})                   # quiet: both cores win
    tuner = ThreadTuner(2, settle=2, probe_steps=5, window=20, every=10_000, apply=machine.apply)
    news = machine.run(tuner, 100)
    assert set(machine.real_steps_on) == {2}                    # probes never touch the run
    assert len(news) == 1 and news[0].startswith("threads: 2 from step 0 (start")
    machine.ms[2] = 28.0                                        # a busy neighbour
    news = machine.run(tuner, 100)
    assert machine.threads == 1 and machine.real_steps_on[-1] == 1
    assert len(news) == 1 and "step time moved from 10.0 to" in news[0]


def test_tuner_rechecks_regularly_and_returns_when_the_neighbour_leaves():
    machine = FakeMachine({2: 28.0, 1: 13.0})                   # starts contended
    tuner = ThreadTuner(2, settle=2, probe_steps=5, window=20, every=200, apply=machine.apply)
    machine.run(tuner, 50)
    assert set(machine.real_steps_on) == {1}
    machine.ms[2] = 10.0            # on one thread the step time does not move: only the re-check sees it
    news = machine.run(tuner, 140)
    assert machine.threads == 1 and not news
    news = machine.run(tuner, 100)
    assert machine.threads == 2 and "regular re-check" in news[0]


def test_tuner_names_the_runs_steps_after_a_resume():
    machine = FakeMachine({2: 10.0, 1: 13.0})
    tuner = ThreadTuner(2, settle=2, probe_steps=5, window=20, every=50, apply=machine.apply)
    tuner.first_step = 200                                      # as Run sets it on a resume
    news = machine.run(tuner, 60)
    assert news[0].startswith("threads: 2 from step 200 (start")
    assert [s for s, _, _ in tuner.switches] == [200]


def test_tuner_on_one_core_never_switches():
    machine = FakeMachine({1: 13.0})
    tuner = ThreadTuner(1, settle=2, probe_steps=5, window=20, every=50, apply=machine.apply)
    machine.run(tuner, 500)
    assert set(machine.applied) == {1}


def test_tuner_takes_steps_before_its_first_probe():
    """A caller that records a window of steps before probing gets a due probe, not a
    TypeError from comparing against a reference time that does not exist yet."""
    tuner = ThreadTuner(2, window=20, apply=lambda n: None)
    for _ in range(40):
        tuner.step_done(0.01)
    assert tuner.due == "start"


def test_threads_flag_and_environment(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    tuner, note = threads_for(None, "numpy")                    # the environment pins
    assert tuner is None and threads.get_threads() == 1 and "OPENBLAS_NUM_THREADS" in note
    try:
        tuner, note = threads_for(2, "numpy")                   # the flag beats it
        assert tuner is None and threads.get_threads() == 2
        monkeypatch.delenv("OPENBLAS_NUM_THREADS")
        tuner, note = threads_for(None, "numpy")                # nothing set: auto
        assert isinstance(tuner, ThreadTuner) and note.startswith("threads: auto")
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "two")
        tuner, note = threads_for(None, "numpy")
        assert isinstance(tuner, ThreadTuner) and "is not a number" in note
        tuner, note = threads_for("auto", "cupy")               # a GPU: no tuning
        assert tuner is None
    finally:
        set_threads(1)


@pytest.mark.parametrize("lr_decay", [0.0, 0.5])     # 0.5: the stand-in needs the run's length
def test_the_probes_never_change_the_run(tmp_path, monkeypatch, lr_decay):
    """The probes train a stand-in, never the run: a run that probes every 40 steps ends with
    the weights of one that never probes. (The probes' thread changes are recorded, not made,
    so that only the stand-in can make a difference; which count BLAS uses is its business.)"""
    from npgan.run import Run
    from npgan.train import GANTrainer
    from small_runs import INFO, SMALL, skip_plots, small_images
    skip_plots(monkeypatch)
    asked = []

    def train(tuner):
        trainer = GANTrainer(SMALL, seed=0, lr_decay=lr_decay)
        Run(trainer, small_images(), tmp_path / str(len(asked)), batch_size=32, epochs=20,
            info=INFO, quiet=True, tuner=tuner).train()
        return [p.data.copy() for p in trainer.G.parameters() + trainer.D.parameters()]

    tuner = ThreadTuner(2, probe_steps=3, every=40, window=20, apply=asked.append)
    probed, plain = train(tuner), train(None)
    assert asked.count(1) >= 3                          # the start and two re-checks at least
    for a, b in zip(probed, plain):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", ["0", "-2", "abc", "1.5", "Auto"])
def test_the_threads_flag_refuses_what_is_not_auto_or_a_count(bad, capsys):
    from small_runs import demo
    code, _, err = demo(capsys, "--threads", bad, "--max-steps", "1")
    assert code == 2 and f"argument --threads: expected auto or a whole number >= 1, got '{bad}'" in err


def test_blas_line_names_the_kernels_and_the_variable_that_forced_them(monkeypatch):
    """The start-up line and the benchmark's first line name OpenBLAS's kernels, since they
    set the speed of every product, and say when OPENBLAS_CORETYPE chose them."""
    import threadpoolctl
    info = [{"internal_api": "openblas", "version": "0.3.31", "num_threads": 2,
             "architecture": "SkylakeX"},
            {"internal_api": "openmp", "version": None, "num_threads": 2}]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: info)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert threads.blas_libraries() == ["openblas 0.3.31, SkylakeX kernels: 2 threads",
                                        "openmp: 2 threads"]
    monkeypatch.setenv("OPENBLAS_CORETYPE", "haswell")
    info[0]["architecture"] = "Haswell"
    assert threads.blas_libraries()[0] == \
        "openblas 0.3.31, Haswell kernels, set by OPENBLAS_CORETYPE=haswell: 2 threads"
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Nonsense")     # ignored by OpenBLAS: not named
    assert threads.blas_libraries()[0] == "openblas 0.3.31, Haswell kernels: 2 threads"
    assert threads.blas_libraries(counts=False) == ["openblas 0.3.31, Haswell kernels", "openmp"]


def test_auto_threads_start_up_line_names_the_blas_kernels():
    """--threads auto's start-up line names the BLAS and its kernels (the counts come later,
    from the tuner); a pinned count's line names them with their threads."""
    import numpy  # noqa: F401  (threadpoolctl lists the libraries loaded)
    libs = threads.blas_libraries(counts=False)
    try:
        _, line = threads_for("auto", "numpy")
        assert libs and all(lib in line for lib in libs)
        _, line = threads_for(1, "numpy")
        assert line.startswith("threads: 1") and all(lib in line for lib in libs)
    finally:
        set_threads(1)                      # the suite's setting (tests/conftest.py)
