"""File helpers shared by every stage."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from pslindex.errors import PslError, first_line


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (``sha256``, ``md5``, any hashlib name)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def read_parquet_columns(path: str | Path, columns, *, optional=(), purpose: str = "this step") -> pd.DataFrame:
    """The ``columns`` (and those of ``optional`` present) of a Parquet file, or a one-line PslError.

    Errors name the file: missing, not Parquet, a needed column absent, no rows.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise PslError(f"{path}: no such file")
    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise PslError(f"{path}: not a Parquet file ({first_line(exc)})") from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise PslError(f"{path}: missing column(s) {', '.join(missing)}; {purpose} needs {', '.join(columns)}")
    frame = pq.read_table(path, columns=[*columns, *(c for c in optional if c in names)]).to_pandas()
    if frame.empty:
        raise PslError(f"{path}: no rows")
    return frame


def check_output_file(path: str | Path) -> Path:
    """Refuse (one-line PslError) an output FILE path that cannot be one: a folder, or under a file.

    Commands call it on their ``--out`` before any work, so a typo costs seconds, not an hour; an
    existing file is fine (naming it means replacing it). Returns ``path`` as a Path.
    """
    path = Path(path)
    if path.is_dir():
        raise PslError(f"{path}: is a folder; give a file name")
    check_parent_folder(path)
    return path


def check_parent_folder(path: str | Path) -> None:
    """Refuse (one-line PslError) an output path below a file (``notes.txt/out``): no folder can be made there."""
    path = Path(path)
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise PslError(f"{parent}: is not a folder, so {path} cannot be written (nothing was written)")


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; it replaces ``path`` only if the block succeeds.

    The temporary name is unique (two writers never share it) and keeps the suffix
    (``out.tmp-k3j2.png``), so writers that go by it still work. A failed block leaves ``path`` as it
    was and no temporary file behind.
    """
    path = check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.tmp-", suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, value) -> None:
    """Write ``value`` as indented JSON, atomically (a reader sees the old file or the new one)."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(value, indent=1) + "\n")


# Called between output_folder's two renames when set; tests use it to kill a writer at the worst moment.
BETWEEN_RENAMES = None

OUTPUT_MARKER = ".psl-output"
"""Written into every output folder a command makes; names the command, so a re-run may replace it."""


def check_replaceable(path: str | Path, command: str, legacy: frozenset[str] = frozenset()) -> None:
    """Refuse (one-line PslError) an output folder ``path`` that this command may not replace.

    Allowed: ``path`` absent, or a folder that holds this command's marker (a previous result), or
    whose files are exactly a subset of ``legacy`` (a result written before markers existed).
    Anything else, a file, someone's folder, another command's result, is never touched.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        check_parent_folder(path)
        return
    if not path.is_dir() or path.is_symlink():
        raise PslError(f"{path}: exists and is not a folder; choose another --out (nothing was written)")
    marker = path / OUTPUT_MARKER
    if marker.is_file():
        try:
            owner = json.loads(marker.read_text()).get("command")
        except (ValueError, AttributeError):
            owner = None
        if owner == command:
            return
        raise PslError(f"{path}: holds the output of {owner or 'another command'}, not of {command}; "
                       "choose another --out (nothing was written)")
    names = {p.name for p in path.iterdir()}
    if names and legacy and names <= legacy:
        return
    if names:
        raise PslError(f"{path}: is a folder with other files in it ({', '.join(sorted(names)[:3])}); "
                       f"{command} replaces only its own earlier output: choose another --out (nothing was written)")


def remove_stale_temporaries(path: Path) -> None:
    """Clean up after writers of ``path`` that died (killed, power lost), losing nothing.

    Only ``.NAME.tmp-PID-*`` / ``.NAME.old-PID-*`` folders whose process no longer runs: they are
    this module's own, never a user's. A writer killed between its two renames (the old result moved
    aside, the new one not yet in place) leaves the only copy in ``.NAME.old-PID-*/NAME``: when
    ``path`` is missing, that copy is put back first, and only then is the rest deleted.
    """
    for pattern in (f".{path.name}.old-*-*", f".{path.name}.tmp-*-*"):
        for stale in sorted(path.parent.glob(pattern)):
            try:
                pid = int(stale.name.rsplit("-", 2)[-2])
            except ValueError:
                continue
            if pid == os.getpid() or _alive(pid) or not stale.is_dir():
                continue
            parked = stale / path.name
            if ".old-" in stale.name and parked.is_dir() and not path.exists() and not path.is_symlink():
                os.rename(parked, path)  # the previous result, restored
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` and remove the file when done (no lock file is left behind).

    A waiter may have opened the file before the holder removed it: it then holds a lock on a file no
    longer there, sees that, and starts over on the path's current file, so two holders never overlap.
    """
    while True:
        handle = open(lock_path, "a")  # noqa: SIM115 - held across the yield
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        Path(lock_path).unlink(missing_ok=True)
        handle.close()


@contextmanager
def output_folder(path: str | Path, command: str, legacy: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield a private, empty temporary folder beside ``path``; on success it becomes ``path``.

    The rule every command's output folder follows: write into a unique temporary folder, then
    replace ``path`` only if it is absent or a previous result of the same ``command``
    (:func:`check_replaceable`, checked before the work and again, under a lock, before the swap).
    A failed block, an interrupt or a refused target leave ``path`` exactly as it was and remove the
    temporary folder. Never deletes anything the command did not write.
    """
    path = Path(os.path.abspath(path))
    check_replaceable(path, command, legacy)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        (tmp / OUTPUT_MARKER).write_text(json.dumps({"command": command}) + "\n")
        with _exclusive(path.parent / f".{path.name}.lock"):  # two writers of one --out swap one after the other
            check_replaceable(path, command, legacy)
            old = None
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-{os.getpid()}-", dir=path.parent))
                os.rename(path, old / path.name)
                if BETWEEN_RENAMES is not None:  # fault injection (tests): a writer dying right here
                    BETWEEN_RENAMES()
            os.rename(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
