"""Checkpoints: one ``.npz`` file of named arrays plus a JSON ``__meta__`` entry.

Writing is atomic: the bytes go to a hidden temporary file in the target's folder, which is
flushed, fsync'ed and then renamed onto the target with ``os.replace``. A crash at any moment
leaves either the old checkpoint or the new one at ``path``, never half of one. (A process
killed with SIGKILL cannot delete its temporary file; a stray ``.NAME.*.tmp`` may remain.)

Reading never unpickles: files are opened with ``allow_pickle=False``, so a checkpoint cannot
run code, and every problem is reported as a ``CheckpointError`` naming the file.
"""
import json
import os
import secrets
import zipfile

import numpy as np

META_KEY = "__meta__"
# MemoryError: an array header claiming terabytes (numpy allocates before it reads the data)
_READ_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, MemoryError)
# The most a checkpoint may unpack to. The default GAN's is ~25 MB; the limit stops a crafted
# file (a "zip bomb": a few KB that inflate to terabytes) before it is decompressed.
MAX_UNPACKED_BYTES = 2 ** 32


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, or its arrays do not fit what the model expects."""


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file, then rename it onto ``path``.

    The folder of ``path`` must exist (no folders are created: a typo in a run directory
    should fail loudly). On any exception the temporary file is removed, the previous file
    at ``path`` is untouched, and the exception propagates. Returns ``path``. The file gets the
    permissions a plain ``open(path, "w")`` would give (0o666 less the umask), not the
    owner-only 0o600 of ``tempfile.mkstemp``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    # The temporary name is chosen before the file exists, so that a Ctrl-C at any moment
    # (even inside os.open) leaves nothing behind: the except clause knows the name.
    # O_EXCL refuses a name that exists; mode 0o666 is filtered by the umask, as open() is.
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())                   # the bytes are on disk before the rename
        os.replace(tmp, path)                      # atomic on POSIX and Windows
    except BaseException:                          # KeyboardInterrupt included
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if os.name == "posix":                         # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def _write_npz(fileobj, arrays):
    """Write ``arrays`` (name -> np.ndarray) as an uncompressed npz into a binary file.

    This is what ``np.savez`` does, minus its keyword arguments: a key named ``file`` or
    ``allow_pickle`` would collide with them. Member ``NAME.npy`` holds array ``NAME``.
    """
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def save_checkpoint(path, arrays, meta, *, to_host=np.asarray):
    """Atomically write ``arrays`` and ``meta`` to the npz file ``path`` (no suffix added).

    arrays:  dict str -> array of any shape, e.g. {"G.0.weight": (100, 128), "opt_g.m": (flat),
             "history.d_loss": (step,), ...}
    meta:    JSON-serialisable dict (config, settings, step, generator states, ...), stored as a
             0-d unicode array under the reserved key ``__meta__``.
    to_host: turns each value into a host ``np.ndarray`` (e.g. ``cupy.asnumpy``).
    Raises ValueError for non-string or reserved keys, object arrays, or a meta that is not
    a JSON-serialisable dict; FileNotFoundError if the folder of ``path`` does not exist.
    """
    host = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"checkpoint keys must be non-empty strings, got {name!r}")
        if name == META_KEY:
            raise ValueError(f"{META_KEY!r} is reserved for the checkpoint's metadata")
        arr = np.asarray(to_host(value))
        if arr.dtype.hasobject:
            raise ValueError(f"{name}: object arrays cannot be saved (dtype {arr.dtype})")
        host[name] = arr
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be a dict, got {type(meta).__name__}")
    try:
        host[META_KEY] = np.array(json.dumps(meta))          # 0-d array of dtype <U...
    except TypeError as e:
        raise ValueError(f"meta is not JSON-serialisable: {e}") from e
    atomic_write(path, lambda f: _write_npz(f, host))


def load_checkpoint(path):
    """Read a checkpoint written by ``save_checkpoint``; returns ``(arrays, meta)``.

    arrays: dict str -> np.ndarray, all read into memory (the file is closed on return).
    meta:   the dict that was saved.
    Raises FileNotFoundError if ``path`` does not exist, CheckpointError if it cannot be
    opened (a folder), is truncated, not an npz, holds object (pickled) arrays, or lacks a
    valid ``__meta__``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    bad = f"{path} is truncated, corrupt or not an npgan checkpoint"
    try:
        f = open(path, "rb")
    except OSError as e:                           # a folder, no permission, ...
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror}") from e
    with f:                                        # we close it, even if numpy fails
        head = f.read(6)
        f.seek(0)
        if not head.startswith((b"PK", b"\x93NUMPY")):  # numpy would call it pickled data
            raise CheckpointError(f"{bad} (it is not an .npz archive)")
        try:
            data = np.load(f, allow_pickle=False)
        except _READ_ERRORS as e:
            raise CheckpointError(f"{bad} ({e})") from e
        if not isinstance(data, np.lib.npyio.NpzFile):        # a bare .npy array
            raise CheckpointError(f"{bad} (it holds a single .npy array, not an .npz archive)")
        arrays = {}
        with data:
            unpacked = sum(info.file_size for info in data.zip.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise CheckpointError(
                    f"{path} would unpack to {unpacked / 2 ** 30:.1f} GiB, more than the "
                    f"{MAX_UNPACKED_BYTES / 2 ** 30:.0f} GiB any npgan checkpoint needs; "
                    "it is not read")
            for name in data.files:
                try:
                    arrays[name] = data[name]
                except _READ_ERRORS as e:
                    if "allow_pickle" in str(e):
                        raise CheckpointError(
                            f"{path}: array {name!r} is an object array; npgan refuses to "
                            "unpickle it, since unpickling can run arbitrary code") from e
                    raise CheckpointError(f"{bad} (array {name!r}: {e})") from e
    if META_KEY not in arrays:
        raise CheckpointError(f"{path} has no {META_KEY!r} entry: not an npgan checkpoint")
    raw = arrays.pop(META_KEY)
    try:
        if raw.dtype.kind != "U" or raw.ndim != 0:
            raise ValueError(f"expected a 0-d unicode array, got {raw.dtype} {raw.shape}")
        meta = json.loads(str(raw[()]))
    except ValueError as e:                        # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"{path}: {META_KEY!r} is not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: {META_KEY!r} must be a JSON object, "
                              f"got {type(meta).__name__}")
    return arrays, meta


def check_arrays(arrays, expected, what="model"):
    """Check loaded ``arrays`` against ``expected``; report every mismatch in one error.

    arrays:   dict str -> array (anything with ``.shape`` and ``.dtype``).
    expected: dict str -> (shape, dtype or None); a None dtype is not checked.
    what:     what ``expected`` describes, used in the message ("model", "optimizer", ...).
    Raises CheckpointError listing missing keys, unexpected keys, shape and dtype mismatches.
    """
    missing = [k for k in expected if k not in arrays]
    unexpected = [k for k in arrays if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing from checkpoint: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected in checkpoint: {', '.join(unexpected)}")
    for name, (shape, dtype) in expected.items():
        if name not in arrays:
            continue
        got, want = tuple(arrays[name].shape), tuple(int(s) for s in shape)
        if got != want:
            problems.append(f"{name}: checkpoint has shape {got}, {what} expects {want}")
        if dtype is not None and np.dtype(arrays[name].dtype) != np.dtype(dtype):
            problems.append(f"{name}: checkpoint has dtype {np.dtype(arrays[name].dtype)}, "
                            f"{what} expects {np.dtype(dtype)}")
    if problems:
        raise CheckpointError(f"checkpoint does not match the {what}:\n  "
                              + "\n  ".join(problems))
