"""``python -m pslmodels.plausibility attributions.parquet [--signals FILE] [--out plausibility.csv]``

Do the residues a method points at coincide with the sorting signals Swiss-Prot annotates?
For every protein of the attributions file that has per-residue signal annotations (SPEC 2,
``signals/SortingSignalsSwissprot.csv.gz``; same accession and same sequence), per method and per
signal type (and ``any`` signal), over the residues the model saw:

* ``auprc``: average precision of the scores against the signal mask (a random ranking scores the
  share of signal residues, reported as ``prevalence``);
* ``pointing``: whether the top-scoring window (SPEC 6's window) overlaps the signal;
* ``overlap``: the share of extracted peptides (SPEC 6) that overlap the signal, over proteins with
  at least one peptide;
* ``iou``: intersection over union of the extracted residues with the signal residues (0 when
  nothing is extracted).

Baselines beside every method: ``random scores`` (i.i.d. uniform per residue, seeded) and
``<method> rotated`` for attention, IG and other explanations (the method's own scores rotated by
a random offset over the seen residues: same values, same local shape, peaks moved). Means carry
a 95 % bootstrap interval over proteins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from pslindex.errors import PslError, cli_main
from pslindex.extract import extract_peptides, window_scores
from pslindex.files import atomic_output, read_parquet_columns
from pslindex.hitrate import bootstrap_ci
from pslmodels.train import DATA_DIR

DEFAULT_SIGNALS = DATA_DIR / "signals" / "SortingSignalsSwissprot.csv.gz"
SIGNAL_TYPES = {1: "SP", 2: "TM", 3: "MT", 4: "CH", 5: "TH", 6: "NLS", 7: "NES", 8: "PTS", 9: "GPI"}
SIGNAL_NAMES = {"SP": "signal peptide", "TM": "transmembrane", "MT": "mitochondrial transit peptide",
                "CH": "chloroplast transit peptide", "TH": "thylakoid luminal transit peptide",
                "NLS": "nuclear localization signal", "NES": "nuclear export signal",
                "PTS": "peroxisomal targeting signal", "GPI": "GPI anchor"}
METRICS = ("auprc", "prevalence", "pointing", "overlap", "iou")
NEEDED = ("model", "method", "accession", "sequence", "scores")
CONTROLS = ("uniform", "permuted", "shifted", "random")  # methods that are baselines themselves: not rotated


def read_signals(path: str | Path = DEFAULT_SIGNALS) -> pd.DataFrame:
    """The sorting-signal annotations: accession, sequence, kingdom, codes (uint8 array, one per residue).

    Raises PslError naming the file (and the record) when it is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise PslError(f"{path}: no sorting-signal file here (SPEC 2: signals/SortingSignalsSwissprot.csv.gz; "
                       "set --signals or PSL_DATA_DIR)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # gzip, csv and unicode errors alike
        raise PslError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("ACC", "AnnotEncoded", "Sequence") if c not in table.columns]
    if missing:
        raise PslError(f"{path}: missing column(s) {', '.join(missing)}")
    codes = []
    for i, (acc, annot, seq) in enumerate(zip(table.ACC, table.AnnotEncoded, table.Sequence, strict=True)):
        if len(annot) != len(seq) or not annot.isdigit():
            raise PslError(f"{path}: record {i + 1} ({acc}): AnnotEncoded must be one digit per residue "
                           f"({len(annot)} characters for {len(seq)} residues)")
        codes.append(np.frombuffer(annot.encode("ascii"), np.uint8) - ord("0"))
    return pd.DataFrame({"accession": table.ACC, "sequence": table.Sequence,
                         "kingdom": table.get("Kingdom", ""), "codes": codes})


def signal_accessions(path: str | Path = DEFAULT_SIGNALS) -> set[str]:
    """Accessions with sorting-signal annotations."""
    return set(read_signals(path).accession)


def protein_metrics(sequence: str, scores: np.ndarray, mask: np.ndarray, *, window: int = 5,
                    k: float = 2.0) -> dict | None:
    """The four measures for one protein and one signal mask (bool, shape (L,)); None if no signal residue was seen."""
    seen = ~np.isnan(scores)
    if not mask[seen].any():
        return None
    auprc = average_precision_score(mask[seen], scores[seen]) if not mask[seen].all() else 1.0
    means, complete = window_scores(scores, window)
    pointing = np.nan
    if complete.any():
        top = int(np.flatnonzero(complete)[np.argmax(means[complete])])
        pointing = float(mask[top:top + window].any())
    peptides = extract_peptides(sequence, scores, window=window, k=k)
    extracted = np.zeros(len(sequence), dtype=bool)
    for p in peptides:
        extracted[p.start:p.end] = True
    signal = mask & seen
    union = (extracted | signal).sum()
    return {"auprc": float(auprc), "prevalence": float(mask[seen].mean()), "pointing": pointing,
            "overlap": float(np.mean([mask[p.start:p.end].any() for p in peptides])) if peptides else np.nan,
            "iou": float((extracted & signal).sum() / union) if union else 0.0, "peptides": len(peptides)}


def rotated(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The seen scores rotated by a random offset in [1, n) over the seen positions; NaN stays NaN."""
    out = scores.copy()
    seen = np.flatnonzero(~np.isnan(scores))
    if len(seen) > 1:
        out[seen] = np.roll(scores[seen], int(rng.integers(1, len(seen))))
    return out


def per_protein(attributions: pd.DataFrame, signals: pd.DataFrame, *, window: int = 5, k: float = 2.0,
                seed: int = 0) -> pd.DataFrame:
    """One row per (attribution row or baseline, signal type) with the measures of :func:`protein_metrics`."""
    rng = np.random.default_rng(seed)
    by_acc = signals.set_index("accession")
    rows = []
    random_done = set()
    for r in attributions.itertuples(index=False):
        if r.accession not in by_acc.index:
            continue
        sig = by_acc.loc[r.accession]
        if sig.sequence != r.sequence:
            continue
        scores = np.asarray(r.scores, dtype=np.float64)
        seen = ~np.isnan(scores)
        variants = [(r.method, scores)]
        if r.method not in CONTROLS:
            variants.append((f"{r.method} rotated", rotated(scores, rng)))
        run_key = (getattr(r, "run_id", ""), r.model, r.accession)
        if run_key not in random_done:  # one i.i.d. baseline per protein and run, whatever the methods
            random_done.add(run_key)
            noise = np.full(len(scores), np.nan)
            noise[seen] = rng.random(int(seen.sum()))
            variants.append(("random scores", noise))
        codes = sig.codes
        types = [("any", codes != 0)] + [(SIGNAL_TYPES[c], codes == c) for c in np.unique(codes) if c]
        for method, values in variants:
            for signal, mask in types:
                m = protein_metrics(r.sequence, values, mask, window=window, k=k)
                if m is not None:
                    rows.append({"run_id": run_key[0], "model": r.model, "method": method, "signal": signal,
                                 "accession": r.accession, **m})
    return pd.DataFrame(rows)


def summarize(proteins: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (model, method, signal): n proteins, and each measure's mean with a 95 % bootstrap interval."""
    out = []
    for (model, method, signal), part in proteins.groupby(["model", "method", "signal"], sort=True):
        row = {"model": model, "method": method, "signal": signal, "n": len(part)}
        for metric in METRICS:
            values = part[metric].dropna().to_numpy()
            lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
            row.update({metric: values.mean() if len(values) else np.nan, f"{metric}_lo": lo, f"{metric}_hi": hi,
                        f"{metric}_n": len(values)})
        out.append(row)
    return pd.DataFrame(out)


def format_table(summary: pd.DataFrame, signals: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Readable table: 'mean [lo, hi]' per measure."""
    if signals is not None:
        summary = summary[summary.signal.isin(signals)]
    shown = summary[["model", "method", "signal", "n"]].copy()
    for metric in ("auprc", "prevalence", "pointing", "overlap", "iou"):
        shown[metric] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" if not np.isnan(m) else "-"
                         for m, lo, hi in zip(summary[metric], summary[f"{metric}_lo"], summary[f"{metric}_hi"],
                                              strict=True)]
    shown["overlap"] = [f"{v} (n={n})" if v != "-" else v for v, n in zip(shown.overlap, summary.overlap_n,
                                                                          strict=True)]
    return shown.reset_index(drop=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pslmodels.plausibility", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("attributions", type=Path)
    parser.add_argument("--signals", type=Path, default=DEFAULT_SIGNALS)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--k", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0, help="for the random baselines and the bootstrap")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the summary (default: beside the input)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    signals = read_signals(args.signals)
    attributions = read_parquet_columns(args.attributions, NEEDED, optional=("run_id",), purpose="plausibility")
    proteins = per_protein(attributions, signals, window=args.window, k=args.k, seed=args.seed)
    if proteins.empty:
        raise PslError(f"{args.attributions}: none of its {attributions.accession.nunique()} proteins has "
                       f"sorting-signal annotations in {args.signals}")
    summary = summarize(proteins, seed=args.seed)
    out = args.out or args.attributions.with_name("plausibility.csv")
    with atomic_output(out) as tmp:
        summary.to_csv(tmp, index=False)
    per_protein_file = out.with_name(out.stem + "_proteins.parquet")
    with atomic_output(per_protein_file) as tmp:
        proteins.to_parquet(tmp, index=False)
    print(f"{proteins.accession.nunique()} proteins with annotated sorting signals "
          f"(of {attributions.accession.nunique()} in {args.attributions.name})")
    print(format_table(summary).to_string(index=False))
    print(f"\nsummary: {out}; per protein: {per_protein_file}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
