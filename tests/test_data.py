"""Tests for npgan.idx and npgan.data: IDX parsing, bundled MNIST, Fashion-MNIST, batching.

Corrupt and hostile data files are tested in test_hostile_data.py."""

import gzip
import shutil

import numpy as np
import pytest

from npgan import data
from npgan.data import (
    FASHION_MNIST_CLASSES, MNIST_CLASSES, MNIST_SHA256, DataError, batches,
    load_fashion_mnist, load_mnist, scale_images, verify_sha256,
)
from npgan.idx import IDX_DTYPES, read_idx, write_idx


def idx_bytes(code, shape, body=None):
    """The bytes of an IDX file built by hand from the spec (not by write_idx)."""
    header = bytes([0, 0, code, len(shape)]) + b"".join(s.to_bytes(4, "big") for s in shape)
    if body is None:
        body = bytes(IDX_DTYPES[code].itemsize * int(np.prod(shape)))
    return header + body


def write(path, raw, compress=False):
    """Write raw bytes to path, gzipped if compress; return path."""
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return path


# ---- bundled MNIST ------------------------------------------------------------------


@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_bundled_mnist_loads(split, n):
    images, labels = load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10)) and len(MNIST_CLASSES) == 10
    assert images.min() == 0 and images.max() == 255


def test_unknown_split_names_the_allowed_values():
    with pytest.raises(ValueError, match="'test', 'train'.*'validation'"):
        load_mnist("validation")


def test_verify_sha256_reports_file_and_both_hashes(tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    copy = tmp_path / name
    shutil.copy(data.MNIST_DIR / name, copy)
    verify_sha256(copy, MNIST_SHA256[name])  # intact copy passes
    raw = bytearray(copy.read_bytes())
    raw[100] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=name) as err:
        verify_sha256(copy, MNIST_SHA256[name])
    assert MNIST_SHA256[name] in str(err.value)
    assert data.hashlib.sha256(bytes(raw)).hexdigest() in str(err.value)


def test_checksummed_loader_rejects_a_flipped_byte(tmp_path):
    for name in data.SPLITS["test"]:
        shutil.copy(data.MNIST_DIR / name, tmp_path / name)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-10] ^= 0x01
    labels.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256 mismatch"):
        data._load_split(tmp_path, "test", sha256=MNIST_SHA256)


def test_data_dir_reads_uncompressed_copies(tmp_path):
    for name in data.SPLITS["test"]:
        raw = gzip.decompress((data.MNIST_DIR / name).read_bytes())
        (tmp_path / name.removesuffix(".gz")).write_bytes(raw)
    images, labels = load_mnist("test", data_dir=tmp_path)
    bundled_images, bundled_labels = load_mnist("test")
    np.testing.assert_array_equal(images, bundled_images)
    np.testing.assert_array_equal(labels, bundled_labels)


# ---- IDX round trip ---------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / f"a.idx{suffix}", a)
    b = read_idx(tmp_path / f"a.idx{suffix}")
    assert b.dtype == a.dtype and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_matches_the_spec_byte_for_byte(tmp_path, compress):
    raw = idx_bytes(0x0B, (2, 3), body=bytes(range(12)))  # int16, big-endian
    got = read_idx(write(tmp_path / "spec.idx", raw, compress))  # gzip found by magic, not name
    np.testing.assert_array_equal(got, [[0x0001, 0x0203, 0x0405], [0x0607, 0x0809, 0x0A0B]])


def test_write_idx_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="0 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here.idx"):
        read_idx(tmp_path / "nothing-here.idx")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_mnist("train", data_dir=tmp_path)


# ---- Fashion-MNIST ----------------------------------------------------------------


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch):
    how = "sudo apt-get install dataset-fashion-mnist.*--data-dir DIR"
    with pytest.raises(FileNotFoundError, match=how):
        load_fashion_mnist(data_dir=tmp_path)
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    with pytest.raises(FileNotFoundError, match="not-installed.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test")


@pytest.mark.skipif(not data.FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_loads_when_installed(split, n):
    images, labels = load_fashion_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and set(np.unique(labels)) == set(range(len(FASHION_MNIST_CLASSES)))


# ---- scaling and batches ---------------------------------------------------------


def test_scale_images_maps_0_255_to_minus_1_plus_1():
    images = np.array([[[0, 255], [127, 128]]], dtype=np.uint8)  # (1, 2, 2)
    x = scale_images(images)
    assert x.shape == (1, 4) and x.dtype == np.float32
    assert x[0, 0] == -1.0 and x[0, 1] == 1.0 and np.all(np.abs(x) <= 1)
    assert scale_images(images, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="uint8"):
        scale_images(images.astype(np.float32))


def test_scale_images_lays_colour_out_channels_first_and_plots_undo_it():
    from npgan.plots import as_pictures
    images = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    x = scale_images(images)                                        # (4, 3 * 5 * 6)
    assert x.shape == (4, 90) and x.dtype == np.float32
    pictures = images.astype(np.float32) / np.float32(127.5) - np.float32(1)   # (4, 5, 6, 3)
    np.testing.assert_array_equal(x[2, :30], pictures[2, :, :, 0].reshape(-1))     # red plane
    np.testing.assert_array_equal(x[2, 60:], pictures[2, :, :, 2].reshape(-1))     # blue plane
    np.testing.assert_array_equal(as_pictures(x, (3, 5, 6)), pictures)


def test_each_index_once_per_epoch_and_labels_stay_paired():
    x = np.arange(12)[:, None] * np.ones((1, 3))  # row i is all i, (12, 3)
    y = np.arange(12) + 100
    seen = []
    for xb, yb in batches(x, 4, np.random.default_rng(0), labels=y):
        assert xb.shape == (4, 3) and yb.shape == (4,)
        np.testing.assert_array_equal(yb, xb[:, 0] + 100)
        seen.extend(xb[:, 0].astype(int))
    assert sorted(seen) == list(range(12))


def test_epochs_differ_and_seed_repeats_the_order():
    x = np.arange(100)
    rng = np.random.default_rng(1)
    first, second = np.concatenate(list(batches(x, 10, rng))), np.concatenate(list(batches(x, 10, rng)))
    assert not np.array_equal(first, second)
    again = np.concatenate(list(batches(x, 10, np.random.default_rng(1))))
    np.testing.assert_array_equal(first, again)


def test_incomplete_last_batch_is_dropped():
    sizes = [len(b) for b in batches(np.arange(10), 4, np.random.default_rng(0))]
    assert sizes == [4, 4]


@pytest.mark.parametrize("bad", [0, -1, 11, 2.5, True, "4"])
def test_bad_batch_size_raises_at_the_call(bad):
    with pytest.raises(ValueError, match="batch_size"):
        batches(np.arange(10), bad, np.random.default_rng(0))  # no next() needed


def test_batches_checks_rng_and_labels():
    with pytest.raises(TypeError, match="np.random.Generator"):
        batches(np.arange(10), 2, 0)
    with pytest.raises(ValueError, match="10 rows but labels has 9"):
        batches(np.arange(10), 2, np.random.default_rng(0), labels=np.arange(9))
