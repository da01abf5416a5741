"""Hit rate end to end: `python -m pslindex.hitrate` on the DeepLoc test partition x 3 methods.

    python bench/hitrate.py [--index data/index] [--attributions FILE] [--repeat 2] [-- HITRATE OPTIONS]

e.g. ``python bench/hitrate.py --repeat 2 -- --exclude-homologs --controls 20``: the first run fills
the homolog cache (the MMseqs2 search), the second is the run a user repeats.

Without ``--attributions`` it writes an attributions.parquet (SPEC 5) for the 2,773 proteins of the
official DeepLoc test partition and three methods, each protein's scores a few seeded Gaussian
bumps on noise (attention-like: SPEC 6 extracts peptides from them), then times the whole CLI
(read and validate the Parquet, load the matcher, extract, match, hit rates, DuckDB and Parquet
out). Target: under 60 s once the index is built. Baseline, on the same peptides: the matching
step alone done by an Aho-Corasick scan of Swiss-Prot (pyahocorasick), as one would without the
5-mer index; the ratio is baseline matching / our whole run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pslindex import hitrate
from pslindex.classes import CLASSES
from pslindex.matcher import KmerIndex, aho_corasick_find
from pslmodels.data import DATA_DIR, read_fasta

METHODS = ("attention", "ig", "shifted")


def bumpy_scores(length: int, rng: np.random.Generator) -> np.ndarray:
    """Noise plus 1-3 Gaussian bumps (sd 3 residues) at random places, float32 (length,)."""
    x = np.arange(length)
    scores = rng.random(length) * 0.1
    for centre in rng.integers(0, length, size=rng.integers(1, 4)):
        scores += np.exp(-0.5 * ((x - centre) / 3.0) ** 2)
    return scores.astype(np.float32)


def synthetic_attributions(seed: int = 0) -> pd.DataFrame:
    """SPEC 5 rows for the DeepLoc test partition x ``METHODS``; predictions equal the true labels."""
    proteins = [p for p in read_fasta(DATA_DIR / "deeploc" / "deeploc_data.fasta.gz") if p.is_test]
    rng = np.random.default_rng(seed)
    records = []
    for method in METHODS:
        for p in proteins:
            probs = np.full(10, 0.01, dtype=np.float32)
            probs[CLASSES.index(p.label)] = 0.91
            records.append({"run_id": "bench", "model": "bilstm-att", "method": method, "accession": p.accession,
                            "sequence": p.sequence, "true_label": p.label, "pred_label": p.label,
                            "probs": probs.tolist(), "scores": bumpy_scores(len(p.sequence), rng).tolist()})
    return pd.DataFrame.from_records(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path("data/index"))
    parser.add_argument("--attributions", type=Path, help="an attributions.parquet to time instead")
    parser.add_argument("--repeat", type=int, default=1, help="time the CLI this many times (caches warm up)")
    parser.add_argument("extra", nargs="*", help="options passed to pslindex.hitrate (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.attributions
        if path is None:
            path = Path(tmp) / "attributions.parquet"
            synthetic_attributions().to_parquet(path, index=False)
        out = Path(tmp) / "results"
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            code = hitrate.main([str(path), "--index", str(args.index), "--out", str(out), *args.extra])
            times.append(time.perf_counter() - t0)
            if code:
                raise SystemExit(code)
        ours = times[-1]
        with duckdb.connect(str(out / "hitrates.duckdb"), read_only=True) as con:
            rows = con.execute("SELECT count(*) FROM attributions").fetchone()[0]
            peptides = [r[0] for r in con.execute("SELECT DISTINCT peptide FROM peptides "
                                                      "WHERE rotation = 0").fetchall()]
        matcher = KmerIndex.load(args.index)
        t0 = time.perf_counter()
        aho_corasick_find(peptides, matcher.text)
        baseline = time.perf_counter() - t0
    print(f"\n{os.cpu_count()} cores; {rows:,} attribution rows, {len(peptides):,} distinct peptides")
    print(f"options: {' '.join(args.extra) or '(defaults)'}; runs: {', '.join(f'{t:.1f} s' for t in times)}")
    print(f"ours, the whole CLI:                 {ours:6.1f} s (target < 60 s)")
    print(f"baseline, Aho-Corasick matching only: {baseline:6.1f} s   ratio {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
