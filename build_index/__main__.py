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

from build_index import download
from build_index.build import build, log
from pslindex.errors import ArgumentParser, cli_main
from pslindex.store import DEFAULT_INDEX_DIR, open_index


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


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    counts = build(args.out, source=args.source, download_dir=args.download_dir, uniprot_url=args.uniprot_url,
                   progress=not args.quiet)
    log(f"built in {time.time() - started:.0f} s: {counts['proteins']:,} proteins, "
        f"{counts['proteins_with_class']:,} with at least one class")
    with open_index(args.out) as index:
        print(index.class_counts().to_string(index=False))
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())

