"""Peptide matcher throughput: our 5-mer index against pyahocorasick (and pepmatch if installed).

    python bench/matcher.py [--index data/index] [--sizes 1000,10000,100000]

Builds the matcher for the index (timed), then for each batch size draws peptides of length
5-15 from random Swiss-Prot entries (real windows, which hit at least their source) and the
same windows shuffled, and times every method on the same batch in the same run. Ours runs
``--repeats`` times per batch (the first call, which also pays the page faults of the
memory-mapped index, is shown apart; the table has the median); the baselines run once. Prints
peptides/s and the ratio baseline/ours. Every method's hits are checked against ours (same number
of (peptide, accession, position) triples). Query memory is measured in a fresh process that only
loads the matcher and searches the largest batch (its peak RSS, ``VmHWM``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_common import Stage
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


# Peak RSS from VmHWM: ru_maxrss would also count the benchmark process it was forked from.
QUERY_PROCESS = """
import re, sys, time
from pslindex.matcher import KmerIndex
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
peptides = open(sys.argv[2]).read().split()
matcher = KmerIndex.load(sys.argv[1])
loaded = peak()
t0 = time.perf_counter()
hits = matcher.find(peptides)
print(len(hits), time.perf_counter() - t0, loaded, peak())
"""


def query_process(index_dir: Path, peptides: list[str], tmp: Path) -> tuple[int, float, float, float]:
    """Search ``peptides`` in a fresh process: (hits, seconds, peak RSS after loading, peak RSS) in GiB."""
    path = tmp / "peptides.txt"
    path.write_text("\n".join(peptides))
    out = subprocess.run([sys.executable, "-c", QUERY_PROCESS, str(index_dir), str(path)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 2**20, int(out[3]) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("data/index"))
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours per batch (median reported)")
    parser.add_argument("--skip-aho", action="store_true", help="leave out the (slow) Aho-Corasick baseline")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    index = open_index(args.index)
    sequences = [r[0] for r in index.con.execute("SELECT sequence FROM proteins").fetchall()]
    print(f"index: {len(sequences):,} proteins, {sum(map(len, sequences)):,} residues; {os.cpu_count()} cores")
    with Stage("build") as build:
        build_matcher(args.index)
    print(f"our matcher build: {build.seconds:.1f} s (target <= 15 s)")
    with tempfile.TemporaryDirectory() as tmp:
        pepmatch, pm_build = pepmatch_runner(index, Path(tmp))
        if pepmatch:
            print(f"pepmatch preprocess (k=5): {pm_build:.1f} s")
        else:
            print("pepmatch not installed: pip install pepmatch to include it")
        matcher = KmerIndex.load(args.index)
        matcher.find(["MEEPQSDPSV"])  # numba compile / cache load, outside the timings
        print(f"\n{'peptides':>9} {'method':<14} {'seconds':>8} {'peptides/s':>11} {'this/ours':>9} {'hits':>10}")
        for n in sizes:
            peptides = draw_peptides(sequences, n, seed=n)
            runs = []
            for _ in range(max(args.repeats, 1)):
                t0 = time.perf_counter()
                hits = matcher.find(peptides)
                runs.append(time.perf_counter() - t0)
            ours = statistics.median(runs)
            rows = [("ours (5-mer)", ours, len(hits))]
            if pepmatch:
                t0 = time.perf_counter()
                pm_hits = pepmatch(peptides)
                rows.append(("pepmatch", time.perf_counter() - t0, pm_hits))
            if not args.skip_aho:
                t0 = time.perf_counter()
                idx, _ = aho_corasick_find(list(dict.fromkeys(peptides)), matcher.text)
                rows.append(("pyahocorasick", time.perf_counter() - t0, len(idx)))
            for name, seconds, n_hits in rows:
                flag = "" if n_hits == len(hits) else "  (hit count differs!)"
                print(f"{n:>9,} {name:<14} {seconds:8.2f} {n / seconds:11,.0f} {seconds / ours:9.1f} "
                      f"{n_hits:>10,}{flag}")
            print(f"{'':>9} ours, every run: " + ", ".join(f"{t:.3f} s" for t in runs))
        n_hits, seconds, loaded, peak = query_process(args.index, peptides, Path(tmp))
        print(f"\nfresh process, {n:,} peptides: {n_hits:,} hits in {seconds:.2f} s (first call); peak RSS "
              f"{loaded:.2f} GiB after loading the matcher, {peak:.2f} GiB after the query (target < 2 GiB)")


if __name__ == "__main__":
    main()
