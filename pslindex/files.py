"""File helpers shared by every stage."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from pslindex.errors import PslError


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
        raise PslError(f"{path}: not a Parquet file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise PslError(f"{path}: missing column(s) {', '.join(missing)}; {purpose} needs {', '.join(columns)}")
    frame = pq.read_table(path, columns=[*columns, *(c for c in optional if c in names)]).to_pandas()
    if frame.empty:
        raise PslError(f"{path}: no rows")
    return frame


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; it replaces ``path`` only if the block succeeds.

    The temporary name keeps the suffix (``out.tmp.png``), so writers that go by it still work.
    A failed block leaves ``path`` as it was and no temporary file behind.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
