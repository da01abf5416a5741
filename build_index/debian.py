"""Swiss-Prot 2014-01 from Debian's ``metastudent-data`` package (SPEC section 4, source 3).

The package ships Swiss-Prot sequences as a BLAST version-4 protein database
(``CCO/goasp.fasta.{pin,psq,phr}``) with GO cellular-component annotations
(``CCO/goasp_annot.dat``) and a GO transitive closure (``fullTransitiveClosureGO.txt``).
This module reads those files directly, so neither BLAST nor an installed package is needed:
the ``.deb`` is fetched with ``apt-get download`` and unpacked in Python.

BLAST v4 layout (NCBI ``readdb`` format; all integers big-endian except the residue total):

* ``.pin``: version (4), type (1 = protein), title, date, sequence count N, residue total (8 bytes,
  little-endian), longest length, then N+1 header offsets and N+1 sequence offsets.
* ``.psq``: residues in NCBIstdaa codes, each sequence followed by a 0 byte.
* ``.phr``: one BER-encoded ``Blast-def-line-set`` per sequence; its first defline's title is
  ``ACCESSION|GO:...,GO:...``.
"""

from __future__ import annotations

import lzma
import os
import shutil
import struct
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from build_index.mapping import GoClassMapper
from build_index.records import ProteinRecord
from pslindex.errors import PslError
from pslindex.files import file_checksum

PACKAGE = "metastudent-data"
# Members of the package the index needs, relative to the package's data root.
DATA_ROOT = "usr/share/metastudent-data"
CCO_PREFIX = "dataset_201401/CCO/goasp.fasta"
ANNOTATION_FILE = "dataset_201401/CCO/goasp_annot.dat"
CLOSURE_FILE = "dataset_201401/fullTransitiveClosureGO.txt"
VERSION_FILE = "dataversion.txt"
NEEDED = (CCO_PREFIX + ".pin", CCO_PREFIX + ".psq", CCO_PREFIX + ".phr", ANNOTATION_FILE, CLOSURE_FILE,
          VERSION_FILE)

# NCBIstdaa code -> one-letter residue; codes outside the project's alphabet become "?" and are refused.
NCBISTDAA = "-ABCDEFGHIKLMNPQRSTVWXYZU*OJ"


@dataclass(frozen=True)
class BlastDb:
    """A BLAST v4 protein database read into memory.

    Attributes
    ----------
    title, date : str
        As stored in the ``.pin`` file.
    titles : list of str, length N
        The first defline title of each sequence.
    residues : bytes
        All sequences as ASCII letters, concatenated; sequence i is
        ``residues[starts[i]:ends[i]]``.
    starts, ends : ndarray of int64, shape (N,)
    """

    title: str
    date: str
    titles: list[str]
    residues: bytes
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.titles)

    def sequence(self, i: int) -> str:
        return self.residues[self.starts[i]:self.ends[i]].decode("ascii")


def _read_string(data: bytes, pos: int, path: Path) -> tuple[str, int]:
    if pos + 4 > len(data):
        raise PslError(f"{path}: truncated BLAST index header")
    (n,) = struct.unpack_from(">I", data, pos)
    if pos + 4 + n > len(data):
        raise PslError(f"{path}: truncated BLAST index header")
    return data[pos + 4:pos + 4 + n].split(b"\0", 1)[0].decode("latin-1"), pos + 4 + n


def read_blastdb(prefix: Path) -> BlastDb:
    """Read a BLAST v4 protein database given its path without the ``.pin`` suffix.

    Raises
    ------
    PslError
        If a file is missing, is not a version-4 protein database, or its sizes disagree.
    """
    prefix = Path(prefix)
    paths = {ext: Path(f"{prefix}.{ext}") for ext in ("pin", "psq", "phr")}
    for path in paths.values():
        if not path.is_file():
            raise PslError(f"{path}: missing BLAST database file")
    pin_path = paths["pin"]
    pin = pin_path.read_bytes()
    if len(pin) < 8:
        raise PslError(f"{pin_path}: not a BLAST database index (too short)")
    version, dbtype = struct.unpack_from(">II", pin, 0)
    if version != 4:
        raise PslError(f"{pin_path}: BLAST database version {version}, expected 4")
    if dbtype != 1:
        raise PslError(f"{pin_path}: not a protein BLAST database (type {dbtype})")
    title, pos = _read_string(pin, 8, pin_path)
    date, pos = _read_string(pin, pos, pin_path)
    if pos + 16 > len(pin):
        raise PslError(f"{pin_path}: truncated BLAST index header")
    (n,) = struct.unpack_from(">I", pin, pos)
    (total,) = struct.unpack_from("<Q", pin, pos + 4)
    pos += 16
    if len(pin) != pos + 8 * (n + 1):
        raise PslError(f"{pin_path}: {len(pin)} bytes, expected {pos + 8 * (n + 1)} for {n} sequences")
    hdr_off = np.frombuffer(pin, ">u4", n + 1, pos).astype(np.int64)
    seq_off = np.frombuffer(pin, ">u4", n + 1, pos + 4 * (n + 1)).astype(np.int64)

    psq = np.fromfile(paths["psq"], dtype=np.uint8)
    if len(psq) < seq_off[-1]:
        raise PslError(f"{paths['psq']}: {len(psq)} bytes, the index says {seq_off[-1]} (truncated?)")
    starts, ends = seq_off[:-1], seq_off[1:] - 1  # each sequence is followed by a 0 separator
    if int((ends - starts).sum()) != total:
        raise PslError(f"{pin_path}: residue total {total} disagrees with the sequence offsets")
    lut = np.frombuffer(NCBISTDAA.encode().ljust(256, b"?"), dtype=np.uint8)
    letters = lut[psq]
    letters[ends] = ord("\n")  # separators; never part of a sequence slice
    valid = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWYXBZUO\n", np.uint8)
    bad = seq_off[0] + np.flatnonzero(~np.isin(letters[seq_off[0]:seq_off[-1]], valid))

    phr = paths["phr"].read_bytes()
    if len(phr) < hdr_off[-1]:
        raise PslError(f"{paths['phr']}: {len(phr)} bytes, the index says {hdr_off[-1]} (truncated?)")
    titles = [_defline_title(phr, int(hdr_off[i]), paths["phr"], i) for i in range(n)]
    if len(bad):
        i = int(np.searchsorted(ends, bad[0]))
        raise PslError(f"{paths['psq']}: {titles[i].split('|')[0]}: residue code {psq[bad[0]]} is not in the alphabet")
    return BlastDb(title, date, titles, letters.tobytes(), starts, ends)


_DEFLINE_START = b"\x30\x80\x30\x80\xa0\x80\x1a"  # SEQUENCE OF { Blast-def-line { title VisibleString


def _defline_title(phr: bytes, off: int, path: Path, i: int) -> str:
    if phr[off:off + 7] != _DEFLINE_START:
        raise PslError(f"{path}: sequence {i}: header is not a BLAST defline set")
    pos = off + 7
    length = phr[pos]
    pos += 1
    if length & 0x80:  # BER long form: the low bits count the length bytes that follow
        k = length & 0x7F
        length = int.from_bytes(phr[pos:pos + k], "big")
        pos += k
    return phr[pos:pos + length].decode("latin-1")


def read_go_annotations(path: Path) -> dict[str, list[str]]:
    """``goasp_annot.dat``: one line per protein, ``ACCESSION<TAB>GO:...<TAB>GO:...``."""
    annotations: dict[str, list[str]] = {}
    try:
        with open(path, encoding="ascii") as handle:
            for line_no, line in enumerate(handle, 1):
                fields = line.split()
                if not fields:
                    continue
                if any(not t.startswith("GO:") for t in fields[1:]):
                    raise PslError(f"{path}: line {line_no}: {fields[0]}: expected GO terms after the accession")
                annotations[fields[0]] = fields[1:]
    except OSError as exc:
        raise PslError(f"{path}: cannot read GO annotations ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise PslError(f"{path}: not a GO annotation file (non-ASCII bytes)") from None
    return annotations


def debian_records(root: Path) -> Iterator[ProteinRecord]:
    """Yield one :class:`ProteinRecord` per sequence of an unpacked ``metastudent-data`` tree.

    ``root`` is the package's data root (the folder holding ``dataset_201401/``). Entries carry
    accession, sequence and their GO terms mapped to classes; this source has no entry names,
    organisms, lineages or evidence codes.
    """
    root = Path(root)
    mapper = GoClassMapper.from_file(root / CLOSURE_FILE)
    annotations = read_go_annotations(root / ANNOTATION_FILE)
    db = read_blastdb(root / CCO_PREFIX)
    for i, title in enumerate(db.titles):
        accession = title.split("|", 1)[0].strip()
        yield ProteinRecord(
            accession=accession,
            sequence=db.sequence(i),
            locations=mapper.locations(annotations.get(accession, ())),
        )


def data_version(root: Path) -> str:
    path = Path(root) / VERSION_FILE
    return path.read_text().strip() if path.is_file() else "unknown"


# --- obtaining the package -------------------------------------------------------------------


def _apt_field(package: str, name: str) -> str | None:
    """One field of ``apt-cache show`` for the candidate version, or None if apt knows nothing."""
    try:
        out = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True,
                             text=True, check=False).stdout
    except OSError:
        return None
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def fetch_deb(download_dir: Path, package: str = PACKAGE) -> Path:
    """Download ``package``'s ``.deb`` into ``download_dir`` with ``apt-get download``.

    A ``.deb`` already there is reused when it matches apt's SHA256. apt itself verifies the file
    against the signed package index; we check size and SHA256 once more before use.
    """
    download_dir.mkdir(parents=True, exist_ok=True)
    expected = _apt_field(package, "SHA256")
    if expected is None and shutil.which("apt-get") and os.geteuid() == 0:
        # A fresh machine (CI) may have empty package lists: refresh once.
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        expected = _apt_field(package, "SHA256")
    if expected is None:
        raise PslError(f"apt does not know the package {package}: is this a Debian/Ubuntu machine "
                       "with package lists (run 'apt-get update')?")
    for existing in sorted(download_dir.glob(f"{package}_*.deb")):
        if file_checksum(existing) == expected:
            return existing
    result = subprocess.run(["apt-get", "download", package], cwd=download_dir, capture_output=True,
                            text=True, check=False)
    debs = sorted(download_dir.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if result.returncode != 0 or not debs:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PslError(f"apt-get download {package} failed: {last}")
    deb = debs[-1]
    size = _apt_field(package, "Size")
    if size is not None and deb.stat().st_size != int(size):
        raise PslError(f"{deb}: {deb.stat().st_size} bytes, apt expects {size} (truncated download)")
    if file_checksum(deb) != expected:
        raise PslError(f"{deb}: SHA256 differs from apt's package index; delete it and retry")
    return deb


def unpack_deb(deb: Path, dest: Path, members: tuple[str, ...] = NEEDED) -> Path:
    """Extract ``members`` (paths below the package data root) of a ``.deb`` into ``dest``.

    A ``.deb`` is an ``ar`` archive whose ``data.tar.*`` holds the files; both are read here with
    the standard library, so ``dpkg`` is not needed. Returns the data root inside ``dest``.
    Extraction goes to a temporary folder that is renamed into place when complete.
    """
    root = dest / DATA_ROOT
    if all((root / m).is_file() for m in members):
        return root
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    wanted = {f"./{DATA_ROOT}/{m}" for m in members}
    try:
        with open(deb, "rb") as handle:
            if handle.read(8) != b"!<arch>\n":
                raise PslError(f"{deb}: not a Debian package (no ar header)")
            while True:
                header = handle.read(60)
                if len(header) < 60:
                    raise PslError(f"{deb}: no data.tar member (truncated package?)")
                name = header[:16].decode().strip().rstrip("/")
                size = int(header[48:58].decode().strip())
                if name.startswith("data.tar"):
                    break
                handle.seek(size + (size & 1), os.SEEK_CUR)
            with tarfile.open(fileobj=handle, mode="r|*") as tar:
                for member in tar:
                    if member.name in wanted and member.isfile():
                        member.name = member.name[len(f"./{DATA_ROOT}/"):]
                        tar.extract(member, tmp / DATA_ROOT, filter="data")
                        wanted.discard(f"./{DATA_ROOT}/{member.name}")
                        if not wanted:
                            break
    except (EOFError, lzma.LZMAError, tarfile.TarError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PslError(f"{deb}: damaged package archive ({exc}); delete it and retry") from None
    if wanted:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PslError(f"{deb}: missing {sorted(wanted)[0]} (not the expected {PACKAGE} package?)")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return root
