"""``python -m build_index``: obtain Swiss-Prot with locations and build ``data/index/sprot.duckdb``.

Sources (SPEC section 4), tried in this order by ``--source auto``:

1. a local file: ``--source PATH`` (``uniprot_sprot.dat[.gz]``, a UniProt TSV export with the
   ``Subcellular location [CC]`` column, a plain FASTA (sequences only, no locations), a
   ``metastudent-data`` ``.deb``, or its unpacked data folder), or a UniProt download already
   complete in ``--download-dir``;
2. ``uniprot``: download the current ``uniprot_sprot.dat.gz`` (resumable, size- and MD5-checked);
3. ``debian``: ``apt-get download metastudent-data`` (Swiss-Prot 2014-01 with GO annotations).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from build_index import debian, download, plain, uniprot
from build_index.load import write_index
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import check_replaceable, file_checksum, output_folder
from pslindex.matcher import FILES as MATCHER_FILES
from pslindex.matcher import build_matcher
from pslindex.store import DEFAULT_INDEX_DIR, open_index

# What an index folder built before output markers holds (it may be replaced by a new build).
INDEX_FILES = frozenset({"sprot.duckdb", *MATCHER_FILES})


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m build_index", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="auto",
                        help="auto | uniprot | debian | PATH to a local source (default: auto)")
    parser.add_argument("--out", type=Path, default=DEFAULT_INDEX_DIR, help="index folder (default: data/index)")
    parser.add_argument("--download-dir", type=Path, default=Path("data/downloads"),
                        help="where downloads are kept between runs (default: data/downloads)")
    parser.add_argument("--uniprot-url", default=download.UNIPROT_BASE, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    check_replaceable(args.out, "build_index", INDEX_FILES)  # before any download or parsing
    records, meta = resolve_source(args)
    log(f"building {args.out} from {meta['source']} ({meta['release']})")
    # The index and its matcher are built in a private folder and replace --out together, so no
    # kill or Ctrl-C can pair a new sprot.duckdb with an old matcher.
    with output_folder(args.out, "build_index", legacy=INDEX_FILES) as tmp:
        counts = write_index(records, tmp, meta, progress=not args.quiet)
        log("building the peptide matcher (5-mer index)")
        build_matcher(tmp)
    log(f"built in {time.time() - started:.0f} s: {counts['proteins']:,} proteins, "
        f"{counts['proteins_with_class']:,} with at least one class")
    with open_index(args.out) as index:
        print(index.class_counts().to_string(index=False))
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())

