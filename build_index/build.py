"""Building an index folder: the source resolved (UniProt, Debian, a local file), parsed, loaded, matched.

The library side of ``python -m build_index`` (``build_index/__main__.py`` is its command line).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

from build_index import debian, download, plain, uniprot
from build_index.load import write_index
from pslindex.errors import PslError
from pslindex.files import check_replaceable, file_checksum, output_folder
from pslindex.matcher import FILES as MATCHER_FILES
from pslindex.matcher import build_matcher

HOMOLOG_CACHE = "homologs"  # pslindex.homologs' cache folder inside the index folder

# What an index folder built before output markers holds (it may be replaced by a new build).
INDEX_FILES = frozenset({"sprot.duckdb", *MATCHER_FILES})


logger = logging.getLogger("build_index")


def log(message: str) -> None:
    """Progress of the build, through logging (the command line shows it on stderr)."""
    logger.info(message)


def _local(path: Path, args) -> tuple[object, dict]:
    """Records and meta for a local source file or folder."""
    if not path.exists():
        raise PslError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix == ".deb":
        return _debian(args, deb=path if path.suffix == ".deb" else None,
                       root=path if path.is_dir() else None)
    kind = plain.sniff(path)
    meta = {"source": {"swissprot": "uniprot-local", "tsv": "uniprot-tsv", "fasta": "fasta"}[kind],
            "input": str(path), "input_size": str(path.stat().st_size),
            "input_md5": file_checksum(path, "md5"), "release": "unknown (local file)"}
    if kind == "tsv":
        return plain.read_uniprot_tsv(path), meta
    if kind == "fasta":
        meta["release"] = "sequences only, no locations (local FASTA)"
        return plain.read_plain_fasta(path), meta
    return uniprot.read_swissprot(path), meta


def _uniprot(args) -> tuple[object, dict]:
    remote = download.uniprot_sprot_info(args.uniprot_url)
    log(f"downloading UniProt release {remote.release} ({remote.size} bytes)")
    path = download.download(remote, args.download_dir / download.SPROT_FILE, progress=not args.quiet)
    meta = {"source": "uniprot", "input": remote.url, "release": remote.release or "unknown",
            "input_size": str(path.stat().st_size), "input_md5": remote.md5 or file_checksum(path, "md5")}
    return uniprot.read_swissprot(path), meta


def _debian(args, deb: Path | None = None, root: Path | None = None) -> tuple[object, dict]:
    meta = {"source": "debian", "release": "Swiss-Prot 2014-01 (metastudent-data)"}
    if root is None:
        if deb is None:
            log("fetching Debian package metastudent-data with apt-get download")
            deb = debian.fetch_deb(args.download_dir)
        meta.update(input=str(deb), input_size=str(deb.stat().st_size), input_sha256=file_checksum(deb))
        log(f"unpacking {deb.name}")
        root = debian.unpack_deb(deb, args.download_dir / "metastudent-data")
    else:
        meta["input"] = str(root)
    meta["release"] += f", dataversion {debian.data_version(root)}"
    return debian.debian_records(root), meta


def resolve_source(args) -> tuple[object, dict]:
    """Pick the source as ``--source`` says; for ``auto``, log which one and why."""
    if args.source == "uniprot":
        return _uniprot(args)
    if args.source == "debian":
        return _debian(args)
    if args.source != "auto":
        if "/" not in args.source and "." not in args.source:
            raise PslError(f"--source {args.source!r} is not a source; use auto, uniprot, debian or a file path")
        return _local(Path(args.source), args)
    previous = args.download_dir / download.SPROT_FILE
    if previous.is_file():
        log(f"source auto: using the UniProt download already in {previous}")
        return _local(previous, args)
    try:
        return _uniprot(args)
    except PslError as exc:
        log(f"source auto: UniProt unavailable ({exc}); falling back to the Debian package")
    return _debian(args)


def build(out: Path, *, source: str = "auto", download_dir: Path = Path("data/downloads"),
          uniprot_url: str = download.UNIPROT_BASE, progress: bool = True) -> dict:
    """Build the index folder ``out`` (``sprot.duckdb`` and the peptide matcher) from ``source``.

    ``source``: auto | uniprot | debian | a path (flat file, TSV export, FASTA, .deb or unpacked
    folder). ``out`` is checked before any download and replaced only as a whole, when absent or a
    previous index (the index and its matcher are built in a private folder and replace ``out``
    together, so no kill or Ctrl-C can pair a new sprot.duckdb with an old matcher). Returns the
    counts of :func:`build_index.load.write_index`.
    """
    out = Path(out)
    args = SimpleNamespace(source=source, download_dir=Path(download_dir), uniprot_url=uniprot_url, quiet=not progress)
    check_replaceable(out, "build_index", INDEX_FILES)  # before any download or parsing
    records, meta = resolve_source(args)
    log(f"building {out} from {meta['source']} ({meta['release']})")
    with output_folder(out, "build_index", legacy=INDEX_FILES) as tmp:
        counts = write_index(records, tmp, meta, progress=progress)
        log("building the peptide matcher (5-mer index)")
        build_matcher(tmp)
        # The hit rate's homolog cache lives in the index folder but is not ours to delete: carried into
        # the new folder (hard links, no copy). Its entries are keyed by the target sequences, so an
        # index of other sequences simply misses them.
        if (out / HOMOLOG_CACHE).is_dir():
            shutil.copytree(out / HOMOLOG_CACHE, tmp / HOMOLOG_CACHE, copy_function=os.link, symlinks=True)
    return counts
