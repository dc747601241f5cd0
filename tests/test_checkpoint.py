"""Tests for npgan.checkpoint: round trips and the checks on saving and loading.

Crashes during a write are in test_atomic_checkpoints.py; damaged, hostile or mismatched
checkpoints in test_hostile_checkpoints.py."""
import os

import numpy as np
import pytest

from npgan.checkpoint import CheckpointError, check_arrays, load_checkpoint, save_checkpoint


def sample_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "G.0.weight": rng.standard_normal((100, 128)).astype(np.float32),
        "G.0.bias": rng.standard_normal(128),                        # float64
        "optim.G.m.3": rng.integers(-5, 5, size=(2, 3, 4)),          # int64
        "data.labels": np.arange(10, dtype=np.uint8),
        "optim.G.t": np.array(7, dtype=np.int32),                    # 0-d
    }


META = {"step": 1200, "config": {"lr": 2e-4, "betas": [0.5, 0.999], "name": "mnist é"},
        "history": {"d_loss": 1200}, "seed": None}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k])


def test_round_trip(tmp_path):
    path = tmp_path / "ckpt.npz"
    arrays = sample_arrays()
    save_checkpoint(path, arrays, META)
    loaded, meta = load_checkpoint(path)
    assert_same(loaded, arrays)
    assert meta == META
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_keys_that_would_collide_with_savez_arguments(tmp_path):
    arrays = {"file": np.zeros(2), "allow_pickle": np.ones(3)}
    save_checkpoint(tmp_path / "c.npz", arrays, {})
    assert_same(load_checkpoint(tmp_path / "c.npz")[0], arrays)


def test_to_host_is_applied(tmp_path):
    class Device:                                   # stands in for a CuPy array
        def __init__(self, a):
            self.a = a
    save_checkpoint(tmp_path / "c.npz", {"w": Device(np.eye(2))}, {}, to_host=lambda d: d.a)
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "c.npz")[0]["w"], np.eye(2))


@pytest.mark.parametrize("arrays, meta, match", [
    ({1: np.zeros(2)}, {}, "non-empty strings"),
    ({"": np.zeros(2)}, {}, "non-empty strings"),
    ({"__meta__": np.zeros(2)}, {}, "reserved"),
    ({"w": np.array([{}, None], dtype=object)}, {}, "w: object arrays"),
    ({"w": np.zeros(2)}, {"f": np.float32}, "not JSON-serialisable"),
    ({"w": np.zeros(2)}, [1, 2], "meta must be a dict"),
])
def test_save_rejects_bad_input(tmp_path, arrays, meta, match):
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path / "c.npz", arrays, meta)
    assert os.listdir(tmp_path) == []


def test_save_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder .*nope does not exist"):
        save_checkpoint(tmp_path / "nope" / "c.npz", {"w": np.zeros(2)}, {})


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_checkpoint(tmp_path / "absent.npz")


def test_check_arrays_reports_everything_at_once():
    arrays = {"G.0.weight": np.zeros((100, 128), np.float32), "G.0.bias": np.zeros(128),
              "G.9.weight": np.zeros(3)}
    expected = {"G.0.weight": ((64, 128), np.float32), "G.0.bias": ((128,), np.float32),
                "G.3.weight": ((128, 784), None), "G.3.bias": ((784,), None)}
    with pytest.raises(CheckpointError) as info:
        check_arrays(arrays, expected)
    msg = str(info.value)
    assert "missing from checkpoint: G.3.weight, G.3.bias" in msg
    assert "unexpected in checkpoint: G.9.weight" in msg
    assert "G.0.weight: checkpoint has shape (100, 128), model expects (64, 128)" in msg
    assert "G.0.bias: checkpoint has dtype float64, model expects float32" in msg


def test_check_arrays_accepts_a_match():
    arrays = sample_arrays()
    check_arrays(arrays, {k: (v.shape, None) for k, v in arrays.items()}, what="optimizer")
    check_arrays(arrays, {k: (list(v.shape), v.dtype) for k, v in arrays.items()})
