"""Hostile data: corrupt IDX files (bad magic, wrong dimensions, truncated bytes, huge claimed
sizes) give a DataError naming the file, never an obscure NumPy traceback, a silent wrong
shape, or an attempt to allocate the claimed size; through ``--data-dir`` the demo prints
``error: ...`` and exits with 2. A batch handed to ``GANTrainer.train_step`` that it cannot
train on (wrong shape or dtype, NaN, bad labels) is refused before it changes anything."""

import gzip
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npgan.data import DataError, load_mnist
from npgan.idx import IDX_DTYPES, MAX_BYTES, read_idx, write_idx
from npgan.models import GANConfig
from npgan.train import GANTrainer
from small_runs import demo, run_cli
from test_data import idx_bytes, write

BAD_FILES = {
    "too short": (b"\x00\x00", "too short"),
    "wrong magic": (b"\x01\x02" + idx_bytes(0x08, (3,))[2:], "bad magic number"),
    "dtype code": (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + bytes(3), "dtype code 0x07"),
    "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "absurd dims": (b"\x00\x00\x08\xc8" + bytes(800), "200 dimensions"),
    "short header": (idx_bytes(0x08, (2, 2))[:9], "truncated header"),
    "truncated data": (idx_bytes(0x08, (2, 3))[:-1], "truncated data.*6 bytes, file has 5"),
    "trailing bytes": (idx_bytes(0x08, (2, 3)) + b"\x00", "trailing bytes"),
    "huge claim": (b"\x00\x00\x0e\x03" + b"\xff" * 12, "over the .*-byte limit"),
}


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_idx_file_raises_data_error_naming_the_file(tmp_path, case, compress):
    raw, message = BAD_FILES[case]
    path = write(tmp_path / "bad-file.idx", raw, compress)
    with pytest.raises(DataError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage", ["cut", "flip", "crc", "junk"])
def test_corrupt_gzip_raises_data_error(tmp_path, damage):
    gz = bytearray(gzip.compress(idx_bytes(0x08, (50, 50), body=bytes(range(250)) * 10), mtime=0))
    if damage == "cut":
        gz = gz[: len(gz) // 2]
    elif damage == "flip":
        gz[len(gz) // 2] ^= 0xFF
    elif damage == "crc":
        gz[-8] ^= 0x01  # the CRC-32 in the trailer: caught because we read to the end
    else:
        gz += b"junk after the gzip member"
    path = write(tmp_path / "broken.idx.gz", bytes(gz))
    with pytest.raises(DataError, match="broken.idx.gz") as err:
        read_idx(path)
    assert isinstance(err.value, ValueError)  # DataError is a ValueError


def test_false_size_claim_allocates_nothing(tmp_path):
    path = write(tmp_path / "liar.idx", b"\x00\x00\x08\x01" + (2**30).to_bytes(4, "big") + b"abc")
    tracemalloc.start()
    with pytest.raises(DataError, match="1073741824 bytes, file has 3"):
        read_idx(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 2**20  # a 1 MiB read chunk or two, not the 1 GiB claimed


# ---- files that parse, but are not MNIST: wrong dimensions, counts or labels -------------


def fake_split(folder, images, labels):
    """Write images and labels as the MNIST train file names in folder."""
    write_idx(folder / "train-images-idx3-ubyte.gz", np.asarray(images, dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", np.asarray(labels, dtype=np.uint8))


def test_count_mismatch_names_both_files_and_counts(tmp_path):
    fake_split(tmp_path, np.zeros((3, 28, 28)), [1, 2])
    with pytest.raises(DataError, match=r"train-images.*3 images.*train-labels.*2 labels"):
        load_mnist("train", data_dir=tmp_path)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((3, 784)), [0, 1, 2], r"train-images.*expected images \(N, 28, 28\)"),
    (np.zeros((3, 28, 28)), [[0], [1], [2]], r"train-labels.*expected labels \(N,\)"),
    (np.zeros((3, 28, 28)), [0, 1, 10], "label 10 is outside 0..9"),
])
def test_wrong_shapes_or_labels_raise_data_error(tmp_path, images, labels, message):
    fake_split(tmp_path, images, labels)
    with pytest.raises(DataError, match=message):
        load_mnist("train", data_dir=tmp_path)


# ---- property: nothing but DataError ------------------------------------------------

VALID = idx_bytes(0x08, (2, 3, 4), body=bytes(range(24)))


@st.composite
def mutated_idx(draw, base=VALID):
    """A valid small IDX file with a few bytes changed, cut off or appended."""
    raw = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    raw = raw[: draw(st.integers(0, len(raw)))] + draw(st.binary(max_size=4))
    return bytes(raw)


@st.composite
def mutated_gzip(draw):
    """A valid gzipped IDX file with one byte of the compressed stream changed."""
    raw = bytearray(gzip.compress(VALID, mtime=0))
    raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


@st.composite
def huge_claim(draw):
    """An IDX header claiming at least 16 MiB (up to 2**32 - 1 per dimension), and a few bytes."""
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    shape = draw(st.lists(st.integers(1, 2**32 - 1), max_size=3))
    shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(2**24, 2**32 - 1)))
    return idx_bytes(code, shape, body=draw(st.binary(max_size=64)))


@settings(max_examples=100, deadline=None)
@given(raw=st.one_of(st.binary(max_size=64), mutated_idx(), mutated_gzip()), compress=st.booleans())
def test_arbitrary_bytes_raise_only_data_error(tmp_path_factory, raw, compress):
    path = write(tmp_path_factory.mktemp("fuzz") / "f.idx", raw, compress)
    try:
        result = read_idx(path)
    except DataError as e:
        assert str(path) in str(e)
    else:
        assert isinstance(result, np.ndarray) and result.nbytes <= MAX_BYTES


@settings(max_examples=60, deadline=None)
@given(raw=huge_claim(), compress=st.booleans())
def test_huge_claimed_sizes_are_refused_without_allocating_them(tmp_path_factory, raw, compress):
    path = write(tmp_path_factory.mktemp("huge") / "f.idx", raw, compress)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="over the .*-byte limit|truncated data") as err:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    assert peak < 4 * 2**20       # each claim is >= 16 MiB; reading took less than 4 MiB


# ---- the same files behind the demo's --data-dir --------------------------------------

TWO_IMAGES = idx_bytes(0x08, (2, 28, 28), body=bytes(range(256)) * 6 + bytes(32))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(mutated_idx(TWO_IMAGES), huge_claim(), st.binary(max_size=32)))
def test_corrupt_data_dir_is_an_error_message_from_the_demo(tmp_path_factory, capsys, raw):
    folder = tmp_path_factory.mktemp("data")
    write(folder / "train-images-idx3-ubyte", raw)
    # Three labels: even images that survive the damage (two of them) do not match.
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    code, _, err = demo(capsys, "--data-dir", folder, "--out", folder / "out", "--quiet")
    assert code == 2 and err.startswith("error: ") and "train-images-idx3-ubyte" in err, err
    assert not (folder / "out").exists()


def test_corrupt_data_dir_from_the_command_line(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "train-images-idx3-ubyte.gz", idx_bytes(0x08, (60000, 28, 28), body=bytes(99)),
          compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(60000, dtype=np.uint8))
    result = run_cli("npgan.demos.mnist", "--data-dir", folder, "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte.gz: truncated data" in result.stderr
    assert "47040000 bytes, file has 99" in result.stderr


TINY = GANConfig(latent_dim=3, g_hidden=(5,), d_hidden=(6,), image_dim=4)
TINY_COND = GANConfig(latent_dim=3, g_hidden=(5,), d_hidden=(6,), image_dim=4, num_classes=3)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("cfg, real, labels, message", [
    (TINY, np.full((8, 4), 200, np.uint8), None, "must be float32"),     # unscaled pixels
    (TINY, np.zeros((8, 4)), None, "must be float32"),                   # float64
    (TINY, np.zeros((8, 5), np.float32), None, r"\(B, 4\), got shape \(8, 5\)"),
    (TINY, np.zeros((8, 2, 2), np.float32), None, r"\(B, 4\), got shape"),
    (TINY, np.zeros((0, 4), np.float32), None, r"got shape \(0, 4\)"),
    (TINY, [[0.0] * 4] * 8, None, "got shape None"),
    (TINY, np.full((8, 4), np.nan, np.float32), None, "NaN or infinite"),
    (TINY_COND, np.zeros((8, 4), np.float32), np.zeros(5, int), "labels must be 8 integers"),
    (TINY_COND, np.zeros((8, 4), np.float32), np.zeros(8), "labels must be 8 integers"),
])
def test_train_step_refuses_a_bad_batch_before_it_changes_anything(cfg, real, labels, message,
                                                                   fast):
    """The fast step would train on a uint8 batch (its concatenate casts it) and name no
    argument for a wrong shape; both steps trained a NaN batch into the weights. Now either
    step refuses before it draws noise or touches a weight, so a caller that catches the
    error continues the run an untouched trainer would."""
    trainer, untouched = GANTrainer(cfg, fast=fast), GANTrainer(cfg, fast=fast)
    with pytest.raises(ValueError, match=message):
        trainer.train_step(real, labels)
    good = np.zeros((8, 4), np.float32)
    good_labels = np.zeros(8, int) if cfg.conditional else None
    assert trainer.train_step(good, good_labels) == untouched.train_step(good, good_labels)
    for a, b in zip(trainer.G.parameters(), untouched.G.parameters()):
        assert np.array_equal(a.data, b.data)
