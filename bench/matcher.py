"""Peptide matcher throughput: our 5-mer index against pyahocorasick (and pepmatch if installed).

    python bench/matcher.py [--index data/index] [--sizes 1000,10000,100000]

Builds the matcher for the index (timed), then for each batch size draws peptides of length
5-15 from random Swiss-Prot entries (real windows, which hit at least their source) and the
same windows shuffled, and times every method on the same batch in the same run. Prints
peptides/s, the ratio ours/baseline, and the peak RSS of our query stage. Every method's hits are
checked against ours (same number of (peptide, accession, position) triples).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import Stage, rss
from pslindex import open_index
from pslindex.matcher import KmerIndex, aho_corasick_find, build_matcher


def draw_peptides(sequences: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        seq = sequences[int(rng.integers(len(sequences)))]
        length = int(rng.integers(5, 16))
        if len(seq) <= length:
            continue
        start = int(rng.integers(0, len(seq) - length))
        pep = seq[start:start + length]
        out.append(pep if len(out) % 2 == 0 else "".join(rng.permutation(list(pep))))
    return out


def pepmatch_runner(index, tmp: Path):
    """A function peptides -> number of hits using pepmatch, or None if pepmatch is not installed."""
    try:
        from pepmatch import Matcher, Preprocessor
    except ImportError:
        return None, 0.0
    fasta = tmp / "sprot.fasta"
    with open(fasta, "w") as handle:
        for acc, seq in index.con.execute("SELECT accession, sequence FROM proteins").fetchall():
            handle.write(f">sp|{acc}|{acc}_X\n{seq}\n")
    t0 = time.perf_counter()
    Preprocessor(str(fasta), preprocessed_files_path=str(tmp)).preprocess(k=5)
    build = time.perf_counter() - t0

    def run(peptides):
        long = [p for p in dict.fromkeys(peptides) if len(p) >= 5]
        df = Matcher(long, str(fasta), max_mismatches=0, k=5, preprocessed_files_path=str(tmp),
                     output_format="dataframe").match()
        return int(df.filter(df["Matched Sequence"].is_not_null()).height) if "Matched Sequence" in df.columns \
            else df.height

    return run, build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("data/index"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--skip-aho", action="store_true", help="leave out the (slow) Aho-Corasick baseline")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    index = open_index(args.index)
    sequences = [r[0] for r in index.con.execute("SELECT sequence FROM proteins").fetchall()]
    print(f"index: {len(sequences):,} proteins, {sum(map(len, sequences)):,} residues; {os.cpu_count()} cores")
    with Stage("build") as build:
        build_matcher(args.index)
    print(f"our matcher build: {build.seconds:.1f} s (target <= 15 s)")
    matcher = KmerIndex.load(args.index)
    matcher.find(["MEEPQSDPSV"])  # numba compile / cache load, outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        pepmatch, pm_build = pepmatch_runner(index, Path(tmp))
        if pepmatch:
            print(f"pepmatch preprocess (k=5): {pm_build:.1f} s")
        else:
            print("pepmatch not installed: pip install pepmatch to include it")
        print(f"\n{'peptides':>9} {'method':<14} {'seconds':>8} {'peptides/s':>11} {'ours/this':>9} {'hits':>10}")
        for n in sizes:
            peptides = draw_peptides(sequences, n, seed=n)
            base_rss = rss()
            with Stage("ours", quiet=True) as ours:
                hits = matcher.find(peptides)
            rows = [("ours (5-mer)", ours.seconds, len(hits))]
            if pepmatch:
                t0 = time.perf_counter()
                pm_hits = pepmatch(peptides)
                rows.append(("pepmatch", time.perf_counter() - t0, pm_hits))
            if not args.skip_aho:
                t0 = time.perf_counter()
                idx, _ = aho_corasick_find(list(dict.fromkeys(peptides)), matcher.text)
                rows.append(("pyahocorasick", time.perf_counter() - t0, len(idx)))
            for name, seconds, n_hits in rows:
                ratio = seconds / ours.seconds
                flag = "" if n_hits == len(hits) else "  (hit count differs!)"
                print(f"{n:>9,} {name:<14} {seconds:8.2f} {n / seconds:11,.0f} {ratio:9.1f} {n_hits:>10,}{flag}")
            print(f"{'':>9} ours: query peak RSS {ours.peak / 2**30:.2f} GiB "
                  f"(+{(ours.peak - base_rss) / 2**30:.2f} GiB over the loaded process; target < 2 GiB)")


if __name__ == "__main__":
    main()
