"""Resumable, verified HTTP downloads (UniProt's ``uniprot_sprot.dat.gz``).

A download goes to ``DEST.part``; an interrupted one resumes from there with an HTTP Range request.
The file is renamed to ``DEST`` only after its size and MD5 match what the server published, so a
truncated or corrupt download is never used.
"""

from __future__ import annotations

import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from pslindex.errors import PslError
from pslindex.files import file_checksum

UNIPROT_BASE = "https://ftp.uniprot.org/pub/databases/uniprot/current_release/knowledgebase/complete/"
SPROT_FILE = "uniprot_sprot.dat.gz"


@dataclass(frozen=True)
class RemoteFile:
    """What the server says a file should be."""

    url: str
    size: int | None
    md5: str | None
    release: str | None = None


def _get(url: str, timeout: float, headers: dict | None = None):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PslError(f"{url}: cannot download ({reason})") from None


def uniprot_sprot_info(base: str = UNIPROT_BASE, timeout: float = 20) -> RemoteFile:
    """Size, MD5 and release of the current ``uniprot_sprot.dat.gz``, from ``RELEASE.metalink``."""
    with _get(base + "RELEASE.metalink", timeout) as response:
        text = response.read()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PslError(f"{base}RELEASE.metalink: unreadable ({exc})") from None
    strip = lambda tag: tag.rsplit("}", 1)[-1]  # noqa: E731  (metalink uses an XML namespace)
    release = next((el.text for el in root.iter() if strip(el.tag) == "version"), None)
    for el in root.iter():
        if strip(el.tag) == "file" and el.get("name") == SPROT_FILE:
            size = next((int(c.text) for c in el.iter() if strip(c.tag) == "size"), None)
            md5 = next((c.text.strip() for c in el.iter() if strip(c.tag) == "hash" and c.get("type") == "md5"),
                       None)
            return RemoteFile(base + SPROT_FILE, size, md5, release)
    raise PslError(f"{base}RELEASE.metalink: no entry for {SPROT_FILE}")


def download(remote: RemoteFile, dest: Path, *, timeout: float = 60, progress: bool = True) -> Path:
    """Fetch ``remote`` to ``dest``, resuming a partial ``dest.part``, and verify size and MD5.

    Returns ``dest``. A ``dest`` already present with the right size and MD5 is not fetched again.

    Raises
    ------
    PslError
        When the server cannot be reached, or the finished file has the wrong size or checksum
        (the partial file is then deleted, so the next run starts clean).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and _verified(dest, remote):
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if remote.size is None or have < remote.size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        with _get(remote.url, timeout, headers) as response:
            if have and response.status != 206:  # server ignored the Range header: start over
                have = 0
            mode = "ab" if have else "wb"
            with open(part, mode) as out, tqdm(total=remote.size, initial=have, unit="B", unit_scale=True,
                                               desc="download", disable=not progress) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
    got = part.stat().st_size
    if remote.size is not None and got != remote.size:
        raise PslError(f"{part}: {got} bytes, expected {remote.size} (connection dropped?); "
                       "run again to resume")
    if remote.md5 is not None and file_checksum(part, "md5") != remote.md5.lower():
        part.unlink()
        raise PslError(f"{remote.url}: MD5 mismatch after download; the partial file was deleted, run again")
    part.replace(dest)
    return dest


def _verified(path: Path, remote: RemoteFile) -> bool:
    if remote.size is not None and path.stat().st_size != remote.size:
        return False
    return remote.md5 is None or file_checksum(path, "md5") == remote.md5.lower()

