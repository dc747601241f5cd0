"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number, a size per dimension, then the data:

    byte 0-1   0x00 0x00
    byte 2     dtype code (0x08 = uint8, see IDX_DTYPES)
    byte 3     ndim, the number of dimensions
    then       ndim sizes, each a big-endian uint32
    then       prod(sizes) items, big-endian, C order (last index fastest)

Files are often gzipped. The gzip magic bytes 1f 8b decide that, not the file
name; an IDX file always starts with 00 00, so the two cannot be confused.

A damaged file raises DataError naming the file and the problem. The header is
checked before any data is read, and the data is read in chunks up to one byte
more than the header claims, so a corrupt header claiming gigabytes allocates
nothing, and a file with extra bytes at the end is caught.
"""

import gzip
import math
import os
import zlib

import numpy as np

IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_NDIM = 16  # the header byte allows 255; more than this is a corrupt file
MAX_BYTES = 2**31  # largest data section we agree to read (MNIST train: 47 MB)
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # read 1 MiB at a time
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class DataError(ValueError):
    """A data file is damaged or not what it should be. The message names the file."""


def read_idx(path):
    """Read an IDX file, gzipped or plain, into a NumPy array.

    path: str or os.PathLike.
    Returns an array of the shape in the header, e.g. (60000, 28, 28) uint8 for
    MNIST training images, in native byte order and writable.
    Raises FileNotFoundError if path does not exist, and DataError (naming the
    file) for a bad magic number, an unknown dtype code, zero or too many
    dimensions, a claimed size over MAX_BYTES, a truncated file, trailing bytes,
    or a corrupt gzip stream.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
        f.seek(0)
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        try:
            return _parse(stream, name)
        except _GZIP_ERRORS as e:
            raise DataError(f"{name}: corrupt gzip stream ({type(e).__name__}: {e})") from e


def _parse(stream, name):
    """Parse header then data from an open binary stream; see read_idx."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise DataError(f"{name}: file too short for an IDX header ({len(magic)} bytes, need 4)")
    zero, code, ndim = magic[:2], magic[2], magic[3]
    if zero != b"\x00\x00":
        raise DataError(
            f"{name}: bad magic number 0x{magic.hex()}, an IDX file starts with 0x0000 "
            "(is this an IDX file?)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise DataError(f"{name}: unsupported IDX dtype code 0x{code:02x} (known: {known})")
    if not 1 <= ndim <= MAX_NDIM:
        raise DataError(f"{name}: header claims {ndim} dimensions, expected 1 to {MAX_NDIM}")

    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{name}: truncated header, {ndim} dimension sizes need {4 * ndim} bytes")
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    claimed = dtype.itemsize * math.prod(shape)  # Python ints: no overflow
    if claimed > MAX_BYTES:
        raise DataError(
            f"{name}: header claims shape {shape}, {claimed} bytes, over the {MAX_BYTES}-byte limit"
        )

    data = _read_at_most(stream, claimed + 1)  # one more byte reveals trailing data
    if len(data) < claimed:
        raise DataError(
            f"{name}: truncated data, header claims shape {shape} = {claimed} bytes, "
            f"file has {len(data)}"
        )
    if len(data) > claimed:
        raise DataError(f"{name}: trailing bytes after the {claimed} data bytes of shape {shape}")
    big_endian = np.frombuffer(data, dtype=dtype).reshape(shape)
    return big_endian.astype(dtype.newbyteorder("="))  # native order, writable copy


def _read_at_most(stream, n):
    """Read up to n bytes in chunks, so a false size claim allocates nothing up front."""
    chunks = []
    while n > 0:
        chunk = stream.read(min(n, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_idx(path, array):
    """Write array as an IDX file; gzipped if path ends in ".gz".

    path: str or os.PathLike.  array: any shape with 1 to MAX_NDIM dimensions,
    dtype one of IDX_DTYPES (uint8, int8, int16, int32, float32, float64).
    Raises ValueError for another dtype or dimension count.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        allowed = ", ".join(sorted(map(str, codes)))
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX code (allowed: {allowed})")
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ValueError(f"write_idx: array has {array.ndim} dimensions, expected 1 to {MAX_NDIM}")
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    name = os.fspath(path)
    if name.endswith(".gz"):
        with gzip.GzipFile(name, "wb", mtime=0) as f:  # mtime=0: same bytes on every run
            f.write(header + body)
    else:
        with open(name, "wb") as f:
            f.write(header + body)
