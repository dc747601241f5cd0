"""Hostile checkpoints: truncated or garbage files, missing keys, wrong shapes, another
architecture, another kind of GAN, bad metadata. Each is a CheckpointError naming the file and
what is wrong; ``--resume`` and ``python -m npgan.sample`` print ``error: ...`` and exit with 2.
Checkpoints are never unpickled."""

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

from npgan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from npgan.models import GANConfig
from npgan.run import Run
from npgan.run_state import load_run
from npgan.train import GANTrainer
from small_runs import (INFO, SMALL, demo, mnist_test_split, no_plots,  # noqa: F401
                        run_cli, sample, skip_plots, small_checkpoint, small_images)
from test_checkpoint import META, sample_arrays

# ---- files that are not checkpoints at all -------------------------------------------------


def test_truncated_file(tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, sample_arrays(), META)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="checkpoint.npz is truncated, corrupt or not"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"hello", np.random.default_rng(0).bytes(5000),
                                     b"PK\x03\x04" + bytes(100)],
                         ids=["empty", "text", "random", "zip-magic"])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "c.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="truncated, corrupt or not an npgan checkpoint") as e:
        load_checkpoint(path)
    assert "pickle" not in str(e.value)                     # not numpy's misleading guess


def test_bare_npy_file(tmp_path):
    path = tmp_path / "c.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(CheckpointError, match="single .npy array"):
        load_checkpoint(path)


def test_a_folder_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {tmp_path}: Is a directory"):
        load_checkpoint(tmp_path)


def test_array_header_claiming_terabytes(tmp_path):
    """An .npy member whose header claims 2**40 float64 values, followed by 64 bytes."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    member.write(bytes(64))
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", member.getvalue())
    with pytest.raises(CheckpointError, match="liar.npz is truncated, corrupt or not an npgan"):
        load_checkpoint(path)


def test_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """Two members whose zip directory declares 3.75 GiB each (a few bytes on disk): the
    declared total is over the limit, so nothing is decompressed."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("a.npy", "b.npy"):
            zf.writestr(name, b"x" * 10)
    raw = bytearray(path.read_bytes())
    entry = raw.find(b"PK\x01\x02")                       # the central directory's entries
    while entry != -1:
        raw[entry + 24:entry + 28] = (0xF0000000).to_bytes(4, "little")   # uncompressed size
        entry = raw.find(b"PK\x01\x02", entry + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"bomb.npz would unpack to 7.5 GiB, more than"):
        load_checkpoint(path)


def _touch(path):                                 # what the canary runs if ever unpickled
    open(path, "w").close()


class Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def test_object_array_is_refused_never_unpickled(tmp_path):
    path, marker = tmp_path / "evil.npz", tmp_path / "unpickled"
    evil = np.array([Canary(str(marker))], dtype=object)
    np.savez(path, w=evil, __meta__=np.array("{}"), allow_pickle=True)
    with pytest.raises(CheckpointError, match="'w' is an object array; npgan refuses"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("meta, match", [
    (None, "no '__meta__' entry"),
    (np.array("{not json"), "not valid JSON"),
    (np.array(3.0), "not valid JSON"),
    (np.array("[1, 2]"), "must be a JSON object, got list"),
])
def test_bad_meta(tmp_path, meta, match):
    path = tmp_path / "c.npz"
    extra = {} if meta is None else {"__meta__": meta}
    np.savez(path, w=np.zeros(2), **extra)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


# ---- checkpoints of a run, damaged one way at a time ----------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A checkpoint of a 2-step run of the small GAN."""
    return small_checkpoint(tmp_path_factory.mktemp("good"))


def set_weight(name, make):
    def damage(arrays, meta):
        arrays[name] = make(arrays[name])
    return damage


def with_nan(a):
    a = a.copy()
    a.flat[3] = np.nan
    return a


DAMAGE = {   # name: (damage(arrays, meta) in place, what the error must say)
    "missing array": (lambda a, m: a.pop("G.0.weight"),
                      r"missing from checkpoint: G\.0\.weight"),
    "wrong shape": (set_weight("D.0.weight", lambda w: w[:, :10]),
                    r"D\.0\.weight: checkpoint has shape \(784, 10\), GAN expects \(784, 64\)"),
    "another architecture": (lambda a, m: m["config"].update(latent_dim=32, g_hidden=[48, 64]),
                             r"G\.0\.weight: checkpoint has shape \(16, 32\), GAN expects \(32, 48\)"),
    "layers too big to build": (lambda a, m: m["config"].update(g_hidden=[10**6, 10**6]),
                                "config describes layers of 1000.* weights, but the file holds"),
    "another kind of GAN": (lambda a, m: m.update(kind="cgan"), "(?i)cgan"),
    "no kind": (lambda a, m: m.pop("kind"), "holds a None model"),
    "unknown dtype": (lambda a, m: m.update(dtype="object"), "dtype 'object' is not float32"),
    "unknown config field": (lambda a, m: m["config"].update(depth=3), r"unknown fields \['depth'\]"),
    "config not an object": (lambda a, m: m.update(config=[1, 2]), "'config' is missing or invalid"),
    "unknown optimizer": (lambda a, m: m["settings"].update(optimizer="sgd"),
                          "unknown optimizer 'sgd'"),
    "noise state": (lambda a, m: m.update(noise_rng={"bit_generator": "MT19937"}),
                    "'noise_rng' is not a generator state"),
    "negative step": (lambda a, m: m.update(step=-1), "step -1 is not a non-negative integer"),
    "step beyond history": (lambda a, m: m.update(step=5),
                            r"history\.d_loss is of shape \(2,\); a run at step 5"),
    "missing history": (lambda a, m: a.pop("history.g_loss"), r"history\.g_loss is missing"),
    "run information": (lambda a, m: m["run"].update(batch_size=0, dataset=["mnist"]),
                        r"run information has invalid values: batch_size=0, dataset=\['mnist'\]"),
    "unknown backend": (lambda a, m: m["run"].update(backend="tpu"),
                        "run information has invalid values: backend='tpu'"),
    # a run of 2 steps has stepped each optimizer twice; t = -1 made the fast Adam step a bare
    # ZeroDivisionError and the plain one NaN weights, t = 0 restarted the bias correction
    "optimizer step count -1": (set_weight("opt_g.t", lambda t: np.asarray(-1)),
                                r"opt_g\.t, the optimizer's step count, is -1 \(int64\); a run at step 2"),
    "optimizer step count 0": (set_weight("opt_d.t", lambda t: np.asarray(0)), r"opt_d\.t.* is 0"),
    "fractional step count": (set_weight("opt_g.t", lambda t: np.asarray(2.0)),
                              r"opt_g\.t.* is 2\.0 \(float64\)"),
    "missing step count": (lambda a, m: a.pop("opt_d.t"), r"opt_d\.t.* is missing"),
    "NaN weight": (set_weight("G.2.weight", with_nan), r"NaN or infinite values in G\.2\.weight"),
    "text weight": (set_weight("D.0.bias", lambda b: b.astype(str)),
                    r"not real numbers: D\.0\.bias \(<U"),
    "complex weight": (set_weight("D.0.bias", lambda b: b.astype(complex)),
                       r"not real numbers: D\.0\.bias \(complex128\)"),
}


def damaged(good, folder, name):
    arrays, meta = load_checkpoint(good)
    DAMAGE[name][0](arrays, meta)
    path = folder / "damaged.npz"
    save_checkpoint(path, arrays, meta)
    return path


@pytest.mark.parametrize("name", DAMAGE)
def test_damaged_checkpoint_is_a_clear_error(good, tmp_path, name):
    path = damaged(good, tmp_path, name)
    with pytest.raises(CheckpointError, match=DAMAGE[name][1]) as err:
        load_run(path)
    assert str(path) in str(err.value)


def test_huge_layers_in_the_config_are_not_allocated(good, tmp_path):
    path = damaged(good, tmp_path, "layers too big to build")          # 10**12 weights
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError):
            load_run(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20        # the small file itself, not 4 TB of weights


@pytest.mark.parametrize("command", ["resume", "sample"])
@pytest.mark.parametrize("name", DAMAGE)
def test_both_commands_print_the_error_and_exit_2(good, tmp_path, capsys, name, command):
    path = damaged(good, tmp_path, name)
    if command == "resume":
        code, _, err = demo(capsys, "--resume", path, "--quiet")
    else:
        code, _, err = sample(capsys, path, "-o", tmp_path / "s.png")
    assert code == 2 and err.startswith(f"error: {path}: ")
    assert not (tmp_path / "s.png").exists()


def test_from_the_command_line_no_traceback(good, tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:5000])
    result = run_cli("npgan.demos.mnist", "--resume", truncated, "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {truncated} is truncated, corrupt or not an npgan")

    cgan = damaged(good, tmp_path, "another kind of GAN")
    result = run_cli("npgan.sample", cgan, "-o", "s.png", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {cgan}: ") and "cgan" in result.stderr.lower()


@pytest.fixture(scope="module")
def good_cgan(tmp_path_factory):
    """A checkpoint of a 2-step run of a small conditional GAN (10 classes)."""
    cfg = GANConfig(latent_dim=8, g_hidden=(16, 32), d_hidden=(32,), num_classes=10)
    labels = mnist_test_split()[1][:64].astype(np.int64)
    return small_checkpoint(tmp_path_factory.mktemp("good-cgan"), cfg, labels)


@pytest.mark.parametrize("damage, message", [
    (lambda a, m: m.update(kind="gan"), "kind 'gan' contradicts num_classes=10"),
    (lambda a, m: m["config"].update(num_classes=0), "kind 'cgan' contradicts num_classes=0"),
    (lambda a, m: (m.update(kind="gan"), m["config"].update(num_classes=0)),
     r"unexpected in checkpoint: G\.embed\.weight"),
], ids=["kind", "config", "kind and config"])
def test_a_conditional_checkpoint_posing_as_a_plain_one(good_cgan, tmp_path, damage, message):
    arrays, meta = load_checkpoint(good_cgan)
    damage(arrays, meta)
    save_checkpoint(tmp_path / "posing.npz", arrays, meta)
    with pytest.raises(CheckpointError, match=message):
        load_run(tmp_path / "posing.npz")
    assert load_run(good_cgan)[0].conditional                  # the undamaged one loads


@pytest.mark.usefixtures("no_plots")
def test_a_whole_checkpoint_of_another_architecture_is_fine(tmp_path, capsys):
    """The config travels with the arrays: a checkpoint of another (consistent) size loads."""
    cfg = GANConfig(latent_dim=8, g_hidden=(24,), d_hidden=(16,))
    Run(GANTrainer(cfg, seed=4), small_images(64), str(tmp_path), batch_size=32, epochs=1,
        quiet=True, info=INFO).train()
    trainer, history, info = load_run(tmp_path / "checkpoint.npz")
    assert trainer.cfg == cfg and len(history["d_loss"]) == trainer.step == 2 and info == {**INFO, "images": 64}
    code, _, err = sample(capsys, tmp_path / "checkpoint.npz", "-n", 5, "-o", tmp_path / "s.npy")
    assert code == 0, err
    assert np.load(tmp_path / "s.npy").shape == (5, 28, 28)
    meta = json.loads(str(np.load(tmp_path / "checkpoint.npz")["__meta__"]))
    assert meta["config"]["g_hidden"] == [24]
