"""Atomic, deterministic file writing and hashing shared by every stage.

Every artifact is first written to a temporary file in the destination folder
and then renamed over the target, so a crash never leaves a half-written file
that a later run would mistake for a finished one. The file gets the mode ``open()``
would give it (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``, so that
colleagues sharing a results folder can read it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import pandas as pd

__all__ = ["relative_to_results", "atomic_path", "write_parquet", "write_json", "open_h5_atomic", "sha256_file",
           "read_parquet_checked"]


_HOST = socket.gethostname().replace("/", "_")


def _remove_stale_temps(path: Path, suffix: str) -> None:
    """Delete temporaries of ``path`` left by dead writers on this host."""
    head = f".{path.name}.{_HOST}."
    for tmp in path.parent.glob(f"{glob.escape(head)}*{glob.escape(suffix)}.tmp"):
        pid = tmp.name[len(head):].split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux).

    Elsewhere it is read by setting and restoring it, as ``os.umask`` only allows.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The file then has mode ``0o666 & ~umask``, as if ``open(path, "w")`` had created it.

    Parameters
    ----------
    path : path-like
        Final destination.
    suffix : str
        Suffix of the temporary file (some writers infer the format from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name carries this host and process, so that a writer killed before its
    # rename (SIGKILL, a node lost) leaves a file the next writer of ``path`` can tell is stale
    # and remove: a resumed run then leaves the results folder as a clean run would.
    prefix = f".{path.name}.{_HOST}.{os.getpid()}."
    _remove_stale_temps(path, suffix)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0o600 whatever the umask; give the result open()'s mode.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_parquet(df: pd.DataFrame, path: str | os.PathLike,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Write ``df`` to parquet atomically, with optional key/value provenance metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update({b"neuroalign." + k.encode(): json.dumps(v, sort_keys=True).encode()
                     for k, v in metadata.items()})
        table = table.replace_schema_metadata(meta)
    with atomic_path(path, suffix=".parquet") as tmp:
        # No wall-clock fields are written, so the bytes depend on the data alone.
        pq.write_table(table, tmp)
    return Path(path)


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``neuroalign.*`` provenance metadata of a parquet file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return {k.decode()[len("neuroalign."):]: json.loads(v) for k, v in meta.items()
            if k.startswith(b"neuroalign.")}


def read_parquet_checked(path: str | os.PathLike, columns: list[str]) -> pd.DataFrame:
    """Read a parquet artifact and check it has ``columns``, naming the file when not."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    df = pd.read_parquet(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write JSON atomically with sorted keys (deterministic bytes)."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    return Path(path)


@contextlib.contextmanager
def open_h5_atomic(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open a new HDF5 file for writing; it appears at ``path`` only when closed cleanly."""
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w", track_order=True) as f:
        yield f


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def relative_to_results(path: str | os.PathLike, results: str | os.PathLike) -> str:
    """``path`` relative to the results folder when below it, else its last three parts.

    Provenance recorded this way does not depend on where the results folder lives, so the
    outputs of the same run in two places are byte-identical.
    """
    path = Path(path)
    try:
        return path.resolve().relative_to(Path(results).resolve()).as_posix()
    except ValueError:
        return Path(*path.parts[-3:]).as_posix()
