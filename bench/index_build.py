"""Wall time and peak memory of each stage of the Debian index build, and the UniProt parser rate.

    python bench/index_build.py [--download-dir DIR] [--out DIR]

Stages: download (apt-get download metastudent-data, into a fresh temporary folder unless
--download-dir names one that already holds it), unpack, parse (BLAST db + GO mapping into
records), load (DuckDB, atomic), matcher (the 5-mer peptide index). Peak memory is the
process's resident set size, sampled every 20 ms during the stage. The UniProt part parses the
flat-file fixture repeated to ~50k records, with Biopython alone (baseline) and with our record
building and location mapping, and prints records/s for both and the ratio (how much our work on
top of Biopython costs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from Bio import SwissProt

from bench_common import Stage
from build_index import debian
from build_index.load import write_index
from build_index.uniprot import read_swissprot
from pslindex.matcher import build_matcher

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests/data/uniprot/sprot_fixture.dat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--download-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="index folder (default: a temporary one)")
    parser.add_argument("--uniprot-records", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        download_dir = args.download_dir or tmp / "downloads"
        out = args.out or tmp / "index"
        print(f"Debian source (metastudent-data), {os.cpu_count()} cores")
        total = time.perf_counter()
        with Stage("download"):
            deb = debian.fetch_deb(download_dir)
        with Stage("unpack"):
            root = debian.unpack_deb(deb, tmp / "unpacked")
        with Stage("parse"):
            records = list(debian.debian_records(root))
        with Stage("load"):
            counts = write_index(records, out, {"source": "debian", "release": "bench"}, progress=False)
        del records
        with Stage("matcher"):
            build_matcher(out)
        print(f"{'total':<10} {time.perf_counter() - total:8.1f} s   ({counts['proteins']:,} proteins; "
              "target < 120 s)")

        text = FIXTURE.read_text()
        per_copy = text.count("\n//")
        big = tmp / "sprot_repeated.dat"
        big.write_text(text * (args.uniprot_records // per_copy + 1))
        t0 = time.perf_counter()
        with open(big) as handle:
            n_base = sum(1 for _ in SwissProt.parse(handle))
        base = n_base / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        n_ours = sum(1 for _ in read_swissprot(big))
        ours = n_ours / (time.perf_counter() - t0)
        print(f"\nUniProt flat-file parser, {n_ours:,} records (fixture entries repeated)")
        print(f"Biopython SwissProt.parse alone  {base:9,.0f} records/s")
        print(f"read_swissprot (ours)            {ours:9,.0f} records/s   ratio ours/baseline {ours / base:.2f}"
              "   target >= 5,000/s")


if __name__ == "__main__":
    main()
