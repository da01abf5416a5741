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

from pslindex.attributions import read_attributions
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.extract import PROTOCOLS, extract_by_protocol, rotate_scores, window_scores
from pslindex.files import atomic_output, check_output_file
from pslindex.stats import bootstrap_ci
from pslmodels.data import stratified_subset
from pslmodels.runs import load_model, run_split, set_threads
from pslmodels.signals import DEFAULT_SIGNALS, SIGNAL_TYPES, read_signals

METRICS = ("auprc", "prevalence", "pointing", "overlap", "iou")
NEEDED = ("model", "method", "accession", "sequence", "scores")
# methods that are baselines themselves: not rotated
CONTROLS = ("uniform", "permuted", "shifted", "random", "random-logits")


def protein_metrics(sequence: str, scores: np.ndarray, mask: np.ndarray, *, window: int = 5,
                    k: float = 2.0, protocol: str = "spec") -> dict | None:
    """The four measures for one protein and one signal mask (bool, shape (L,)); None if no signal residue was seen.

    ``protocol`` says how the peptides of ``overlap`` and ``iou`` are extracted (SPEC 6, or the
    authors' way of SPEC 10); AUPRC and pointing do not extract.
    """
    seen = ~np.isnan(scores)
    if not mask[seen].any():
        return None
    auprc = average_precision_score(mask[seen], scores[seen]) if not mask[seen].all() else 1.0
    means, complete = window_scores(scores, window)
    pointing = np.nan
    if complete.any():  # ties (flat scores): the share of the tied top windows that overlap the signal
        best = means[complete].max()
        tops = np.flatnonzero(complete & (means >= best - 1e-12 * max(1.0, abs(best))))
        pointing = float(np.mean([mask[t:t + window].any() for t in tops]))
    peptides = extract_by_protocol(sequence, scores, protocol=protocol, window=window, k=k)
    extracted = np.zeros(len(sequence), dtype=bool)
    for p in peptides:
        extracted[p.start:p.end] = True
    signal = mask & seen
    union = (extracted | signal).sum()
    return {"auprc": float(auprc), "prevalence": float(mask[seen].mean()), "pointing": pointing,
            "overlap": float(np.mean([mask[p.start:p.end].any() for p in peptides])) if peptides else np.nan,
            "iou": float((extracted & signal).sum() / union) if union else 0.0, "peptides": len(peptides)}


POSITIONAL = ("n-ramp", "c-ramp")   # SPEC 9.3; "<method> position prior" beside them when a run gives one
PRIOR_LENGTH = 500


def ramp(scores: np.ndarray, terminus: str) -> np.ndarray:
    """A score that only knows position: -i (``n``, highest at the N terminus) or i (``c``); NaN stays NaN."""
    i = np.arange(len(scores), dtype=np.float64)
    out = -i if terminus == "n" else i
    return np.where(np.isnan(scores), np.nan, out)


def position_prior(score_rows, length: int = PRIOR_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """A method's mean normalised score by position from the N and from the C terminus (SPEC 9.3).

    Each protein's scores are divided by their sum over seen residues; residue i of a protein of
    length L counts at N-position i if i < min(500, ceil(L/2)), else at C-position L - 1 - i.
    Returns ``(n_prior, c_prior)``, shape (500,) each, NaN where no protein reached.
    """
    sums = np.zeros((2, length))
    counts = np.zeros((2, length))
    for scores in score_rows:
        r = np.asarray(scores, dtype=np.float64)
        seen = ~np.isnan(r)
        total = r[seen].sum()
        if not seen.any() or total == 0:
            continue
        r = r / total
        n_part = min(length, -(-len(r) // 2))
        idx = np.flatnonzero(seen)
        n_idx = idx[idx < n_part]
        c_pos = len(r) - 1 - idx[idx >= n_part]
        c_idx = idx[idx >= n_part][c_pos < length]
        c_pos = c_pos[c_pos < length]
        np.add.at(sums[0], n_idx, r[n_idx])
        np.add.at(counts[0], n_idx, 1)
        np.add.at(sums[1], c_pos, r[c_idx])
        np.add.at(counts[1], c_pos, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prior = sums / counts
    return prior[0], prior[1]


def prior_scores(prior: tuple[np.ndarray, np.ndarray], scores: np.ndarray) -> np.ndarray:
    """The position prior laid over one protein (its seen residues; NaN where unseen or unknown)."""
    n_prior, c_prior = prior
    L = len(scores)
    i = np.arange(L)
    n_part = min(len(n_prior), -(-L // 2))
    out = np.full(L, np.nan)
    head = i < n_part
    out[head] = n_prior[i[head]]
    c_pos = L - 1 - i[~head]
    ok = c_pos < len(c_prior)
    tail = i[~head][ok]
    out[tail] = c_prior[c_pos[ok]]
    return np.where(np.isnan(scores), np.nan, out)


def per_protein(attributions: pd.DataFrame, signals: pd.DataFrame, *, window: int = 5, k: float = 2.0,
                seed: int = 0, priors: dict | None = None, protocol: str = "spec") -> pd.DataFrame:
    """One row per (attribution row or baseline, signal type) with the measures of :func:`protein_metrics`.

    Baselines: ``<method> rotated`` per explanation row; per protein and run ``random scores`` and
    the positional ``n-ramp`` and ``c-ramp``; and ``<method> position prior`` where ``priors`` maps
    ``(run_id, method)`` to a :func:`position_prior` learnt on that run's validation proteins.
    """
    priors = priors or {}
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
        run_key = (getattr(r, "run_id", ""), r.model, r.accession)
        if r.method not in CONTROLS:
            variants.append((f"{r.method} rotated", rotate_scores(scores, rng)))
            if (run_key[0], r.method) in priors:
                variants.append((f"{r.method} position prior", prior_scores(priors[(run_key[0], r.method)], scores)))
        if run_key not in random_done:  # one of each per protein and run, whatever the methods
            random_done.add(run_key)
            noise = np.full(len(scores), np.nan)
            noise[seen] = rng.random(int(seen.sum()))
            variants.append(("random scores", noise))
            variants += [("n-ramp", ramp(scores, "n")), ("c-ramp", ramp(scores, "c"))]
        codes = sig.codes
        types = [("any", codes != 0)] + [(SIGNAL_TYPES[c], codes == c) for c in np.unique(codes) if c]
        for method, values in variants:
            for signal, mask in types:
                m = protein_metrics(r.sequence, values, mask, window=window, k=k, protocol=protocol)
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
            kept = part[part[metric].notna()]
            values = kept[metric].to_numpy()
            lo, hi = bootstrap_ci(values, kept.accession, n_boot=n_boot, seed=seed)  # proteins, all seeds together
            row.update({metric: values.mean() if len(values) else np.nan, f"{metric}_lo": lo, f"{metric}_hi": hi,
                        f"{metric}_n": len(values)})
        out.append(row)
    return pd.DataFrame(out)


def positional_margins(proteins: pd.DataFrame, *, metrics: tuple[str, ...] = ("auprc", "pointing"),
                       n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each explanation's paired margin over the best positional baseline (SPEC 9.3), per model and signal.

    The best baseline is the one of ``n-ramp``, ``c-ramp`` and the method's own ``position prior``
    (where present) with the highest mean on the same proteins; the margin is the mean of the
    per-protein differences (method - baseline), with a protein-level bootstrap interval. A method
    ``beats position`` where the whole interval is above 0.
    """
    out = []
    key = ["run_id", "model", "accession", "signal"]
    explanations = sorted({m for m in proteins.method.unique() if m not in CONTROLS and m not in POSITIONAL
                           and m != "random scores" and not m.endswith((" rotated", " position prior"))})
    for method in explanations:
        own = proteins[proteins.method == method]
        candidates = [b for b in (*POSITIONAL, f"{method} position prior") if b in set(proteins.method)]
        for (model, signal), part in own.groupby(["model", "signal"], sort=True):
            for metric in metrics:
                base_means = {}
                paired = {}
                for b in candidates:
                    other = proteins[(proteins.method == b) & (proteins.model == model) & (proteins.signal == signal)]
                    joined = part[key + [metric]].merge(other[key + [metric]], on=key, suffixes=("", "_base")).dropna()
                    if len(joined):
                        base_means[b] = joined[f"{metric}_base"].mean()
                        paired[b] = joined
                if not base_means:
                    continue
                best = max(base_means, key=base_means.get)
                joined = paired[best]
                diff = (joined[metric] - joined[f"{metric}_base"]).to_numpy()
                lo, hi = bootstrap_ci(diff, joined.accession, n_boot=n_boot, seed=seed)
                out.append({"model": model, "method": method, "signal": signal, "metric": metric, "n": len(diff),
                            "method_mean": float(joined[metric].mean()), "best_baseline": best,
                            "baseline_mean": float(base_means[best]), "margin": float(diff.mean()),
                            "margin_lo": lo, "margin_hi": hi, "beats_position": bool(lo > 0)})
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


def learn_priors(run_dir: Path, methods, *, proteins: int = 300, seed: int = 0, progress: bool = False) -> dict:
    """Each method's :func:`position_prior` on a seeded, stratified subset of the run's VALIDATION proteins.

    Returns ``{method: (n_prior, c_prior)}``. Test proteins are never used (SPEC 9.3).
    """
    from pslmodels.attribute import attribute_proteins, make_method

    model, ckpt = load_model(run_dir)
    val = stratified_subset(run_split(ckpt, "validation"), proteins, seed)
    frame = attribute_proteins(model, val, [make_method(m, seed) for m in methods], run_id=Path(run_dir).name,
                               progress=progress)
    return {m: position_prior(frame[frame.method == m].scores) for m in methods}


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.plausibility", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("attributions", type=Path)
    parser.add_argument("--signals", type=Path, default=DEFAULT_SIGNALS)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--k", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0, help="for the random baselines and the bootstrap")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="spec",
                        help="peptide extraction for overlap/IoU: spec (SPEC 6) or paper (the authors', SPEC 10)")
    parser.add_argument("--run", type=Path, default=None,
                        help="the run the attributions came from: its validation proteins give each method's "
                             "position prior (SPEC 9.3); without it only the ramps are baselines")
    parser.add_argument("--prior-proteins", type=int, default=300, help="validation proteins for the prior")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the summary (default: beside the input)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args.threads)
    if args.window < 1 or not (args.k >= 0 and np.isfinite(args.k)) or args.prior_proteins < 1:
        raise PslError(f"--window {args.window}, --k {args.k}, --prior-proteins {args.prior_proteins}: "
                       "need window >= 1, a finite k >= 0 and at least 1 prior protein")
    out = check_output_file(args.out or args.attributions.with_name("plausibility.csv"))  # before the work
    signals = read_signals(args.signals)
    attributions = read_attributions(args.attributions, NEEDED, purpose="plausibility")
    priors, prior_note = {}, "position prior: not computed (no --run given); baselines are the ramps only"
    if args.run is not None:
        methods = sorted(m for m in attributions.method.unique() if m not in CONTROLS)
        learnt = learn_priors(args.run, methods, proteins=args.prior_proteins, seed=args.seed)
        run_ids = set(attributions.get("run_id", pd.Series([""])).unique())
        priors = {(r, m): p for r in run_ids for m, p in learnt.items()}
        prior_note = (f"position prior: learnt on {args.prior_proteins} validation proteins of {args.run} "
                      "(never test proteins)")
    proteins = per_protein(attributions, signals, window=args.window, k=args.k, seed=args.seed, priors=priors,
                           protocol=args.protocol)
    if proteins.empty:
        raise PslError(f"{args.attributions}: none of its {attributions.accession.nunique()} proteins has "
                       f"sorting-signal annotations in {args.signals}")
    summary = summarize(proteins, seed=args.seed).assign(protocol=args.protocol)  # recorded in the output
    margins = positional_margins(proteins, seed=args.seed)
    with atomic_output(out) as tmp:
        summary.to_csv(tmp, index=False)
    margins_file = out.with_name(out.stem + "_margins.csv")
    with atomic_output(margins_file) as tmp:
        margins.to_csv(tmp, index=False)
    per_protein_file = out.with_name(out.stem + "_proteins.parquet")
    with atomic_output(per_protein_file) as tmp:
        proteins.to_parquet(tmp, index=False)
    print(f"{proteins.accession.nunique()} proteins with annotated sorting signals "
          f"(of {attributions.accession.nunique()} in {args.attributions.name}); {prior_note}; peptides for "
          f"overlap/IoU extracted with --protocol {args.protocol}")
    print(format_table(summary).to_string(index=False))
    if not margins.empty:
        print("\nMargin over the best positional baseline (paired, protein-level 95 % interval; > 0 = beats position):")
        print(format_margins(margins).to_string(index=False))
    print(f"\nsummary: {out}; margins: {margins_file}; per protein: {per_protein_file}")
    return 0


def format_margins(margins: pd.DataFrame) -> pd.DataFrame:
    """Readable margins: method vs best baseline, 'margin [lo, hi]' and the verdict."""
    return pd.DataFrame({
        "model": margins.model, "method": margins.method, "signal": margins.signal, "metric": margins.metric,
        "n": margins.n, "method mean": margins.method_mean.map("{:.3f}".format),
        "best positional baseline": [f"{b} {m:.3f}" for b, m in zip(margins.best_baseline, margins.baseline_mean,
                                                                    strict=True)],
        "margin [95% CI]": [f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in
                            zip(margins.margin, margins.margin_lo, margins.margin_hi, strict=True)],
        "beats position": margins.beats_position.map({True: "yes", False: "no"}),
    })


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
