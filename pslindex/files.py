"""File helpers shared by every stage."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_checksum(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (``sha256``, ``md5``, any hashlib name)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
