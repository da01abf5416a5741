"""``python -m pslmodels.report runs/study [--out reports/study.md]``: the study report, from run directories alone.

Reads every ``ROOT/<model>-s<seed>/`` (``metrics.json``, ``diagnostics.csv``, ``kendall_tau.parquet``,
``hitrate/hitrates.parquet``) and ``ROOT/study.json`` (the budget it ran with), and writes a markdown
report with Tables 1-3 beside the published numbers, plus matplotlib figures next to it
(``<out stem>_figures/``). Multi-seed numbers are mean ± sd over seeds; hit rates carry a 95 %
bootstrap interval over the proteins of all seeds pooled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pslindex.attributions import EXPLANATIONS, GROUPS, IG_TOLERANCE, protein_groups
from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main, first_line
from pslindex.files import atomic_output, check_output_file, check_replaceable, output_folder
from pslindex.stats import bootstrap_ci, mean_sd
from pslmodels.faithfulness import figure_deletion, study_table
from pslmodels.model import ARCHS
from pslmodels.paper import (
    PAPER_NAMES,
    TABLE2_MODELS,
    TABLE3_METHODS,
    TABLE3_MODELS,
    published_hitrate,
    published_table1,
)
from pslmodels.plausibility import format_margins, format_table, positional_margins, summarize
from pslmodels.plots import pyplot
from pslmodels.signals import ORACLE
from pslmodels.verdict import (
    EQUIVALENCE_MARGIN,
    PRIMARY_MODELS,
    bh_qvalues,
    calibration_table,
    control_difference,
    detectable_effect,
    primary_table,
)

COMMAND = "pslmodels.report"
# the figures (also what a figure folder written before output markers may hold)
FIGURES = frozenset({"per_class_f1.png", "hitrates.png", "plausibility.png", "faithfulness.png"})


# plausibility rows in the order shown: each explanation, its own rotations, then the random scores
PLAUSIBILITY_ROWS = (*(v for m in EXPLANATIONS for v in (m, f"{m} rotated")), "random scores")

def read_runs(root: Path, tag: str = "") -> pd.DataFrame:
    """One row per finished run: label (model, or "model (tag)"), seed, test metrics, per-class F1, training facts."""
    rows = []
    for metrics_file in sorted(Path(root).glob("*/metrics.json")):
        try:
            m = json.loads(metrics_file.read_text())
            t = m["test"]
            _ = (t["accuracy"], t["f1_per_class"], m["model"], m["seed"], m["n_train"], m["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PslError(f"{metrics_file}: damaged ({type(exc).__name__}: {first_line(exc)}); re-run that "
                           "training or move the run out of the study (nothing was written)") from None
        rows.append({"run_dir": str(metrics_file.parent), "model": m["model"], "seed": m["seed"],
                     "label": f"{m['model']} ({tag})" if tag else m["model"],
                     "accuracy": t["accuracy"], "f1_micro": t["f1_micro"], "f1_macro": t["f1_macro"],
                     "mcc": t["mcc"], "n_test": t["n"], "n_train": m["n_train"], "best_epoch": m["best_epoch"],
                     "epochs_run": m["epochs_run"], "train_seconds": m["train_seconds"], "device": m["device"],
                     "threads": m.get("threads", "?"), "commit": m.get("commit", "unknown"),
                     **{f"f1:{c}": f for c, f in t["f1_per_class"].items()}})
    return pd.DataFrame(rows)


def model_order(labels) -> list[str]:
    """Labels in the order of the study's models (Table 1, then the MLP trio), extra runs after their model."""
    rank = {m: i for i, m in enumerate(ARCHS)}
    return sorted(set(labels), key=lambda label: (rank.get(label.split(" (")[0], len(rank)), label))


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    out = []
    for label in model_order(runs.label):
        part = runs[runs.label == label]
        model = part.model.iloc[0]
        paper = published_table1(model)
        paper_text = f"{paper[0]:.3f} / {paper[1]:.3f}" if paper else "-"
        out.append({"model": label, "seeds": len(part), "training proteins": ", ".join(map(str, part.n_train.unique())),
                    "F1 micro (accuracy)": mean_sd(part.f1_micro),
                    "F1 macro": mean_sd(part.f1_macro), "MCC": mean_sd(part.mcc), "paper F1 micro / macro": paper_text,
                    "epochs (best)": ", ".join(f"{r.epochs_run} ({r.best_epoch})" for r in part.itertuples()),
                    "train min": f"{part.train_seconds.sum() / 60:.0f}"})
    return pd.DataFrame(out)


def accuracy_differences(runs: pd.DataFrame, reference: str = "bilstm-att") -> pd.DataFrame:
    """Each model's test accuracy minus ``reference``'s on the same proteins, with the 95 % interval of the
    paired difference (proteins resampled; a protein's correctness averaged over the seeds of each model
    first). Empty when the reference run or the predictions are missing."""
    preds = read_per_run(runs, "test_predictions.parquet")
    if preds.empty:
        return pd.DataFrame()
    preds["correct"] = (preds.true_label == preds.pred_label).astype(float)
    correct = {label: preds[preds.model == label].groupby("accession").correct.mean()
               for label in model_order(preds.model.unique())}
    if reference not in correct:
        return pd.DataFrame()
    out = []
    for label, per_protein in correct.items():
        if label == reference:
            continue
        joined = pd.concat([per_protein, correct[reference]], axis=1, join="inner", keys=["model", "ref"])
        diff = joined.model - joined.ref
        lo, hi = bootstrap_ci(diff.to_numpy(), diff.index.to_numpy())
        out.append({"model": label, "seeds": int((runs.label == label).sum()), "proteins": len(joined),
                    "accuracy": f"{joined.model.mean():.3f}", reference: f"{joined.ref.mean():.3f}",
                    "difference [95% CI]": f"{diff.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"})
    return pd.DataFrame(out)


def diagnostics_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Experiments I/III: per model and mode, mean ± sd over model seeds of the per-run means."""
    out = []
    for model in model_order(runs.label):
        frames = []
        for r in runs[runs.label == model].itertuples():
            path = Path(r.run_dir) / "diagnostics.csv"
            if path.is_file():  # replacement seeds averaged within a run first
                try:
                    frames.append(pd.read_csv(path).groupby("mode", sort=False).mean(numeric_only=True)
                                  .drop(columns="seed").assign(seed=r.seed).reset_index())
                except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
                    raise PslError(f"{path}: damaged ({type(exc).__name__}: {first_line(exc)}); re-run "
                                   "pslmodels.diagnose for that run (nothing was written)") from None
        if not frames:
            continue
        table = pd.concat(frames)
        for mode, part in table.groupby("mode", sort=False):
            out.append({"model": model, "attention": mode, "seeds": len(part), "F1 micro": mean_sd(part.f1_micro),
                        "F1 macro": mean_sd(part.f1_macro), "JSD (bits)": mean_sd(part.jsd),
                        "TVD": mean_sd(part.tvd), "label flips": mean_sd(part.flip_rate)})
    return pd.DataFrame(out)


def read_per_run(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """The Parquet file ``name`` of every run that has it, stacked, with the run's label (as ``model``) and seed."""
    frames = []
    for r in runs.itertuples():
        path = Path(r.run_dir) / name
        if path.is_file():
            try:
                frames.append(pd.read_parquet(path).assign(model=r.label, seed=r.seed))
            except Exception as exc:  # pyarrow raises several types for a damaged file
                raise PslError(f"{path}: damaged ({first_line(exc)}); re-run the step that writes it "
                               "(nothing was written)") from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def hitrate_table(hits: pd.DataFrame, drop_empty: bool = False) -> pd.DataFrame:
    """Tables 2-3: per model, method and group, proteins pooled over seeds: n, mean with its 95 % protein-level
    CI, and beside it the chance control (the same protein's scores rotated, SPEC 9.2) with the interval of the
    paired difference (observed minus control, proteins with both defined). ``drop_empty``: leave out the
    (model, method) pairs without a defined hit rate in any group (see :func:`empty_methods`)."""
    means = group_means(hits)
    empty = set(empty_methods(hits)) if drop_empty else set()
    out = []
    for (model, method), part in hits.groupby(["model", "method"], sort=True):
        if (model, method) in empty:
            continue
        for name, label, rows, values in protein_groups(part):
            stats = means.get((model, method, name))
            row = {"model": model, "method": method, "group": name, "proteins": len(rows),
                   "with peptides": int((rows.n_peptides > 0).sum()), "n (defined)": len(values),
                   "mean hit rate [95% CI]": f"{stats[1]:.3f} [{stats[2]:.3f}, {stats[3]:.3f}]" if stats else "-",
                   "control (same proteins)": "-", "diff [95% CI]": "-"}
            paired = control_difference(rows, label) if len(values) else None
            if paired:
                row["control (same proteins)"] = f"{paired['control']:.3f}"
                row["diff [95% CI]"] = f"{paired['diff']:+.3f} [{paired['lo']:+.3f}, {paired['hi']:+.3f}]"
            out.append(row)
    return pd.DataFrame(out)


def empty_methods_text(hits: pd.DataFrame) -> str:
    """The sentence that names what :func:`hitrate_table` with ``drop_empty`` left out ("" if nothing)."""
    empty = empty_methods(hits) if not hits.empty else []
    if not empty:
        return ""
    return ("\nNot shown, no defined hit rate in any group (no peptide extracted, or none matched an entry): "
            + ", ".join(f"{model} {method}" for model, method in empty) + ".\n")


def empty_methods(hits: pd.DataFrame) -> list[tuple[str, str]]:
    """The (model, method) pairs of ``hits`` without a defined hit rate in any group (no peptides extracted,
    or none matched anything), sorted."""
    return [key for key, part in hits.groupby(["model", "method"], sort=True)
            if not any(len(values) for *_, values in protein_groups(part))]


def group_means(hits: pd.DataFrame) -> dict:
    """{(model label, method, group): (n, mean, ci_low, ci_high)} over proteins of all seeds pooled (a protein's
    seeds enter the bootstrap together); groups without a defined hit rate are absent."""
    out = {}
    for (model, method), part in hits.groupby(["model", "method"], sort=True):
        for name, label, rows, values in protein_groups(part):
            if len(values):
                defined = rows[rows[f"hitrate_{label}"].notna()]
                lo, hi = bootstrap_ci(defined[f"hitrate_{label}"], defined.accession)
                out[(model, method, name)] = (len(values), float(values.mean()), lo, hi)
    return out


def paper_layout_table(spec: pd.DataFrame, paper: pd.DataFrame, cells: list[tuple[str, str]]) -> pd.DataFrame:
    """The paper's Tables 2-3 laid out as published: one row per (model, method) of ``cells``, one column per
    group, each cell "paper | ours, authors' protocol | ours, SPEC [95 % CI]" (hit rates; "n/a": not available)."""
    ours_spec = group_means(spec) if not spec.empty else {}
    ours_paper = group_means(paper) if not paper.empty else {}
    labels = set(spec.model) | set(paper.model) if not (spec.empty and paper.empty) else set()
    out = []
    for model, method in cells:
        for label in sorted(x for x in labels if x.split(" (")[0] == model):
            row = {"model": PAPER_NAMES.get(model, model) + label[len(model):],
                   "method": "random" if method == "random-logits" else method}
            for group, _ in GROUPS:
                published = published_hitrate(model, method, group)
                a = ours_paper.get((label, method, group))
                b = ours_spec.get((label, method, group))
                row[group] = " \\| ".join([
                    f"{published:.3f}" if published is not None else "n/a",
                    (f"{a[1]:.3f}" + (f" ({a[1] - published:+.3f})" if published is not None else "")) if a else "-",
                    f"{b[1]:.3f} [{b[2]:.3f}, {b[3]:.3f}]" if b else "-"])
            out.append(row)
    return pd.DataFrame(out)


VERDICT_QUESTIONS = {  # column -> which file answers it (see verdicts_table)
    "hit rate vs its rotations (SPEC 7, 9.2)": "hits",
    "same, homologs left out (SPEC 9.1)": "homolog_hits",
    "same, homologs left out, position-free (SPEC 9.1)": "free_hits",
    "that against aa-permuted copies, not rotations (SPEC 11.4)": "aa_hits",
    "authors' protocol vs its rotations (SPEC 10)": "paper_hits",
    "signal AUPRC vs position alone (SPEC 9.3)": "margins",
}


MIN_VERDICT_PROTEINS = 10  # below this a bootstrap interval is no interval (one protein gives [d, d])


def interval_verdict(diff: float, lo: float, hi: float, n: int, above: str = "above", below: str = "below",
                     against: str = "", seeds: tuple[str, ...] = (), tests: dict | None = None) -> str:
    """"+d [lo, hi] above|below|no difference[ vs AGAINST] (n=...[; seeds: ...])": the verdict is the side of 0
    the whole 95 % interval is on; fewer than MIN_VERDICT_PROTEINS paired proteins get no verdict. ``seeds``: the
    same verdict word of each seed alone (shown, counted, where there is more than one). ``tests``
    (:func:`pslmodels.verdict.paired_tests`, with ``q``): the q-value, proteins favouring each side with the
    sign test's p, and for "no difference" the smallest effect the interval could have detected."""
    vs = f" vs {against}" if against else ""
    per_seed = f"; seeds: {seed_agreement(seeds)}" if len(seeds) > 1 else ""
    word = verdict_word(lo, hi, n, above, below)
    if word == TOO_FEW:
        return f"{diff:+.3f}, too few proteins{vs} (n={n}{per_seed})"
    extra = ""
    if tests is not None:
        q = tests.get("q", float("nan"))
        extra = (f"; q={q:.2g}" if q == q else "") + f"; {tests['favour']}:{tests['against']} proteins"
        extra += f", sign p={tests['p_sign']:.2g}" if tests["p_sign"] == tests["p_sign"] else ""
        if word == "no difference":
            extra += f"; detects >= {detectable_effect(lo, hi):.3f}"
    return f"{diff:+.3f} [{lo:+.3f}, {hi:+.3f}] {word}{vs} (n={n}{per_seed}{extra})"


TOO_FEW = "too few"


def verdict_word(lo: float, hi: float, n: int, above: str = "above", below: str = "below") -> str:
    """One interval's verdict: TOO_FEW under MIN_VERDICT_PROTEINS paired proteins, else the side of 0 its whole
    95 % interval lies on (``above``/``below``), or "no difference" where it holds 0."""
    if n < MIN_VERDICT_PROTEINS:
        return TOO_FEW
    return above if lo > 0 else below if hi < 0 else "no difference"


def seed_agreement(words) -> str:
    """"2 above, 1 no difference": how many seeds reached each verdict, most frequent first (ties by name)."""
    counts = pd.Series(list(words)).value_counts()
    return ", ".join(f"{k} {w}" for w, k in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def verdicts_table(hits: pd.DataFrame, homolog_hits: pd.DataFrame, paper_hits: pd.DataFrame,
                   margins: pd.DataFrame, methods: tuple[str, ...] = (*EXPLANATIONS, ORACLE),
                   seed_margins: pd.DataFrame | None = None, free_hits: pd.DataFrame | None = None,
                   aa_hits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every claim of the study beside the control that could overturn it, one row per (model, method).

    Hit-rate columns: the method's hit rate minus the same protein's scores rotated (SPEC 9.2), on the proteins
    the model classified correctly, against the true label (Table 2's group); under SPEC 7, SPEC 7 with each
    protein's homologs left out (SPEC 9.1), the same position-free (``free_hits``: every matching entry weighing
    1, SPEC 9.1), that against copies with the scores permuted among residues of the same amino acid instead of
    rotated (``aa_hits``, SPEC 11.4), and the authors' protocol (SPEC 10). Last column: AUPRC on any
    annotated sorting signal minus the best positional baseline (SPEC 9.3). Each cell
    :func:`interval_verdict` over the proteins of all seeds pooled (n counts a protein once per seed); "-" where
    not computed. Where a model has several seeds, each cell also counts the verdicts of its seeds alone (hit
    rates from ``seed`` of the hit-rate frames; margins from ``seed_margins``, :func:`positional_margins` per
    seed with a ``seed`` column), so a verdict carried by one seed shows.
    """
    sources = {"hits": hits, "homolog_hits": homolog_hits, "paper_hits": paper_hits, "free_hits": free_hits,
               "aa_hits": aa_hits}
    correct, correct_seeds = {}, {}
    for key, frame in sources.items():
        if frame is None or frame.empty:
            continue
        for (model, method), part in frame.groupby(["model", "method"], sort=True):
            for name, label, rows, _ in protein_groups(part):
                if name != "correct":
                    continue
                correct[(key, model, method)] = control_difference(rows, label)
                if rows.seed.nunique() > 1:  # one seed: its verdict is the pooled one
                    per_seed = (control_difference(seed_rows, label) for _, seed_rows in rows.groupby("seed"))
                    correct_seeds[(key, model, method)] = tuple(
                        verdict_word(d["lo"], d["hi"], d["n"]) for d in per_seed if d)
    plausible, plausible_seeds = {}, {}
    if not margins.empty:
        any_auprc = margins[(margins.signal == "any") & (margins.metric == "auprc")]
        plausible = {(r.model, r.method): r for r in any_auprc.itertuples()}
    if seed_margins is not None and not seed_margins.empty:
        any_auprc = seed_margins[(seed_margins.signal == "any") & (seed_margins.metric == "auprc")]
        for (model, method), part in any_auprc.groupby(["model", "method"]):
            plausible_seeds[(model, method)] = tuple(
                verdict_word(r.margin_lo, r.margin_hi, r.n, "beats", "loses")
                for r in part.sort_values("seed").itertuples())
    keys = {(m, x) for (_, m, x) in correct} | set(plausible)
    judged = [d for d in correct.values() if d and d["with_peptides"] and d["n"] >= MIN_VERDICT_PROTEINS]
    for d, q in zip(judged, bh_qvalues([d["p_mean"] for d in judged]), strict=True):
        d["q"] = q  # Benjamini-Hochberg across every hit-rate verdict of the table
    out = []
    for model in model_order({m for m, _ in keys}):
        for method in methods:
            if (model, method) not in keys:
                continue
            row = {"model": model, "method": method}
            for column, source in VERDICT_QUESTIONS.items():
                if source == "margins":
                    r = plausible.get((model, method))
                    row[column] = (interval_verdict(r.margin, r.margin_lo, r.margin_hi, r.n, "beats", "loses",
                                                    r.best_baseline, plausible_seeds.get((model, method), ()))
                                   if r is not None else "-")
                else:
                    d = correct.get((source, model, method))
                    row[column] = ("-" if not d else f"no peptides (n={d['n']})" if not d["with_peptides"] else
                                   interval_verdict(d["diff"], d["lo"], d["hi"], d["n"],
                                                    seeds=correct_seeds.get((source, model, method), ()),
                                                    tests=d))
            if any(v != "-" for k, v in row.items() if k in VERDICT_QUESTIONS):
                out.append(row)
    return pd.DataFrame(out)


def paired_control_table(hits: pd.DataFrame, method: str = "attention", control: str = "shifted") -> pd.DataFrame:
    """Hit rate against the true label, ``method`` minus ``control`` on the same proteins (paired).

    Groups follow ``method``'s prediction for both, so the comparison is not confounded by the
    control changing the predictions. Mean difference with a 95 % bootstrap interval.
    """
    out = []
    keys = ["model", "seed", "accession"]
    left = hits[hits.method == method][keys + ["correct", "hitrate_true"]]
    right = hits[hits.method == control][keys + ["hitrate_true"]]
    both = left.merge(right, on=keys, suffixes=("", "_control")).dropna(subset=["hitrate_true", "hitrate_true_control"])
    for model in model_order(hits[hits.method == method].model):
        part = both[both.model == model]
        for name, rows in (("all", part), ("correct", part[part.correct]), ("wrong", part[~part.correct])):
            diff = (rows.hitrate_true - rows.hitrate_true_control).to_numpy()
            lo, hi = bootstrap_ci(diff, rows.accession)  # a protein's seeds go in or out together
            out.append({"model": model, f"proteins ({method} prediction)": name, "n (both defined)": len(diff),
                        method: f"{rows.hitrate_true.mean():.3f}" if len(diff) else "-",
                        control: f"{rows.hitrate_true_control.mean():.3f}" if len(diff) else "-",
                        "difference [95% CI]": "-" if not len(diff) else
                        f"{diff.mean():+.3f}, too few proteins" if len(diff) < MIN_VERDICT_PROTEINS else
                        f"{diff.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"})
    return pd.DataFrame(out)


def completeness_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model (seeds pooled): IG rows, how many add up (``ig_completeness.parquet``), |delta| quantiles."""
    rows = read_per_run(runs, "ig_completeness.parquet")
    out = []
    for model in model_order(rows.model) if not rows.empty else []:
        part = rows[rows.model == model]
        delta = part.ig_delta.abs()
        out.append({"model": model, "IG proteins": len(part), "add up": int(part.sound.sum()),
                    "share": f"{part.sound.mean():.2f}", "delta, median (abs.)": f"{delta.median():.3g}",
                    "90th percentile": f"{delta.quantile(0.9):.3g}", "max": f"{delta.max():.3g}",
                    "relative error median": f"{part.error.median():.3g}"})
    if not out:
        return pd.DataFrame([{"model": "(no run records IG's completeness yet: attributions made before it)"}])
    return pd.DataFrame(out)


def kendall_table(runs: pd.DataFrame) -> pd.DataFrame:
    out = []
    taus = read_per_run(runs, "kendall_tau.parquet")
    if not taus.empty and "versus" not in taus:  # files written before occlusion: attention vs IG only
        taus["versus"] = "ig"
    for model in model_order(taus.model) if not taus.empty else []:
        for versus in ("ig", "occlusion"):
            tau = taus[(taus.model == model) & (taus.versus == versus)].tau.dropna()
            if len(tau):
                out.append({"model": model, "attention vs": versus, "proteins (all seeds)": len(tau),
                            "median tau": f"{tau.median():.3f}",
                            "IQR": f"{tau.quantile(0.25):.3f} to {tau.quantile(0.75):.3f}",
                            "share tau > 0": f"{(tau > 0).mean():.2f}"})
    return pd.DataFrame(out)


def figure_per_class_f1(runs: pd.DataFrame, path: Path) -> None:
    plt = pyplot()

    models = model_order(runs.label)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    width = 0.8 / len(models)
    x = np.arange(len(CLASSES))
    for i, model in enumerate(models):
        part = runs[runs.label == model][[f"f1:{c}" for c in CLASSES]].to_numpy()
        sd = part.std(0, ddof=1) if len(part) > 1 else None
        ax.bar(x + i * width - 0.4 + width / 2, part.mean(0), width, yerr=sd, label=model, capsize=1.5)
    ax.set_xticks(x, [c.replace(".", " ") for c in CLASSES], rotation=30, ha="right")
    ax.set_ylabel("test F1 (mean over seeds)")
    ax.set_ylim(0, 1)
    ax.legend(ncol=5, fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure_hitrates(hits: pd.DataFrame, path: Path) -> None:
    """Forest plot per group: each (model, method)'s mean hit rate with its 95 % protein-level interval, and
    beside it (grey) the mean of its chance control (the same proteins' rotated scores, SPEC 9.2).

    Proteins of all seeds pooled; a protein's seeds enter the bootstrap together.
    """
    plt = pyplot()

    has_control = "control_hitrate_true" in hits.columns
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(13, 1.2 + 0.32 * hits.groupby(["model", "method"]).ngroups),
                             sharey=True)
    labels = [f"{model} \u00b7 {method}" for (model, method), _ in hits.groupby(["model", "method"], sort=True)]
    for ax, (name, label) in zip(np.atleast_1d(axes), GROUPS, strict=True):
        for y, (_, part) in enumerate(hits.groupby(["model", "method"], sort=True)):
            for group, _, rows, values in protein_groups(part):
                if group != name:
                    continue
                if not len(values):
                    ax.text(0.01, y, "no defined hit rate (no peptides or no match)", fontsize=6, color="0.4",
                            va="center")
                    continue
                defined = rows[rows[f"hitrate_{label}"].notna()]
                lo, hi = bootstrap_ci(defined[f"hitrate_{label}"], defined.accession)
                ax.errorbar(values.mean(), y, xerr=[[values.mean() - lo], [hi - values.mean()]], fmt="o",
                            color="black", ms=4, capsize=2, label="observed" if y == 0 else None)
                ax.text(1.02, y, f"n={len(values)}", fontsize=6, va="center", transform=ax.get_yaxis_transform())
                if has_control:
                    control = rows[rows[f"control_hitrate_{label}"].notna()]
                    if len(control):
                        c = control[f"control_hitrate_{label}"].to_numpy(dtype=float)
                        c_lo, c_hi = bootstrap_ci(c, control.accession)
                        ax.errorbar(c.mean(), y - 0.25, xerr=[[c.mean() - c_lo], [c_hi - c.mean()]], fmt="s",
                                    color="0.6", ms=3, capsize=2, label="chance control" if y == 0 else None)
        ax.set_title(f"{name} (judged vs {label} label)", fontsize=9)
        ax.set_xlabel("mean protein hit rate, 95 % CI")
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(labels)), labels, fontsize=7)
    first.invert_yaxis()
    handles, names = first.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(frame: pd.DataFrame, empty: str = "_(nothing to show yet)_") -> str:
    if frame.empty:
        return empty + "\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def plausibility_table(per_protein: pd.DataFrame) -> pd.DataFrame:
    """Plausibility means with their 95 % intervals per model, signal type ("any" first) and method."""
    table = format_table(summarize(per_protein))
    order = {m: i for i, m in enumerate(PLAUSIBILITY_ROWS)}
    signal_order = {s: i for i, s in enumerate(("any", "SP", "MT", "CH", "TH", "NLS", "NES", "PTS", "GPI", "TM"))}
    table = table.assign(_m=table.method.map(lambda m: order.get(m, len(order))),
                         _s=table.signal.map(lambda s: signal_order.get(s, len(signal_order))))
    return table.sort_values(["model", "_s", "_m"]).drop(columns=["_m", "_s"]).reset_index(drop=True)


def figure_plausibility(per_protein: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    summary = summarize(per_protein, n_boot=500)
    labels = model_order(summary.model)
    methods = [m for m in PLAUSIBILITY_ROWS
               if m in set(summary.method)]
    fig, axes = plt.subplots(len(labels), 1, figsize=(11, 3.2 * len(labels)), squeeze=False)
    for ax, label in zip(axes[:, 0], labels, strict=True):
        part = summary[summary.model == label]
        signals = [s for s in ("any", "SP", "MT", "CH", "TH", "NLS", "NES", "PTS", "GPI", "TM")
                   if s in set(part.signal)]
        width = 0.8 / max(len(methods), 1)
        for i, method in enumerate(methods):
            rows = part[part.method == method].set_index("signal").reindex(signals)
            x = np.arange(len(signals)) + i * width - 0.4 + width / 2
            err = np.vstack([rows.auprc - rows.auprc_lo, rows.auprc_hi - rows.auprc])
            ax.bar(x, rows.auprc, width, yerr=err, capsize=1.5, label=method)
        prevalence = part[part.method == methods[0]].set_index("signal").reindex(signals).prevalence
        ax.scatter(np.arange(len(signals)), prevalence, marker="_", s=400, color="black", zorder=3,
                   label="share of signal residues")
        n = part[part.method == methods[0]].set_index("signal").reindex(signals).n
        ax.set_xticks(np.arange(len(signals)), [f"{s}\n(n={int(v)})" if v == v else s for s, v in zip(signals, n,
                                                                                                    strict=True)])
        ax.set_ylim(0, 1)
        ax.set_ylabel("AUPRC vs signal mask")
        ax.set_title(label, fontsize=9, loc="left")
        ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(roots: list[Path], out: Path, *, planted: Path | None = None) -> Path:
    """Rebuild ``out`` (markdown) and its figures from the run directories under ``roots``.

    The first root is the study (``make reproduce``: the kept runs, reports/study/runs); runs under
    further roots are labelled "model (root name)", e.g. a longer training of one model. ``planted``: the
    kept runs of the planted-motif benchmark (``make planted``: reports/study/planted), for its section.
    """
    roots, out = [Path(r) for r in roots], check_output_file(out)  # before reading the runs
    runs = pd.concat([read_runs(root, "" if i == 0 else root.name) for i, root in enumerate(roots)],
                     ignore_index=True)
    if runs.empty:
        raise PslError(f"{', '.join(map(str, roots))}: no finished runs (no */metrics.json)")
    fig_dir = out.with_name(out.stem + "_figures")
    rel = os.path.relpath(fig_dir, out.parent)
    hits = read_per_run(runs, "hitrate/hitrates.parquet")
    paper_hits = read_per_run(runs, "hitrate-paper/hitrates.parquet")
    homolog_hits = read_per_run(runs, "hitrate-homologs-excluded/hitrates.parquet")
    free_hits = read_per_run(runs, "hitrate-homologs-excluded-position-free/hitrates.parquet")
    aa_hits = read_per_run(runs, "hitrate-homologs-excluded-position-free-aa-permuted/hitrates.parquet")
    plaus = read_per_run(runs, "plausibility_proteins.parquet")
    faith = read_per_run(runs, "faithfulness.parquet")
    seeds = sorted(runs.seed.unique())
    devices = ", ".join(sorted(runs.device.unique()))
    threads = ", ".join(sorted(map(str, runs.threads.unique())))
    commits = ", ".join(sorted({c[:7] for c in runs.commit}))
    budgets = []
    for i, root in enumerate(roots):
        plan = json.loads((root / "study.json").read_text()) if (root / "study.json").is_file() else {}
        budgets.append(f"- Budget{'' if i == 0 else f' of the runs labelled ({root.name})'}: {budget_text(plan)}")
    parts = [
        "# The study, reproduced\n",
        f"Built by `python -m pslmodels.report {' '.join(map(str, roots))}` from {len(runs)} finished runs "
        f"({runs.label.nunique()} models, seeds {', '.join(map(str, seeds))}). Every number is read from the "
        "run directories; nothing is typed in except the published values in the 'paper' column.\n",
        f"- Training device(s): {devices}; torch threads per run: {threads}; code at commit(s) {commits}. "
        f"Total training time {runs.train_seconds.sum() / 3600:.1f} h. (Everything here is read from the "
        "runs, so the report is the same on any machine that rebuilds it.)",
        *budgets,
        "- Test set: the official DeepLoc test partition (n = "
        f"{', '.join(map(str, sorted(runs.n_test.unique())))}); the paper used a random split, so its "
        "numbers compare only loosely.\n",
    ]
    margins, plaus_table = pd.DataFrame(), pd.DataFrame()
    if not plaus.empty:
        margins, plaus_table = positional_margins(plaus), plausibility_table(plaus)
    seed_margins = None
    if not plaus.empty and plaus.seed.nunique() > 1:  # each seed's own verdict on "any" signal (one seed: the pool)
        any_signal = plaus[plaus.signal == "any"]
        seed_margins = pd.concat([positional_margins(part, metrics=("auprc",)).assign(seed=seed)
                                  for seed, part in any_signal.groupby("seed")], ignore_index=True)
    verdicts = verdicts_table(hits, homolog_hits, paper_hits, margins, seed_margins=seed_margins,
                              free_hits=free_hits, aa_hits=aa_hits)
    calibration = calibration_table({"SPEC 7": hits, "SPEC 7, homologs left out": homolog_hits,
                                     "same, position-free": free_hits, "that vs aa-permuted copies": aa_hits,
                                     "authors' protocol": paper_hits})
    flagged = calibration[calibration["above 5 %"] == "yes"]
    calibration_note = "".join(
        f"\n**Calibration (SPEC 11.3): the rows that carry no information reject more often than 5 %"
        f"{' over all hit-rate variants' if r['hit rate'] == 'all' else ' under ' + r['hit rate']}** "
        f"({r['excluding 0']} of {r['null cells']} intervals exclude 0, {r['t-interval, p (sign flips)']} with the "
        f"dependence between cells kept; {r['p <= 0.05']} of {r['null proteins']} proteins have p <= 0.05), so "
        f"read {'every verdict' if r['hit rate'] == 'all' else 'the verdicts of that column'} as less certain "
        "than the interval says (table in 'Calibration').\n" for r in flagged.to_dict("records"))
    if not free_hits.empty:
        parts += [
            "## The primary verdict\n",
            "Declared before its numbers (`pslmodels/verdict.py`): do the peptides a method points at share the "
            "protein's location in Swiss-Prot more often than the same protein's scores rotated to random places, "
            "once every homolog of the protein is left out of the index and every matching entry weighs 1 "
            "(position-free)? Correct predictions, against the true label; pooled over the three independent "
            f"attention models ({', '.join(PRIMARY_MODELS)}; mlp-preset pools with bilstm-att's own attention and "
            "is left out) and their seeds, each model weighing the same; hierarchical bootstrap (seeds, then "
            f"proteins). Beside the 95 % interval, an equivalence test against +-{EQUIVALENCE_MARGIN:g} (two "
            "one-sided tests: the 90 % interval inside the margin). IG is judged only on the proteins where it "
            "adds up, which on these recurrent models are too few; `occlusion` is the exact attribution beside "
            "it. Everything after this section is secondary. The last row is the positive control (SPEC 11.1): "
            f"`{ORACLE}` scores 1 on the residues of the protein's annotated sorting signals and 0 elsewhere (only "
            "proteins with annotations have peptides), the row a method would have to match; if it is not above "
            "chance, the hit rate cannot see real signals at this n and a method's 'not above' says nothing.\n",
            markdown(primary_table(free_hits, (*EXPLANATIONS, ORACLE))),
            calibration_note,
        ]
    if not verdicts.empty:
        parts += [
            "## Verdicts, each beside its control\n",
            "Does a method point where it matters? Each cell is a method minus the control that could overturn "
            "it, on the same proteins, with the 95 % protein-level interval of the difference and its side of 0 "
            "(`above`/`below`, `beats`/`loses`; `no difference` where the interval holds 0). Hit rates: the "
            "proteins each model classified correctly, against the true label (Table 2's group), minus the same "
            "protein's scores rotated to random places (SPEC 9.2); under SPEC 7, with each protein's homologs "
            "left out of the index (SPEC 9.1), the same with every matching entry weighing 1 instead of SPEC 7's "
            "position weight (position-free, SPEC 9.1), that against copies with the protein's scores permuted among "
            "residues of the same amino acid instead of rotated (SPEC 11.4: a method that beats its rotations but "
            "not these scores residue types, not places), and under the authors' protocol (SPEC 10). Signal AUPRC: any "
            "annotated sorting signal, minus the best content-free positional baseline (SPEC 9.3). Proteins of all "
            "seeds are pooled (n counts a protein once per seed); where a model has several seeds, `seeds:` counts "
            "the verdict each seed reaches alone. Each hit-rate cell also gives its Benjamini-Hochberg q-value "
            "across the hit-rate cells of this table (from the paired t-test of the mean), how many proteins "
            "favour the method and how many its rotations with the sign test's p (the typical protein, where the "
            "mean may hide it), and for `no difference` the smallest difference the interval could have detected "
            "(80 % power, two-sided 5 %). mlp-preset's attention is bilstm-att's attention (the weights it was "
            "given), not separate evidence. The tables below hold the means and every group.\n",
            markdown(verdicts),
            calibration_note,
            "\n## Calibration: how often a verdict says yes where there is nothing to find\n",
            "The rows that carry no information about where a model looks (`shifted`, `permuted`, `random`, "
            "`random-logits` weights, each against its own rotations; SPEC 11.3): the share of their cells "
            "(model, method, group, at least 10 paired proteins with peptides) whose 95 % interval excludes 0, "
            "and the share of their proteins with a per-protein p <= 0.05 (SPEC 9.2), each with its exact "
            "binomial interval. Both should be 5 % or less. The cells are not independent (the two 'wrong' groups "
            "are the same proteins, and every variant and model holds the same proteins), so the binomial interval "
            "over cells is too narrow: `t-interval, p (sign flips)` counts the cells a 95 % t-interval excludes and "
            "gives the probability of as many under the null with that dependence kept (one random sign per "
            "protein, shared by every cell it is in; 1,000 flips, seed 0). 'above 5 %' where that p is below 0.05 "
            "or the proteins' interval lies above 5 %.\n",
            markdown(calibration),
        ]
    if planted is not None:
        parts += planted_section(Path(planted))
    parts += [
        "## Table 1: classification (test partition)\n",
        markdown(table1(runs)),
    ]
    differences = accuracy_differences(runs)
    if not differences.empty:
        parts += ["\n**Against LSTM-Att (bilstm-att), paired.** Test accuracy of each model minus bilstm-att's on "
                  "the same proteins, with the 95 % interval of the difference (proteins resampled; with one seed "
                  "per model it covers the choice of test proteins, not seed-to-seed variation).\n",
                  markdown(differences)]
    parts += [
        f"\n![per-class F1]({rel}/per_class_f1.png)\n",
        "## Attention diagnostics (Experiments I and III)\n",
        "Trained attention replaced at inference. JSD/TVD: change of the output distribution against the "
        "model's own prediction; label flips: share of proteins whose predicted class changes. Permuted and "
        "random: averaged over the replacement seeds within a run, then mean ± sd over model seeds. "
        "Experiment II (the token-level MLP guided by uniform, trained or preset attention) is the mlp rows "
        "of Table 1.\n",
        markdown(diagnostics_table(runs)),
        "\n## Do the attributions add up? Integrated Gradients' completeness\n",
        "IG's scores of a protein must sum to f(x) - f(baseline) (the predicted class's logit, baseline all "
        f"padding). A protein's IG counts only where its convergence delta is within {IG_TOLERANCE:g} of "
        "max(|f(x) - f(baseline)|, 1 logit); the others are left out of every IG table below and counted "
        "here. On the trained recurrent models f is rough along the straight path at every scale, so no "
        "number of steps makes IG add up (README, 'Integrated Gradients on recurrent models'); `occlusion` "
        "(each residue replaced by X, the logit's drop; one exact forward pass per residue, nothing to "
        "converge) stands beside IG for every model.\n",
        markdown(completeness_table(runs)),
        "\n## Attention vs IG and occlusion (Jain & Wallace's check)\n",
        "Kendall tau between the attention weights and the IG (sound rows only) or occlusion scores of the "
        "same protein, over the residues the model saw.\n",
        markdown(kendall_table(runs)),
        "\n## Faithfulness: does the explanation matter to the model? (SPEC 12)\n",
        "Each explanation's top-k residues (k = 1, 2, 5, 10, 20 % of those the model saw) replaced by a "
        "residue drawn from BLOSUM62's substitutions of the original (the sequence stays a protein), the model "
        "run again: deletion AOPC is the mean drop of the predicted class's probability over the k values. "
        "Against the best baseline ranked the same way (random residues, 5 seeded repeats; the N- or C-terminal "
        "ramp; the method's own scores rotated), paired on proteins: 'yes' where the 95 % interval lies above "
        "0.\n",
        markdown(study_table(faith)) if not faith.empty else "_(no faithfulness computed yet)_\n",
        f"\n![deletion curves]({rel}/faithfulness.png)\n" if not faith.empty else "",
        "\n## Tables 2-3: hit rates of extracted peptides against Swiss-Prot\n",
        "Peptides extracted as SPEC 6 (window 5, mean + 2 sd); hit rate as SPEC 7. 'correct' is Table 2; "
        "'wrong, vs predicted' and 'wrong, vs true' are Table 3. Proteins of all seeds pooled; 95 % "
        "percentile bootstrap interval of the mean. `shifted` (each protein's own attention rotated by a "
        "random offset) is the random-position control: same scores, same local shape, peaks elsewhere. "
        "`permuted` keeps the scores but not their shape, and `uniform`/`random` weights are nearly flat: "
        "SPEC 6's 5-residue windows rarely rise above mean + 2 sd for them, so they yield few or no peptides.\n",
        markdown(hitrate_table(hits, drop_empty=True)) if not hits.empty else "_(no hit rates yet)_\n",
        empty_methods_text(hits),
    ]
    if not hits.empty:
        parts.append(f"\n![hit rates with their chance controls]({rel}/hitrates.png)\n")
        parts += ["\n### Attention against its random-position control, paired\n",
                  "The same proteins under both, grouped by the attention model's prediction; hit rate against the "
                  "true label (SPEC 7), attention minus shifted.\n", markdown(paired_control_table(hits))]
    if not homolog_hits.empty:
        parts += ["\n### The same with every protein's homologs left out (SPEC 9.1)\n",
                  "Each protein's homologs in the index (MMseqs2, E <= 1e-3; the protein itself included) are "
                  "removed from every peptide's entries before the hit rate is taken; the control is again the "
                  "protein's own scores rotated.\n", markdown(hitrate_table(homolog_hits, drop_empty=True)),
                  empty_methods_text(homolog_hits)]
    if not free_hits.empty:
        parts += ["\n### The same, position-free (SPEC 9.1)\n",
                  "Homologs left out as above, and every entry that holds a peptide weighs 1 wherever it holds "
                  "it (`--beta none`; SPEC 7's weight 1/|i - j| gives almost nothing to a match at another "
                  "position, and non-homologous matches are rarely at the same one). The question is then the "
                  "paper's own: do the peptides a method picks occur in proteins of the same location more often "
                  "than the peptides at random places of the same protein?\n",
                  markdown(hitrate_table(free_hits, drop_empty=True)), empty_methods_text(free_hits)]
    if not (hits.empty and paper_hits.empty):
        parts += [
            "\n### Tables 2 and 3 in the paper's layout\n",
            "Each cell: the published hit rate | ours under the authors' protocol (SPEC 10: residues above mean + "
            "2 sd with 2 on each side, every peptide of a protein pooled, entries weighted min(len/|d|, 1), the "
            "protein itself kept), in brackets ours minus the published value | ours under SPEC 6-7 with its 95 % "
            "interval. Published values are read from `published_values.tsv` in the data directory "
            "(`paper/`, with its SOURCE.md); 'n/a': the paper publishes no such cell; '-': not computed (no such "
            "run, or no protein of the group with peptides). 'random' is U(0, 1) logits, softmaxed, as the "
            "authors drew them (our `random-logits`). IG rows hold only the proteins whose IG adds up (see "
            "'Do the attributions add up?').\n",
            "**Table 2, Integrated Gradients.**\n",
            markdown(paper_layout_table(hits, paper_hits, [(m, "ig") for m in TABLE2_MODELS])),
            "\n**Table 3, attention and its replacements.**\n",
            markdown(paper_layout_table(hits, paper_hits, [(m, x) for m in TABLE3_MODELS for x in TABLE3_METHODS])),
            "\nWhere they differ: the authors' protocol keeps the protein's own entry (a perfect match at distance "
            "0 for every peptide) and pools all peptides of a protein, so its hit rates sit far above SPEC's; "
            "SPEC scores each peptide against the entries that hold it and leaves out nothing but what the "
            "controls leave out. The chance control (rotations) and the homolog-excluded runs above are what "
            "decide whether either number says anything about where the model looks.\n",
        ]
    if not paper_hits.empty:
        parts += ["\n### The authors' protocol against its chance control\n",
                  "The hit rates of the authors' protocol (SPEC 10) beside the same protein's scores rotated to "
                  "random places and put through the same protocol (SPEC 9.2), with the interval of the paired "
                  "difference: a difference near 0 means the protocol's number does not depend on where the "
                  "method points.\n", markdown(hitrate_table(paper_hits, drop_empty=True)),
                  empty_methods_text(paper_hits)]
    parts += [
        "\n## Plausibility: do attributions point at annotated sorting signals?\n",
        "Test proteins with per-residue sorting-signal annotations (SPEC 2; same sequence as in DeepLoc), "
        "all seeds pooled. AUPRC of the scores against the signal mask (a random ranking scores the "
        "prevalence); pointing: the top-scoring 5-residue window overlaps the signal; overlap: share of "
        "extracted peptides touching the signal (n = proteins with peptides); IoU of extracted and signal "
        "residues. Baselines: `rotated` = the method's own scores rotated by a random offset (peaks moved, "
        "shape kept); `random scores` = i.i.d. uniform. Means with 95 % bootstrap intervals over proteins. "
        "Any annotated signal here; each signal type in the appendix.\n",
        markdown(plaus_table[plaus_table.signal == "any"]) if not plaus.empty
        else "_(no plausibility results yet)_\n",
    ]
    if not plaus.empty:
        parts += ["\n### Against position alone (SPEC 9.3)\n",
                  "Each method's AUPRC and pointing minus the best content-free positional baseline of the same "
                  "proteins (n-ramp, c-ramp, the method's position prior learnt on validation proteins), paired, "
                  "with the protein-level 95 % interval; > 0 means the method finds signals better than position "
                  "alone. Any annotated signal here; each signal type in the appendix.\n",
                  markdown(format_margins(margins[margins.signal == "any"])) if not margins.empty
                  else "_(no margins)_\n"]
        parts.append(f"\n![plausibility]({rel}/plausibility.png)\n")
    parts += ["\n## Runs\n", markdown(runs[["label", "seed", "n_train", "epochs_run", "best_epoch", "accuracy",
                                             "f1_macro", "mcc", "train_seconds", "device"]].round(3))]
    if not plaus.empty:
        parts += ["\n## Appendix: plausibility per signal type\n",
                  "As in the plausibility section, for each annotated signal type (SPEC 2) on its own.\n",
                  markdown(plaus_table[plaus_table.signal != "any"]),
                  "\n**Against position alone, per signal type (SPEC 9.3).**\n",
                  markdown(format_margins(margins[margins.signal != "any"])) if not margins.empty
                  else "_(no margins)_\n"]
    # every input was read above: only now are figures and report replaced (a damaged run changes nothing)
    check_replaceable(out.parent / fig_dir.name, COMMAND, FIGURES)
    with output_folder(fig_dir, COMMAND, legacy=FIGURES) as figures:
        figure_per_class_f1(runs, figures / "per_class_f1.png")
        if not hits.empty:
            figure_hitrates(hits, figures / "hitrates.png")
        if not plaus.empty:
            figure_plausibility(plaus, figures / "plausibility.png")
        if not faith.empty:
            figure_deletion(faith, figures / "faithfulness.png")
    with atomic_output(out) as tmp:
        tmp.write_text("\n".join(parts))
    return out


PLANTED_METHODS = ("attention", "occlusion", "ig", ORACLE, "shifted")


def _ci(mean: float, lo: float, hi: float, n: int) -> str:
    return "-" if n == 0 or mean != mean else f"{mean:.3f} [{lo:.3f}, {hi:.3f}] (n={n})"


def planted_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planted-motif benchmark (SPEC 11.2) from its kept runs under ``root`` (``make planted``).

    Returns (models, methods): per model, test accuracy on the planted proteins whose motif it sees, on those
    it does not see, and on the unplanted ones; per model and method, pointing and AUPRC against the planted
    residues (any planted test protein of the plausibility subset; ``random scores`` is the chance row),
    deletion AOPC minus its best baseline (SPEC 12, blosum) and the hit rate minus its rotations on the planted
    proteins it predicts correctly (homologs left out, position-free: the primary variant).
    """
    from pslmodels.faithfulness import matters_table
    from pslmodels.planted import MOTIFS_FILE

    try:
        planted = json.loads((root / MOTIFS_FILE).read_text())["planted_test"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PslError(f"{root / MOTIFS_FILE}: missing or damaged ({first_line(exc)}); run make planted "
                       "(nothing was written)") from None
    seen = {a for a, w in planted.items() if w["seen"]}
    runs = read_runs(root)
    models, methods = [], []
    for r in runs.itertuples():
        folder = Path(r.run_dir)
        pred = pd.read_parquet(folder / "test_predictions.parquet")
        correct = pred.true_label == pred.pred_label
        groups = {"motif seen": pred.accession.isin(seen),
                  "motif not seen": pred.accession.isin(set(planted) - seen),
                  "unplanted": ~pred.accession.isin(set(planted))}
        models.append({"model": r.label, "best epoch": f"{r.best_epoch} of {r.epochs_run}",
                       "test accuracy": f"{r.accuracy:.3f}",
                       **{f"planted, {k}" if k != "unplanted" else k: f"{correct[g].mean():.3f} (n={int(g.sum())})"
                          for k, g in groups.items()}})
        plaus = read_per_run(runs[runs.run_dir == r.run_dir], "plausibility_proteins.parquet")
        summary = summarize(plaus[plaus.signal == "any"]) if not plaus.empty else pd.DataFrame()
        faith = read_per_run(runs[runs.run_dir == r.run_dir], "faithfulness.parquet")
        matters = matters_table(faith).set_index("method") if not faith.empty else pd.DataFrame()
        free = read_per_run(runs[runs.run_dir == r.run_dir],
                            "hitrate-homologs-excluded-position-free/hitrates.parquet")
        for method in [*PLANTED_METHODS, "random scores"]:
            row = {"model": r.label, "method": method}
            part = summary[summary.method == method] if not summary.empty else pd.DataFrame()
            if not part.empty:
                x = part.iloc[0]
                row["pointing"] = _ci(x.pointing, x.pointing_lo, x.pointing_hi, int(x.pointing_n))
                row["AUPRC (prevalence)"] = (f"{_ci(x.auprc, x.auprc_lo, x.auprc_hi, int(x.auprc_n))} "
                                             f"({x.prevalence:.3f})")
            if method in matters.index:
                row["deletion AOPC minus best baseline"] = (f"{matters.loc[method, 'difference [95% CI]']} vs "
                                                            f"{matters.loc[method, 'best baseline']}: "
                                                            f"{matters.loc[method, 'matters to the model']}")
            mine = free[(free.method == method) & free.accession.isin(set(planted))] if not free.empty \
                else pd.DataFrame()
            if not mine.empty:
                row["peptides matching a non-homolog"] = (f"{int(mine.n_peptides_matched.sum())} of "
                                                          f"{int(mine.n_peptides.sum())}")
            rows = mine[mine.correct] if not mine.empty else pd.DataFrame()
            d = control_difference(rows, "true") if not rows.empty else None
            if d is not None:
                row["hit rate minus rotations (planted, correct)"] = interval_verdict(
                    d["diff"], d["lo"], d["hi"], d["n"])
            if len(row) > 2:
                methods.append(row)
    return pd.DataFrame(models), pd.DataFrame(methods).fillna("-")


def planted_section(root: Path) -> list[str]:
    """The report's section on the planted motif (:func:`planted_tables`), or nothing where it was not run."""
    from pslmodels.planted import MOTIFS_FILE

    if not (root / MOTIFS_FILE).is_file() or read_runs(root).empty:
        return []
    models, methods = planted_tables(root)
    if methods.empty:
        return ["\n## Can the pipeline say yes? The planted motif (SPEC 11.2)\n", markdown(models),
                "\n_(the planted runs are not analysed yet: make planted)_\n"]
    pointing = methods.get("pointing", pd.Series("-", methods.index))
    value = pd.to_numeric(pointing.str.split(" ").str[0], errors="coerce")
    explained = methods.method.isin(EXPLANATIONS) & value.notna()
    found = methods[explained & (value >= 0.9)]
    if not found.empty:
        finding = (f"{', '.join(f'{m} of {d}' for m, d in zip(found.method, found.model, strict=True))} "
                   f"recover{'s' if len(found) == 1 else ''} the motif (pointing >= 0.9)")
    elif explained.any():
        best = methods[explained].loc[value[explained].idxmax()]
        finding = (f"**no explanation recovers the motif (pointing >= 0.9)**; the closest, {best.method} of "
                   f"{best.model}, points at it in {value[explained].max():.3f} of the proteins (the models "
                   "themselves use it only in part: compare their accuracy with and without it above)")
    else:
        finding = "no explanation has a pointing score yet"
    return [
        "\n## Can the pipeline say yes? The planted motif (SPEC 11.2)\n",
        "A seeded copy of the data in which each class's own 6-mer (absent from every index entry) is inserted "
        "into a random half of that class's proteins, and into 1 % of that class's index entries "
        "(`make planted`: `python -m pslmodels.planted`, config/planted.yaml). The models below were trained on "
        "it; the motif names the class, so a model that uses it is right on the planted proteins, and an "
        "explanation of that model must point at the motif. Kept in reports/study/planted/.\n",
        markdown(models),
        "\nPer method: pointing (the top 5-residue window overlaps the planted residues) and AUPRC against them, "
        "on planted test proteins whose motif the model sees (`random scores`: chance); deletion (SPEC 12); and "
        "the hit-rate verdict against the planted index on the planted proteins predicted correctly (homologs "
        "left out, position-free; `oracle-signal` scores exactly the motif; `peptides matching a non-homolog`: "
        "of the method's peptides from planted proteins, how many occur in some entry other than the protein's "
        "homologs). Here " + finding + ".\n",
        markdown(methods),
    ]


def budget_text(plan: dict) -> str:
    """The budget a study ran with, from its ``study.json`` (written by the workflow, ``workflow/Snakefile``)."""
    if not plan:
        return "see the Runs table (no study.json)."
    train = "all training proteins" if not plan.get("max_train") else f"{plan['max_train']} training proteins " \
        "(stratified subset)"
    tested = "all test proteins" if not plan.get("test_proteins") else f"{plan['test_proteins']} test proteins"
    return (f"up to {plan.get('epochs')} epochs (patience {plan.get('patience')}), {train}, preset "
            f"{plan.get('preset')}; diagnostics and attributions on {tested} (stratified), Integrated Gradients on "
            f"{plan.get('ig_proteins') or 'all'} of them ({plan.get('ig_steps')} steps, one retry with twice "
            "as many where the completeness error is large)"
            + ("" if "occlusion_proteins" not in plan else
               "" if plan["occlusion_proteins"] < 0 else
               f", occlusion on {plan['occlusion_proteins'] or 'all'} of them")
            + "; plausibility on "
            f"{plan.get('signal_proteins') or 'all'} test proteins with annotated sorting signals (every "
            "explanation)."
            + (f" {plan['note']}." if plan.get("note") else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", type=Path, nargs="*", default=[Path("runs/study")],
                        help="the study's run root, then any further roots (their runs are labelled by folder name)")
    parser.add_argument("--out", type=Path, default=Path("reports/study.md"))
    parser.add_argument("--planted", type=Path, default=None,
                        help="the planted-motif benchmark's kept runs (make planted: reports/study/planted)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    print(f"report: {write_report(args.roots, args.out, planted=args.planted)}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
