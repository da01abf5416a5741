"""Hit rate of high-attribution peptides against Swiss-Prot (SPEC sections 6-7).

``python -m pslindex.hitrate attributions.parquet [--index data/index] [--label true|pred|both]
[--window 5 --k 2] [--merge-adjacent] [--profile] [--out results/hitrate]``

Writes ``OUT/hitrates.duckdb`` with tables

* ``attributions`` (one row per input row, without scores), ``peptides`` (extracted peptides),
* ``matches`` (peptide_id, match_accession, match_position, distance, beta, classes): every
  Swiss-Prot entry holding the peptide, the protein itself and entries without a location excluded,
  nearest occurrence per entry,
* ``peptide_hitrates`` and ``protein_hitrates`` (hit rate against the true and the predicted label;
  NULL where undefined), ``groups`` (the paper's Tables 2-3), ``protein_profiles`` with --profile,

and ``OUT/hitrates.parquet`` (= ``protein_hitrates``). Join with the index via
``ATTACH 'data/index/sprot.duckdb' AS idx``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pslindex.classes import ALPHABET, CLASSES
from pslindex.errors import PslError, cli_main
from pslindex.extract import extract_peptides
from pslindex.files import read_parquet_columns
from pslindex.matcher import KmerIndex
from pslindex.store import DEFAULT_INDEX_DIR, index_file, open_index

# SPEC section 5: the attributions.parquet schema.
COLUMNS = ("run_id", "model", "method", "accession", "sequence", "true_label", "pred_label", "probs", "scores")
GROUPS = (  # (name, label judged against); "correct" rows have true == pred, the others true != pred
    ("correct", "true"),
    ("wrong, vs predicted", "pred"),
    ("wrong, vs true", "true"),
)


def read_attributions(path: Path) -> pd.DataFrame:
    """Read and validate an ``attributions.parquet`` (SPEC 5). Raises PslError naming file and row."""
    path = Path(path)
    df = read_parquet_columns(path, COLUMNS, purpose="the hit rate")
    known = set(CLASSES)
    letters = set(ALPHABET)
    for i, row in enumerate(df.itertuples(index=False)):
        where = f"{path}: row {i} ({row.accession}, {row.method})"
        for col in ("true_label", "pred_label"):
            if getattr(row, col) not in known:
                raise PslError(f"{where}: {col} {getattr(row, col)!r} is not one of the ten classes")
        if not isinstance(row.sequence, str) or not row.sequence:
            raise PslError(f"{where}: empty sequence")
        if set(row.sequence) - letters:
            raise PslError(f"{where}: sequence has letters outside {ALPHABET}: "
                           f"{''.join(sorted(set(row.sequence) - letters))}")
        if row.scores is None or len(row.scores) != len(row.sequence):
            n = 0 if row.scores is None else len(row.scores)
            raise PslError(f"{where}: {n} scores for a sequence of length {len(row.sequence)}")
    return df


def peptides_table(df: pd.DataFrame, *, window: int = 5, k: float = 2.0, merge_adjacent: bool = False) -> pd.DataFrame:
    """Extract peptides from every row. Returns columns ``row_id, peptide_id, start, end, peptide``."""
    rows = []
    for row_id, (sequence, scores) in enumerate(zip(df["sequence"], df["scores"], strict=True)):
        for p in extract_peptides(sequence, np.asarray(scores, dtype=np.float64), window=window, k=k,
                                  merge_adjacent=merge_adjacent):
            rows.append((row_id, p.start, p.end, p.peptide))
    out = pd.DataFrame(rows, columns=["row_id", "start", "end", "peptide"])
    out.insert(1, "peptide_id", np.arange(len(out), dtype=np.int64))
    return out.astype({"row_id": np.int64, "start": np.int64, "end": np.int64})


def bootstrap_ci(values: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; (nan, nan) for an empty sample."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


MATCHES_SQL = r"""
CREATE TABLE matches AS
WITH self AS (
    SELECT DISTINCT r.accession,
           coalesce(a.primary_accession, regexp_replace(r.accession, '-\d+$', '')) AS self_primary
    FROM attributions r LEFT JOIN idx.accessions a ON a.accession = regexp_replace(r.accession, '-\d+$', '')
), nearest AS (
    SELECT p.peptide_id, h.accession AS match_accession,
           arg_min(h.position, abs(h.position - p.start)) AS match_position,
           min(abs(h.position - p.start)) AS distance
    FROM peptides p
    JOIN attributions r USING (row_id)
    JOIN self s ON s.accession = r.accession
    JOIN hits h ON h.peptide = p.peptide
    WHERE regexp_replace(h.accession, '-\d+$', '') <> s.self_primary
    GROUP BY p.peptide_id, h.accession
)
SELECT n.*, CASE WHEN n.distance = 0 THEN 1.0 ELSE 1.0 / n.distance END AS beta, pc.classes
FROM nearest n JOIN idx.protein_classes pc ON pc.accession = n.match_accession
ORDER BY n.peptide_id, n.match_accession;

CREATE TABLE peptide_hitrates AS
SELECT p.peptide_id, p.row_id, p.peptide, p.start, count(m.match_accession) AS n_matches,
       -- undefined (NULL, never 0 or NaN) when no entry matches
       CASE WHEN count(m.match_accession) > 0 THEN
           sum(CASE WHEN list_contains(m.classes, r.true_label) THEN m.beta ELSE 0 END) / count(m.match_accession)
       END AS hitrate_true,
       CASE WHEN count(m.match_accession) > 0 THEN
           sum(CASE WHEN list_contains(m.classes, r.pred_label) THEN m.beta ELSE 0 END) / count(m.match_accession)
       END AS hitrate_pred
FROM peptides p JOIN attributions r USING (row_id) LEFT JOIN matches m USING (peptide_id)
GROUP BY ALL ORDER BY p.peptide_id;

CREATE TABLE protein_hitrates AS
SELECT r.row_id, r.run_id, r.model, r.method, r.accession, r.true_label, r.pred_label,
       r.true_label = r.pred_label AS correct,
       count(ph.peptide_id) AS n_peptides, count(ph.hitrate_true) AS n_peptides_matched,
       avg(ph.hitrate_true) AS hitrate_true, avg(ph.hitrate_pred) AS hitrate_pred
FROM attributions r LEFT JOIN peptide_hitrates ph USING (row_id)
GROUP BY ALL ORDER BY r.row_id;
"""

PROFILE_SQL = """
CREATE TABLE protein_profiles AS
WITH per_peptide AS (
    SELECT p.row_id, p.peptide_id, c.class,
           sum(CASE WHEN list_contains(m.classes, c.class) THEN m.beta ELSE 0 END) / count(*) AS hitrate
    FROM peptides p JOIN matches m USING (peptide_id) CROSS JOIN class_names c
    GROUP BY ALL
)
SELECT r.row_id, r.run_id, r.model, r.method, r.accession, pp.class, avg(pp.hitrate) AS hitrate
FROM per_peptide pp JOIN attributions r USING (row_id) GROUP BY ALL ORDER BY r.row_id, pp.class;
"""


def protein_groups(proteins: pd.DataFrame, labels: str = "both"):
    """The paper's groups of one (model, method) slice of ``protein_hitrates``.

    Yields ``(group name, label judged against, rows of the group, defined hit rates as an array)``;
    ``labels`` "true" or "pred" keeps only the wrong-prediction group judged against that label.
    """
    for name, label in GROUPS:
        if labels != "both" and label != labels and name != "correct":
            continue
        rows = proteins[proteins.correct] if name == "correct" else proteins[~proteins.correct]
        yield name, label, rows, rows[f"hitrate_{label}"].dropna().to_numpy()


def group_table(con: duckdb.DuckDBPyConnection, labels: str = "both", *, n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """The paper's grouped table: per (run, model, method, group) n, mean and 95 % bootstrap CI."""
    proteins = con.execute("SELECT * FROM protein_hitrates").df()
    peptides = con.execute("SELECT p.row_id, p.n_matches FROM peptide_hitrates p").df()
    out = []
    for (run_id, model, method), part in proteins.groupby(["run_id", "model", "method"], sort=True):
        for name, _, rows, values in protein_groups(part, labels):
            lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
            peps = peptides[peptides.row_id.isin(rows.row_id)]
            out.append({"run_id": run_id, "model": model, "method": method, "group": name,
                        "proteins": len(rows), "n": len(values),
                        "mean": float(values.mean()) if len(values) else float("nan"), "ci_low": lo, "ci_high": hi,
                        "proteins_no_match": int(rows.hitrate_true.isna().sum()),
                        "peptides": len(peps), "peptides_no_match": int((peps.n_matches == 0).sum())})
    return pd.DataFrame(out)


def compute(attributions: pd.DataFrame, index_dir: Path, out_file: Path, *, window: int = 5, k: float = 2.0,
            merge_adjacent: bool = False, labels: str = "both", profile: bool = False,
            matcher: KmerIndex | None = None) -> pd.DataFrame:
    """Run extraction, matching and hit rates; write every table into the DuckDB file ``out_file``.

    Returns the grouped table.
    """
    peptides = peptides_table(attributions, window=window, k=k, merge_adjacent=merge_adjacent)
    matcher = matcher or KmerIndex.load(index_dir)
    hits = matcher.find(peptides["peptide"].tolist()).astype({"peptide": str, "accession": str})
    rows = attributions.drop(columns=["scores", "probs"]).assign(row_id=np.arange(len(attributions)))
    con = duckdb.connect(str(out_file))
    try:
        con.execute("ATTACH ? AS idx (READ_ONLY)", [str(index_file(index_dir))])
        for name, frame in (("attributions", rows), ("peptides", peptides), ("hits", hits),
                            ("class_names", pd.DataFrame({"class": list(CLASSES)}))):
            con.register(f"{name}_df", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_df")  # fixed table names only
            con.unregister(f"{name}_df")
        con.execute(MATCHES_SQL)
        if profile:
            con.execute(PROFILE_SQL)
        groups = group_table(con, labels)
        con.register("groups_df", groups)
        con.execute("CREATE TABLE groups AS SELECT * FROM groups_df")
        con.execute("DROP TABLE hits; DROP TABLE class_names")
        con.execute("DETACH idx")
        return groups
    finally:
        con.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pslindex.hitrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("attributions", type=Path, help="attributions.parquet (SPEC 5)")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="index folder (default: data/index)")
    parser.add_argument("--label", choices=("true", "pred", "both"), default="both",
                        help="judge wrong predictions against the true label, the predicted one, or both")
    parser.add_argument("--window", type=int, default=5, help="window length w (default 5)")
    parser.add_argument("--k", type=float, default=2.0, help="threshold mean + k*sd (default 2)")
    parser.add_argument("--merge-adjacent", action="store_true", help="also merge windows that only touch")
    parser.add_argument("--profile", action="store_true", help="also the hit rate against each of the ten classes")
    parser.add_argument("--out", type=Path, default=Path("results/hitrate"), help="output folder")
    return parser


def format_groups(groups: pd.DataFrame) -> str:
    shown = groups.assign(**{"95% CI": [f"[{lo:.3f}, {hi:.3f}]" if not np.isnan(lo) else "-"
                                        for lo, hi in zip(groups.ci_low, groups.ci_high, strict=True)]})
    shown["mean"] = shown["mean"].map(lambda v: "-" if np.isnan(v) else f"{v:.3f}")
    return shown[["model", "method", "group", "proteins", "n", "mean", "95% CI", "proteins_no_match",
                  "peptides", "peptides_no_match"]].to_string(index=False)


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.window < 1 or args.k < 0:
        raise PslError(f"--window must be >= 1 and --k >= 0 (got {args.window}, {args.k})")
    started = time.time()
    with open_index(args.index) as index:
        meta = index.meta()
    attributions = read_attributions(args.attributions)
    out = args.out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        groups = compute(attributions, args.index, tmp / "hitrates.duckdb", window=args.window, k=args.k,
                         merge_adjacent=args.merge_adjacent, labels=args.label, profile=args.profile)
        with duckdb.connect(str(tmp / "hitrates.duckdb"), read_only=True) as con:
            con.execute("SELECT * FROM protein_hitrates").df().to_parquet(tmp / "hitrates.parquet", index=False)
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"Swiss-Prot index: {meta.get('source')} ({meta.get('release')}), built {meta.get('built_at')}")
    print(f"Hit rate, window {args.window}, k {args.k:g}; {len(attributions)} rows in {time.time() - started:.1f} s")
    print(format_groups(groups))
    print(f"\nresults: {out / 'hitrates.duckdb'} and {out / 'hitrates.parquet'}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
