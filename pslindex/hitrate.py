"""Hit rate of high-attribution peptides against Swiss-Prot (SPEC sections 6-7).

``python -m pslindex.hitrate attributions.parquet [--index data/index] [--label true|pred|both]
[--window 5 --k 2] [--merge-adjacent] [--protocol spec|paper] [--exclude-homologs] [--controls 20]
[--control rotation|aa-permuted] [--profile] [--out results/hitrate]``

``--protocol paper`` computes what the authors' released code computes (SPEC 10: single residues
above mean + 2 sd with 2 on each side, all of a protein's peptides pooled, entries weighted
min(len/|d|, 1), 0 when nothing matches, the protein itself kept); the default ``spec`` is SPEC 6-7.
The protocol is recorded in the ``settings`` table. Rows without a true label (a user's own
proteins) form the group ``unlabelled, vs predicted``.

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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pslindex.attributions import IG_TOLERANCE, drop_unsound_ig, protein_groups, read_attributions
from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.extract import CONTROLS, extract_by_protocol
from pslindex.files import check_replaceable, output_folder
from pslindex.homologs import HomologCache, HomologOptions, mmseqs_version, sequence_sha
from pslindex.matcher import KmerIndex
from pslindex.stats import bootstrap_ci, wilcoxon_p
from pslindex.store import DEFAULT_INDEX_DIR, index_file, open_index

# SPEC section 5: the attributions.parquet schema.
COMMAND = "pslindex.hitrate"
HITRATE_FILES = frozenset({"hitrates.duckdb", "hitrates.parquet"})  # an --out folder of a run before markers
def peptides_table(df: pd.DataFrame, *, window: int = 5, k: float = 2.0, merge_adjacent: bool = False,
                   controls: int = 0, seed: int = 0, protocol: str = "spec", control: str = "rotation"
                   ) -> pd.DataFrame:
    """Extract peptides from every row, and from ``controls`` seeded rotations of its scores (SPEC 9.2).

    ``control`` "aa-permuted": the copies permute the scores among residues of the same amino acid instead
    (SPEC 11.4; :data:`pslindex.extract.CONTROLS`); they take the place of the rotations everywhere.

    Returns columns ``row_id, rotation, peptide_id, start, end, peptide``; ``rotation`` 0 is the
    row's own scores, 1..R its rotations (the rotations of row i are the same whatever the other
    rows: each row draws from its own generator, seeded by ``(seed, row_id)``). ``protocol``
    "paper" extracts as the authors did (:func:`extract_peptides_paper`; ``window`` and
    ``merge_adjacent`` do not apply).
    """
    rows = []
    for row_id, (sequence, scores) in enumerate(zip(df["sequence"], df["scores"], strict=True)):
        scores = np.asarray(scores, dtype=np.float64)
        rng = np.random.default_rng([seed, row_id])
        for rotation in range(controls + 1):
            values = scores if rotation == 0 else CONTROLS[control](sequence, scores, rng)
            for p in extract_by_protocol(sequence, values, protocol=protocol, window=window, k=k,
                                         merge_adjacent=merge_adjacent):
                rows.append((row_id, rotation, p.start, p.end, p.peptide))
    out = pd.DataFrame(rows, columns=["row_id", "rotation", "start", "end", "peptide"])
    out.insert(2, "peptide_id", np.arange(len(out), dtype=np.int64))
    return out.astype({"row_id": np.int64, "rotation": np.int32, "start": np.int64, "end": np.int64})


MATCHES_SQL = r"""
CREATE TABLE matches AS
WITH self AS (
    -- the protein's own entry: an accession that is an entry's primary is that entry, even when
    -- another entry lists it as a secondary; otherwise the entry it is a secondary of
    SELECT DISTINCT r.accession,
           CASE WHEN own.accession IS NOT NULL THEN own.accession
                ELSE coalesce(a.primary_accession, regexp_replace(r.accession, '-\d+$', '')) END AS self_primary
    FROM attributions r
    LEFT JOIN idx.proteins own ON own.accession = regexp_replace(r.accession, '-\d+$', '')
    LEFT JOIN idx.accessions a ON a.accession = regexp_replace(r.accession, '-\d+$', '')
), nearest AS (
    SELECT p.peptide_id, ha.accession AS match_accession,
           arg_min(h.position, abs(h.position - p.start)) AS match_position,
           min(abs(h.position - p.start)) AS distance
    FROM peptides p
    JOIN attributions r USING (row_id)
    JOIN self s ON s.accession = r.accession
    JOIN hits h ON h.pep_code = p.pep_code
    JOIN hit_accessions ha ON ha.acc_code = h.acc_code
    ANTI JOIN homologs hg ON hg.query_sha = r.sequence_sha AND hg.target = ha.accession
    WHERE regexp_replace(ha.accession, '-\d+$', '') <> s.self_primary
    GROUP BY p.peptide_id, ha.accession
)
SELECT n.*, CASE WHEN ? = 'none' OR n.distance = 0 THEN 1.0 ELSE 1.0 / n.distance END AS beta, pc.classes
FROM nearest n JOIN idx.protein_classes pc ON pc.accession = n.match_accession
ORDER BY n.peptide_id, n.match_accession;
"""

HITRATES_SQL = r"""
CREATE TABLE peptide_hitrates AS
SELECT p.peptide_id, p.row_id, p.rotation, p.peptide, p.start, count(m.match_accession) AS n_matches,
       -- undefined (NULL, never 0 or NaN) when no entry matches
       CASE WHEN count(m.match_accession) > 0 AND count(r.true_label) > 0 THEN
           sum(CASE WHEN list_contains(m.classes, r.true_label) THEN m.beta ELSE 0 END) / count(m.match_accession)
       END AS hitrate_true,
       CASE WHEN count(m.match_accession) > 0 THEN
           sum(CASE WHEN list_contains(m.classes, r.pred_label) THEN m.beta ELSE 0 END) / count(m.match_accession)
       END AS hitrate_pred
FROM peptides p JOIN attributions r USING (row_id) LEFT JOIN matches m USING (peptide_id)
GROUP BY ALL ORDER BY p.peptide_id;

CREATE TABLE protein_hitrates AS
WITH observed AS (
    SELECT r.row_id, r.run_id, r.model, r.method, r.accession, r.true_label, r.pred_label,
           r.true_label = r.pred_label AS correct,
           count(ph.peptide_id) AS n_peptides, count_if(ph.n_matches > 0) AS n_peptides_matched,
           avg(ph.hitrate_true) AS hitrate_true, avg(ph.hitrate_pred) AS hitrate_pred
    FROM attributions r LEFT JOIN peptide_hitrates ph ON ph.row_id = r.row_id AND ph.rotation = 0
    GROUP BY ALL
), rotations AS (  -- each control rotation's protein hit rate
    SELECT row_id, rotation, avg(hitrate_true) AS h_true, avg(hitrate_pred) AS h_pred
    FROM peptide_hitrates WHERE rotation > 0 GROUP BY row_id, rotation
), control AS (
    SELECT o.row_id, avg(c.h_true) AS control_hitrate_true, avg(c.h_pred) AS control_hitrate_pred,
           count(c.h_true) AS n_true, count(c.h_pred) AS n_pred,
           count_if(c.h_true >= o.hitrate_true) AS ge_true, count_if(c.h_pred >= o.hitrate_pred) AS ge_pred
    FROM observed o LEFT JOIN rotations c USING (row_id) GROUP BY o.row_id
)
-- SPEC 9.2: p = (1 + #{rotations >= observed}) / (1 + R), over the R rotations with a defined hit rate
SELECT o.*, k.control_hitrate_true, k.control_hitrate_pred,
       CASE WHEN o.hitrate_true IS NOT NULL AND k.n_true > 0 THEN (1 + k.ge_true) / (1 + k.n_true) END AS p_true,
       CASE WHEN o.hitrate_pred IS NOT NULL AND k.n_pred > 0 THEN (1 + k.ge_pred) / (1 + k.n_pred) END AS p_pred,
       k.n_true AS n_controls_defined
FROM observed o JOIN control k USING (row_id) ORDER BY o.row_id;
"""

# SPEC 10: the authors' hit rate. Every entry holding one of P's peptides counts once, for the first
# of P's peptides (by position) it holds, at that peptide's first occurrence in it; weight
# min(len / |offset|, 1); hit rate = weighted share of entries with the label, 0 when none matches;
# P itself is not excluded. entry_classes holds each entry's classes as the protocol counts them.
# 3-5-residue peptides occur in thousands of entries, times 21 rotations: the work goes in chunks of
# rows (chunk_peptides, chunk_hits), with integer codes, keeping per rotation only the weight sums
# and the matches of the observed scores (rotation 0).
PAPER_SETUP_SQL = """
CREATE TEMP TABLE homolog_codes AS
SELECT hg.query_sha, ha.acc_code FROM homologs hg JOIN hit_accessions ha ON ha.accession = hg.target;
CREATE TABLE matches (row_id BIGINT, rotation INTEGER, peptide_id BIGINT, match_accession VARCHAR,
                      match_position BIGINT, distance BIGINT, beta DOUBLE, classes VARCHAR[]);
CREATE TEMP TABLE peptide_counts (peptide_id BIGINT, n_matches BIGINT);
CREATE TEMP TABLE rotation_scores (row_id BIGINT, rotation INTEGER, n_entries BIGINT, w DOUBLE, w_true DOUBLE,
                                   w_pred DOUBLE);
"""

PAPER_SQL = r"""
CREATE TABLE peptide_hitrates AS  -- the protocol has no per-peptide hit rate: counts only
SELECT p.peptide_id, p.row_id, p.rotation, p.peptide, p.start, coalesce(c.n_matches, 0) AS n_matches,
       CAST(NULL AS DOUBLE) AS hitrate_true, CAST(NULL AS DOUBLE) AS hitrate_pred
FROM peptides p LEFT JOIN peptide_counts c USING (peptide_id)
ORDER BY p.peptide_id;

CREATE TABLE protein_hitrates AS
WITH per_rotation AS (
    SELECT r.row_id, k.rotation, coalesce(s.n_entries, 0) AS n_entries, s.w, s.w_true, s.w_pred
    FROM attributions r CROSS JOIN rotation_ids k
    LEFT JOIN rotation_scores s ON s.row_id = r.row_id AND s.rotation = k.rotation
), scored AS (
    SELECT p.row_id, p.rotation, p.n_entries,
           CASE WHEN r.true_label IS NULL THEN NULL WHEN p.n_entries > 0 THEN p.w_true / p.w ELSE 0 END AS h_true,
           CASE WHEN p.n_entries > 0 THEN p.w_pred / p.w ELSE 0 END AS h_pred
    FROM per_rotation p JOIN attributions r USING (row_id)
), per_row_peptides AS (
    SELECT row_id, count(*) AS n_peptides, count_if(n_matches > 0) AS n_peptides_matched
    FROM peptide_hitrates WHERE rotation = 0 GROUP BY row_id
), observed AS (
    SELECT r.row_id, r.run_id, r.model, r.method, r.accession, r.true_label, r.pred_label,
           r.true_label = r.pred_label AS correct,
           coalesce(pc.n_peptides, 0) AS n_peptides, coalesce(pc.n_peptides_matched, 0) AS n_peptides_matched,
           s.h_true AS hitrate_true, s.h_pred AS hitrate_pred, s.n_entries
    FROM attributions r JOIN scored s ON s.row_id = r.row_id AND s.rotation = 0
    LEFT JOIN per_row_peptides pc ON pc.row_id = r.row_id
), control AS (
    SELECT o.row_id, avg(c.h_true) AS control_hitrate_true, avg(c.h_pred) AS control_hitrate_pred,
           count(c.h_true) AS n_true, count(c.h_pred) AS n_pred,
           count_if(c.h_true >= o.hitrate_true) AS ge_true, count_if(c.h_pred >= o.hitrate_pred) AS ge_pred
    FROM observed o LEFT JOIN scored c ON c.row_id = o.row_id AND c.rotation > 0 GROUP BY o.row_id
)
SELECT o.*, k.control_hitrate_true, k.control_hitrate_pred,
       CASE WHEN o.hitrate_true IS NOT NULL AND k.n_true > 0 THEN (1 + k.ge_true) / (1 + k.n_true) END AS p_true,
       CASE WHEN o.hitrate_pred IS NOT NULL AND k.n_pred > 0 THEN (1 + k.ge_pred) / (1 + k.n_pred) END AS p_pred,
       k.n_true AS n_controls_defined
FROM observed o JOIN control k USING (row_id) ORDER BY o.row_id;
"""

# Sources that list an entry's locations in the order the curators wrote them: the authors counted
# the first one only (SPEC 10). The Debian source's GO terms have no such order: all classes count.
ORDERED_SOURCES = ("uniprot", "uniprot-local", "uniprot-tsv")
ENTRY_CLASSES_SQL = {
    "first": """CREATE TEMP TABLE entry_classes AS
                SELECT ha.acc_code, l.accession, [arg_min(l.class, l.rowid)] AS classes
                FROM idx.locations l JOIN hit_accessions ha ON ha.accession = l.accession
                WHERE l.class IS NOT NULL GROUP BY ALL""",
    "all": """CREATE TEMP TABLE entry_classes AS
              SELECT ha.acc_code, pc.accession, pc.classes
              FROM idx.protein_classes pc JOIN hit_accessions ha ON ha.accession = pc.accession""",
}

PROFILE_SQL = """
CREATE TABLE protein_profiles AS
WITH per_peptide AS (
    SELECT p.row_id, p.peptide_id, c.class,
           sum(CASE WHEN list_contains(m.classes, c.class) THEN m.beta ELSE 0 END) / count(*) AS hitrate
    FROM peptides p JOIN matches m USING (peptide_id) CROSS JOIN class_names c
    WHERE p.rotation = 0
    GROUP BY ALL
)
SELECT r.row_id, r.run_id, r.model, r.method, r.accession, pp.class, avg(pp.hitrate) AS hitrate
FROM per_peptide pp JOIN attributions r USING (row_id) GROUP BY ALL ORDER BY r.row_id, pp.class;
"""

BASE_RATE_SQL = """
SELECT c.class, count_if(list_contains(pc.classes, c.class)) / count(*) AS base_rate
FROM idx.protein_classes pc CROSS JOIN class_names c GROUP BY c.class
"""


def group_table(con: duckdb.DuckDBPyConnection, labels: str = "both", *, n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """The paper's grouped table with its controls, per (run, model, method, group).

    Columns: ``proteins`` in the group, ``n`` with a defined hit rate, ``mean`` and its 95 %
    protein-level bootstrap interval; ``proteins_no_peptides`` (nothing extracted),
    ``proteins_no_match`` (peptides, but no index entry matched), peptide counts; ``base_rate`` (mean
    over the group's proteins of the share of index entries with the judged label, SPEC 9.1) and
    ``enrichment`` = mean / base_rate (meaningful with ``--beta none``); and the chance control
    (SPEC 9.2, NaN without controls): ``control_mean``, ``diff_mean`` = mean of observed - control
    over proteins where both are defined (``n_paired``), its interval ``diff_ci_low/high``,
    ``wilcoxon_p`` and ``share_p05`` (share of proteins with p <= 0.05; 5 % is chance).
    """
    proteins = con.execute("SELECT * FROM protein_hitrates").df()
    peptides = con.execute("SELECT row_id, n_matches FROM peptide_hitrates WHERE rotation = 0").df()
    base = dict(con.execute(BASE_RATE_SQL).fetchall())
    out = []
    for (run_id, model, method), part in proteins.groupby(["run_id", "model", "method"], sort=True):
        for name, label, rows, values in protein_groups(part, labels):
            defined = rows[rows[f"hitrate_{label}"].notna()]
            lo, hi = bootstrap_ci(defined[f"hitrate_{label}"], defined.accession, n_boot=n_boot, seed=seed)
            peps = peptides[peptides.row_id.isin(rows.row_id)]
            base_rate = float(rows[f"{label}_label"].map(base).mean()) if len(rows) else float("nan")
            mean = float(values.mean()) if len(values) else float("nan")
            paired = rows[rows[f"hitrate_{label}"].notna() & rows[f"control_hitrate_{label}"].notna()]
            diff = (paired[f"hitrate_{label}"] - paired[f"control_hitrate_{label}"]).to_numpy(dtype=np.float64)
            d_lo, d_hi = bootstrap_ci(diff, paired.accession, n_boot=n_boot, seed=seed)
            p_values = rows[f"p_{label}"].dropna().to_numpy(dtype=np.float64)
            out.append({
                "run_id": run_id, "model": model, "method": method, "group": name, "label": label,
                "proteins": len(rows), "n": len(values), "mean": mean, "ci_low": lo, "ci_high": hi,
                "proteins_no_peptides": int((rows.n_peptides == 0).sum()),
                "proteins_no_match": int(((rows.n_peptides > 0) & (rows.n_peptides_matched == 0)).sum()),
                "peptides": len(peps), "peptides_no_match": int((peps.n_matches == 0).sum()),
                "base_rate": base_rate, "enrichment": mean / base_rate if base_rate else float("nan"),
                "control_mean": float(rows[f"control_hitrate_{label}"].mean()),
                "n_paired": len(diff), "diff_mean": float(diff.mean()) if len(diff) else float("nan"),
                "diff_ci_low": d_lo, "diff_ci_high": d_hi, "wilcoxon_p": wilcoxon_p(diff),
                "share_p05": float((p_values <= 0.05).mean()) if len(p_values) else float("nan"),
            })
    return pd.DataFrame(out)


@dataclass(frozen=True)
class HitRateOptions:
    """How peptides are extracted and scored; recorded in every result (``settings`` table)."""

    window: int = 5               # SPEC 6
    k: float = 2.0
    merge_adjacent: bool = False
    beta: str = "spec"            # spec: SPEC 7's beta; none: every matching entry weighs 1 (SPEC 9.1)
    controls: int = 20            # rotations per row (SPEC 9.2); 0: none
    control: str = "rotation"     # rotation (SPEC 9.2) or aa-permuted (SPEC 11.4): what the control copies are
    seed: int = 0
    exclude_homologs: bool = False
    protocol: str = "spec"        # spec: SPEC 6-7; paper: the authors' extraction and hit rate (SPEC 10)
    homologs: HomologOptions = field(default_factory=HomologOptions)

    def check(self) -> None:
        """Refuse values out of range (one-line PslError)."""
        if self.window < 1:
            raise PslError(f"--window {self.window}: must be at least 1")
        if not (self.k >= 0 and np.isfinite(self.k)):
            raise PslError(f"--k {self.k}: must be a finite number >= 0")
        if self.controls < 0:
            raise PslError(f"--controls {self.controls}: must be 0 (none) or more")
        if self.seed < 0:  # numpy's generators take non-negative seeds only
            raise PslError(f"--seed {self.seed}: must be 0 or more")
        if self.control not in CONTROLS:
            raise PslError(f"--control {self.control!r}: choose {' or '.join(CONTROLS)}")
        if self.protocol not in ("spec", "paper"):
            raise PslError(f"--protocol {self.protocol!r}: choose spec or paper")
        if self.protocol == "paper" and self.beta != "spec":
            raise PslError("--beta none applies to --protocol spec only (the paper's weight is min(len/|d|, 1))")
        if self.beta not in ("spec", "none"):
            raise PslError(f"--beta {self.beta!r}: choose spec or none")
        if not self.homologs.evalue > 0:
            raise PslError(f"--homolog-evalue {self.homologs.evalue}: must be positive")
        if self.homologs.max_seqs < 1:
            raise PslError(f"--homolog-max-seqs {self.homologs.max_seqs}: must be at least 1")


def require_locations(index_dir: Path) -> None:
    """Refuse an index without any location (built from a plain FASTA): there is nothing to hit."""
    with open_index(index_dir) as index:
        if index.class_counts().proteins.sum() == 0:
            raise PslError(f"{index_file(index_dir)}: the index holds no locations (source "
                           f"{index.meta().get('source')}), so there is no hit rate to compute; its peptide "
                           "search works (python -m pslindex.matcher); for hit rates build it from a source "
                           "with locations")


EMPTY_HOMOLOGS = pd.DataFrame({"query_sha": pd.Series(dtype=str), "target": pd.Series(dtype=str),
                               "evalue": pd.Series(dtype=float), "bits": pd.Series(dtype=float),
                               "pident": pd.Series(dtype=float)})


PAPER_CHUNK_PEPTIDES = 40_000  # peptides matched at a time under --protocol paper (bounds memory)


def coded_hits(matcher: KmerIndex, peptides: pd.DataFrame) -> pd.DataFrame:
    """Every hit of ``peptides`` as integer codes (pep_code, acc_code, position); sets ``peptides.pep_code``.

    ``acc_code`` indexes the matcher's accessions; strings for millions of hits would cost GBs.
    """
    unique = list(dict.fromkeys(peptides["peptide"]))
    peptides["pep_code"] = pd.Categorical(peptides["peptide"], categories=unique).codes.astype(np.int32)
    found = matcher.find(unique)
    return pd.DataFrame({"pep_code": found.peptide.cat.codes.astype(np.int32),
                         "acc_code": found.accession.cat.codes.astype(np.int32), "position": found.position})


# per entry: bit 15 = it has a class (counts for n_entries), bit i = it holds class i (SPEC 1 order)
ENTRY_BITS_SQL = """
SELECT acc_code, 32768 + coalesce(list_sum(list_transform(list_distinct(classes),
                                                        lambda c: 1 << (list_position($1, c) - 1))), 0) AS bits
FROM entry_classes
"""

PAPER_INSERT_SQL = """
INSERT INTO rotation_scores SELECT * FROM chunk_scores;
INSERT INTO peptide_counts SELECT * FROM chunk_counts;
INSERT INTO matches
SELECT m.row_id, 0, m.peptide_id, ec.accession, m.match_position, m.distance, m.beta, ec.classes
FROM chunk_matches m JOIN entry_classes ec USING (acc_code) ORDER BY m.row_id, ec.accession;
"""


def paper_tables(con: duckdb.DuckDBPyConnection, matcher: KmerIndex, rows: pd.DataFrame, peptides: pd.DataFrame,
                 *, progress: bool = False) -> None:
    """Fill ``rotation_scores``, ``peptide_counts`` and ``matches`` under the authors' protocol (SPEC 10).

    Chunks of whole rows: their peptides are matched (:meth:`KmerIndex.find_arrays`) and scored in
    one pass (:func:`pslindex.paper_protocol.score_chunk`); only the per-group sums and rotation 0's
    entries reach DuckDB.
    """
    from tqdm import tqdm

    from pslindex.paper_protocol import class_bits, score_chunk

    entries = con.execute(ENTRY_BITS_SQL, [list(CLASSES)]).df()
    acc_bits = np.zeros(len(matcher.accessions), dtype=np.uint16)
    acc_bits[entries.acc_code.to_numpy(np.int64)] = entries.bits.to_numpy(np.uint16)
    true_bits, pred_bits = class_bits(rows.true_label), class_bits(rows.pred_label)
    pairs = con.execute("SELECT r.row_id, h.acc_code FROM homolog_codes h JOIN attributions r "
                        "ON r.sequence_sha = h.query_sha ORDER BY r.row_id, h.acc_code").df()
    excl_off = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs.row_id.to_numpy(np.int64), minlength=len(rows)), out=excl_off[1:])
    excl_seq = pairs.acc_code.to_numpy(np.int64)
    bar = tqdm(total=len(peptides), desc="authors' protocol", unit=" peptides", disable=not progress)
    for chunk in row_chunks(peptides, PAPER_CHUNK_PEPTIDES):
        unique = list(dict.fromkeys(chunk.peptide))
        chunk = chunk.assign(pep_u=pd.Categorical(chunk.peptide, categories=unique).codes.astype(np.int64))
        scores, counts, matches = score_chunk(chunk, matcher.find_arrays(unique), acc_bits, true_bits, pred_bits,
                                              excl_off, excl_seq)
        for name, frame in (("chunk_scores", scores), ("chunk_counts", counts), ("chunk_matches", matches)):
            con.register(name, frame)
        con.execute(PAPER_INSERT_SQL)
        for name in ("chunk_scores", "chunk_counts", "chunk_matches"):
            con.unregister(name)
        bar.update(len(chunk))
    bar.close()


def row_chunks(peptides: pd.DataFrame, size: int):
    """``peptides`` in consecutive slices of whole rows (all rotations of a row together), ~``size`` each."""
    if peptides.empty:
        return
    row_ids = peptides["row_id"].to_numpy()
    cuts = [0]
    while cuts[-1] < len(peptides):
        end = min(cuts[-1] + size, len(peptides))
        if end < len(peptides):  # end on a row boundary
            end = int(np.searchsorted(row_ids, row_ids[end - 1], side="right"))
        cuts.append(end)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        yield peptides.iloc[a:b]


def compute(attributions: pd.DataFrame, index_dir: Path, out_file: Path, options: HitRateOptions = HitRateOptions(),
            *, labels: str = "both", profile: bool = False, matcher: KmerIndex | None = None,
            progress: bool = False) -> pd.DataFrame:
    """Run extraction, controls, homolog search, matching and hit rates; write every table into ``out_file``.

    Returns the grouped table (:func:`group_table`).
    """
    options.check()
    require_locations(index_dir)
    peptides = peptides_table(attributions, window=options.window, k=options.k,
                              merge_adjacent=options.merge_adjacent, controls=options.controls, seed=options.seed,
                              protocol=options.protocol, control=options.control)
    rows = attributions.drop(columns=["scores", "probs"]).assign(
        row_id=np.arange(len(attributions)), sequence_sha=[sequence_sha(s) for s in attributions.sequence])
    settings = {"window": options.window, "k": options.k, "merge_adjacent": options.merge_adjacent,
                "beta": options.beta, "controls": options.controls, "control": options.control, "seed": options.seed,
                "exclude_homologs": options.exclude_homologs, "protocol": options.protocol}
    homologs = EMPTY_HOMOLOGS
    if options.exclude_homologs:
        cache = HomologCache(index_dir, options.homologs)
        homologs = cache.lookup(dict(zip(rows.sequence_sha, attributions.sequence, strict=True)), progress=progress)
        settings.update({f"homolog_{k}": v for k, v in cache.record().items()})
        settings["homolog_capped_queries"] = cache.capped()
    matcher = matcher or KmerIndex.load(index_dir)
    hit_accessions = pd.DataFrame({"acc_code": np.arange(len(matcher.accessions), dtype=np.int32),
                                   "accession": pd.Series(matcher.accessions, dtype=object)})
    # SPEC 7's peptides (>= 5 residues, few): every hit at once; the paper's: per chunk of rows (below)
    peptides["pep_code"] = np.int32(-1)
    hits = (coded_hits(matcher, peptides) if options.protocol == "spec" else
            pd.DataFrame({"pep_code": np.empty(0, np.int32), "acc_code": np.empty(0, np.int32),
                          "position": np.empty(0, np.int64)}))
    con = duckdb.connect(str(out_file))
    try:
        con.execute("SET enable_progress_bar = false")  # its bars would fill logs; tqdm reports progress
        con.execute("ATTACH ? AS idx (READ_ONLY)", [str(index_file(index_dir))])
        tables = (("attributions", rows), ("peptides", peptides), ("hits", hits),
                  ("hit_accessions", hit_accessions), ("homologs", homologs),
                  ("class_names", pd.DataFrame({"class": list(CLASSES)})),
                  ("settings", pd.DataFrame({"key": list(settings), "value": [str(v) for v in settings.values()]})))
        for name, frame in tables:
            con.register(f"{name}_df", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_df")  # fixed table names only
            con.unregister(f"{name}_df")
        if options.protocol == "paper":
            source = con.execute("SELECT value FROM idx.meta WHERE key = 'source'").fetchone()
            ordered = source is not None and source[0] in ORDERED_SOURCES
            con.execute(ENTRY_CLASSES_SQL["first" if ordered else "all"])
            con.execute("CREATE TEMP TABLE rotation_ids AS SELECT range::INTEGER AS rotation FROM range(0, ?)",
                        [options.controls + 1])
            con.execute(PAPER_SETUP_SQL)
            paper_tables(con, matcher, rows, peptides, progress=progress)
            con.execute(PAPER_SQL)
            con.execute("INSERT INTO settings VALUES ('entry_classes', ?)",
                        ["first listed location" if ordered else "all classes"])
        else:
            con.execute(MATCHES_SQL, [options.beta])
            con.execute(HITRATES_SQL)
        if profile:
            con.execute(PROFILE_SQL)
        groups = group_table(con, labels, seed=options.seed)
        con.register("groups_df", groups)
        con.execute("CREATE TABLE groups AS SELECT * FROM groups_df")
        # the homolog pairs by the rows' accessions, for SQL users
        con.execute("CREATE OR REPLACE TABLE homologs AS SELECT DISTINCT r.accession, h.* FROM homologs h "
                    "JOIN attributions r ON r.sequence_sha = h.query_sha ORDER BY r.accession, h.evalue")
        con.execute("DROP TABLE hits; DROP TABLE hit_accessions; DROP TABLE class_names; "
                    "ALTER TABLE peptides DROP COLUMN pep_code")
        con.execute("DETACH idx")
        return groups
    finally:
        con.close()


def hitrate_folder(attributions: str | Path, index_dir: Path, out: Path, options: HitRateOptions = HitRateOptions(),
                   *, labels: str = "both", profile: bool = False, progress: bool = False,
                   add_rows: Callable[[pd.DataFrame], pd.DataFrame] | None = None
                   ) -> tuple[pd.DataFrame, dict, int]:
    """The hit-rate stage: read ``attributions`` (SPEC 5), write ``out/`` (hitrates.duckdb, hitrates.parquet).

    ``add_rows``: rows derived from the ones read (e.g. the oracle of SPEC 11.1), scored with them.

    Everything is checked before ``out`` is touched; ``out`` is replaced only when absent or a previous
    hit-rate result (the output rule of :func:`pslindex.files.output_folder`). Returns the grouped
    table, the index's metadata and the number of attribution rows.
    """
    options.check()
    out = Path(out)
    check_replaceable(out, COMMAND, HITRATE_FILES)
    with open_index(index_dir) as index:
        meta = index.meta()
    require_locations(index_dir)
    frame, void = drop_unsound_ig(read_attributions(attributions, purpose="the hit rate"))
    if add_rows is not None:
        frame = pd.concat([frame, add_rows(frame)], ignore_index=True)
    if void:  # README "Integrated Gradients on recurrent models": scores that do not add up are not evidence
        print(f"{attributions}: {void} IG rows left out: their convergence delta exceeds {IG_TOLERANCE:g} of "
              "|f(x) - f(baseline)|")
    if frame.empty:
        raise PslError(f"{attributions}: no rows left: every row is IG whose scores do not add up")
    if options.exclude_homologs:
        mmseqs_version()  # fail before any work when MMseqs2 is missing
    with output_folder(out, COMMAND, legacy=HITRATE_FILES) as tmp:
        groups = compute(frame, index_dir, tmp / "hitrates.duckdb", options, labels=labels, profile=profile,
                         progress=progress)
        with duckdb.connect(str(tmp / "hitrates.duckdb"), read_only=True) as con:
            con.execute("SELECT * FROM protein_hitrates").df().to_parquet(tmp / "hitrates.parquet", index=False)
    return groups, meta, len(frame)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslindex.hitrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    d = HitRateOptions()
    parser.add_argument("attributions", type=Path, help="attributions.parquet (SPEC 5)")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="index folder (default: data/index)")
    parser.add_argument("--label", choices=("true", "pred", "both"), default="both",
                        help="judge wrong predictions against the true label, the predicted one, or both")
    parser.add_argument("--window", type=int, default=d.window, help="window length w (default 5)")
    parser.add_argument("--k", type=float, default=d.k, help="threshold mean + k*sd (default 2)")
    parser.add_argument("--merge-adjacent", action="store_true", help="also merge windows that only touch")
    parser.add_argument("--beta", choices=("spec", "none"), default=d.beta,
                        help="spec: weight 1/|offset| (SPEC 7); none: every matching entry weighs 1 (SPEC 9.1)")
    parser.add_argument("--controls", type=int, default=d.controls,
                        help="rotations of each row's scores as its chance control (SPEC 9.2; default 20, 0: none)")
    parser.add_argument("--control", choices=tuple(CONTROLS), default=d.control,
                        help="the control copies: rotations of the scores (SPEC 9.2, default) or the scores permuted "
                             "among residues of the same amino acid (aa-permuted, SPEC 11.4)")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the rotations and the bootstrap")
    parser.add_argument("--protocol", choices=("spec", "paper"), default=d.protocol,
                        help="spec: SPEC 6-7 (default); paper: the authors' extraction and hit rate (SPEC 10)")
    parser.add_argument("--exclude-homologs", action="store_true",
                        help="leave out every index entry homologous to the protein (MMseqs2, SPEC 9.1)")
    parser.add_argument("--homolog-evalue", type=float, default=d.homologs.evalue, help="default 1e-3")
    parser.add_argument("--homolog-sensitivity", type=float, default=d.homologs.sensitivity,
                        help="MMseqs2 -s (default 5.7)")
    parser.add_argument("--homolog-max-seqs", type=int, default=d.homologs.max_seqs,
                        help="MMseqs2 prefilter cap per query (default 100000)")
    parser.add_argument("--threads", type=int, default=0, help="MMseqs2 threads (default: all cores)")
    parser.add_argument("--profile", action="store_true", help="also the hit rate against each of the ten classes")
    parser.add_argument("--out", type=Path, default=Path("results/hitrate"), help="output folder")
    return parser


def format_groups(groups: pd.DataFrame) -> str:
    """The grouped table as printed: observed, control and their difference side by side."""
    def num(v):
        return "-" if pd.isna(v) else f"{v:.3f}"

    def interval(lo, hi):
        return "-" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]"

    shown = pd.DataFrame({
        "model": groups.model, "method": groups.method, "group": groups.group, "proteins": groups.proteins,
        "n": groups.n, "hit rate": groups["mean"].map(num),
        "95% CI": [interval(lo, hi) for lo, hi in zip(groups.ci_low, groups.ci_high, strict=True)],
        "control": groups.control_mean.map(num), "diff": groups.diff_mean.map(num),
        "diff 95% CI": [interval(lo, hi) for lo, hi in zip(groups.diff_ci_low, groups.diff_ci_high, strict=True)],
        "p<=.05": groups.share_p05.map(num), "no peptides": groups.proteins_no_peptides,
        "no match": groups.proteins_no_match,
    })
    return shown.to_string(index=False)


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    options = HitRateOptions(window=args.window, k=args.k, merge_adjacent=args.merge_adjacent, beta=args.beta,
                             controls=args.controls, control=args.control, seed=args.seed,
                             exclude_homologs=args.exclude_homologs,
                             protocol=args.protocol,
                             homologs=HomologOptions(evalue=args.homolog_evalue, sensitivity=args.homolog_sensitivity,
                                                     max_seqs=args.homolog_max_seqs, threads=args.threads))
    started = time.time()
    groups, meta, n_rows = hitrate_folder(args.attributions, args.index, args.out, options, labels=args.label,
                                          profile=args.profile)
    out = args.out
    print(f"Swiss-Prot index: {meta.get('source')} ({meta.get('release')}), built {meta.get('built_at')}")
    how = ("the authors' protocol (SPEC 10: residues > mean + k sd with 2 on each side, entries weighted "
           "min(len/|d|, 1), the protein itself kept)" if options.protocol == "paper" else
           f"window {options.window}, beta {options.beta}")
    copies = "rotations" if options.control == "rotation" else "aa-permuted copies"
    print(f"Hit rate, {how}, k {options.k:g}, {options.controls} control "
          f"{copies} per row, homologs {'excluded' if options.exclude_homologs else 'kept'}; "
          f"{n_rows} rows in {time.time() - started:.1f} s")
    print(format_groups(groups))
    print(f"\nresults: {out / 'hitrates.duckdb'} and {out / 'hitrates.parquet'}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
