"""The study's primary verdict, declared before its numbers, and the statistics beside every other verdict.

Primary verdict (pre-specified 2026-12-04, before it was computed; issue "the study at full power"):
on the proteins each model classified correctly, with every homolog of the protein left out of the
index and every matching entry weighing 1 (position-free, SPEC 9.1), the hit rate of a method's
peptides minus that of the same protein's scores rotated (SPEC 9.2), against the true label;
pooled over the three independent attention models (:data:`PRIMARY_MODELS`; mlp-preset is left out,
it pools with bilstm-att's own attention) and their seeds: each model's estimate is the mean over its
seeds of the mean over proteins, the pooled estimate the mean over models. Its interval is a
hierarchical bootstrap (each model's seeds resampled, then each drawn seed's proteins). Beside the
difference test (95 % interval), an equivalence test against +-:data:`EQUIVALENCE_MARGIN` (two
one-sided tests at 5 %: the 90 % interval inside the margin). In words: "above chance", "below
chance", "equivalent to chance within +-0.02", or "undecided: effects up to X not excluded".

Everything else is secondary: each cell also gets its Benjamini-Hochberg q-value across the verdict
table (:func:`bh_qvalues`), and a "no difference" the smallest effect it could have detected
(:func:`detectable_effect`: 80 % power at a two-sided 5 % level, from the interval's width).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pslindex.attributions import protein_groups
from pslindex.stats import bootstrap_ci

PRIMARY_MODELS = ("bilstm-att", "cnn35-att", "cnn3-5-7-11-att")
PRIMARY_HITRATE = "hitrate-homologs-excluded-position-free"
EQUIVALENCE_MARGIN = 0.02
N_BOOT = 2000


def detectable_effect(lo: float, hi: float) -> float:
    """The smallest true difference a test with this 95 % interval detects with 80 % power (two-sided 5 %).

    (1.96 + 0.84) standard errors, the standard error read from the interval's width.

    >>> round(detectable_effect(-0.02, 0.02), 4)
    0.0286
    """
    return (1.959964 + 0.841621) * (hi - lo) / (2 * 1.959964)


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg q-values of the p-values ``p`` (NaN stays NaN and is not counted).

    >>> bh_qvalues([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()[:3]
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok) == 0:
        return q
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * len(ok) / np.arange(1, len(ok) + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


def paired_tests(differences) -> dict:
    """Two-sided p-values of per-protein differences: t-test of the mean (the verdicts' question), sign test
    (does the typical protein favour one side?) and Wilcoxon signed-rank; NaN where undefined."""
    from scipy.stats import binomtest, ttest_1samp, wilcoxon

    d = np.asarray(differences, dtype=np.float64)
    d = d[~np.isnan(d)]
    nonzero = d[d != 0]
    out = {"p_mean": float("nan"), "p_sign": float("nan"), "p_wilcoxon": float("nan"),
           "favour": int((d > 0).sum()), "against": int((d < 0).sum())}
    if len(d) > 1 and d.std() > 0:
        out["p_mean"] = float(ttest_1samp(d, 0.0).pvalue)
    if len(nonzero):
        out["p_sign"] = float(binomtest(int((nonzero > 0).sum()), len(nonzero)).pvalue)
        out["p_wilcoxon"] = float(wilcoxon(nonzero).pvalue)
    return out


def control_difference(rows: pd.DataFrame, label: str) -> dict | None:
    """Hit rate against ``label`` ("true" or "pred") minus its chance control (the same protein's scores rotated,
    SPEC 9.2), over the proteins of ``rows`` with both defined.

    Returns ``{"n", "observed", "control", "diff", "lo", "hi"}`` (means; ``lo``/``hi``: 95 % protein-level
    bootstrap interval of the mean difference), or None where no protein has both or there is no control.
    """
    control = f"control_hitrate_{label}"
    if control not in rows:
        return None
    paired = rows[rows[f"hitrate_{label}"].notna() & rows[control].notna()]
    if not len(paired):
        return None
    diff = paired[f"hitrate_{label}"] - paired[control]
    lo, hi = bootstrap_ci(diff, paired.accession)
    peptides = int((paired.n_peptides > 0).sum()) if "n_peptides" in paired else len(paired)
    return {"n": len(paired), "observed": float(paired[f"hitrate_{label}"].mean()),
            "control": float(paired[control].mean()), "diff": float(diff.mean()), "lo": lo, "hi": hi,
            "with_peptides": peptides, **paired_tests(diff)}


# Rows that carry no information about where a model looks: each against its own rotations should
# exclude 0 in 5 % of intervals at most (SPEC 11.3). uniform has no peptides.
NULL_METHODS = ("shifted", "permuted", "random", "random-logits")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of k successes in n trials.

    >>> [round(x, 3) for x in clopper_pearson(10, 96)]
    [0.051, 0.183]
    """
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = beta.ppf(a, k, n - k + 1) if k else 0.0
    hi = beta.ppf(1 - a, k + 1, n - k) if k < n else 1.0
    return float(lo), float(hi)


def exclusions_under_sign_flips(cells, *, n_flip: int = 1000, seed: int = 0) -> tuple[int, float]:
    """How many ``cells`` a 95 % t-interval of the mean excludes from 0, and how often protein-level sign flips
    give as many: the probability of the count under the null with the dependence between cells kept.

    ``cells``: (differences, accessions) per cell. Under a null whose observed and control scores are
    exchangeable, a protein's difference is symmetric around 0; one sign per accession, shared by every cell
    the protein is in (its groups, hit-rate variants, methods and models), keeps the correlation between cells
    that share proteins, which a binomial interval over cells ignores.

    >>> rng = np.random.default_rng(0)
    >>> same = rng.normal(0, 1, 30)  # ten copies of one cell: ten exclusions or none, never in between
    >>> count, p = exclusions_under_sign_flips([(same + 0.5, np.arange(30))] * 10, n_flip=200)
    >>> count, 0.02 < p < 0.12  # about one cell's 5 %, where a binomial over ten cells would say 1e-13
    (10, True)
    """
    cells = [(np.asarray(d, dtype=np.float64), np.asarray(a)) for d, a in cells if len(d) > 1]
    if not cells:
        return 0, float("nan")
    ids = {a: i for i, a in enumerate(sorted({a for _, acc in cells for a in acc}))}
    cells = [(d, np.array([ids[a] for a in acc])) for d, acc in cells]

    def count(signs):
        total = 0
        for d, i in cells:
            x = d * signs[i]
            se = x.std(ddof=1) / np.sqrt(len(x))
            total += bool(se > 0 and abs(x.mean()) > 1.959964 * se)
        return total

    observed = count(np.ones(len(ids)))
    rng = np.random.default_rng(seed)
    flips = [count(rng.choice((-1.0, 1.0), len(ids))) for _ in range(n_flip)]
    return observed, (1 + sum(f >= observed for f in flips)) / (1 + n_flip)


def calibration_table(variants: dict[str, pd.DataFrame], *, min_proteins: int = 10, n_flip: int = 1000
                      ) -> pd.DataFrame:
    """The false-positive rate of the verdicts (SPEC 11.3), per hit-rate variant and in total.

    ``variants``: name -> per-protein hit rates (the kept ``hitrates.parquet`` of every run). For the null
    methods (:data:`NULL_METHODS`), every (model, method, group) cell with at least ``min_proteins``
    paired proteins with peptides: does its 95 % interval of the difference to its rotations exclude 0?
    And of their proteins with a defined per-protein p (SPEC 9.2), how many have p <= 0.05? Each share
    with its exact binomial interval; both should be 5 % or less. The cells share proteins (the two
    'wrong' groups are the same rows; the variants and models the same proteins), so the binomial interval
    over cells is too narrow: ``p (sign flips)`` is the probability of as many exclusions under the null
    with that dependence kept (:func:`exclusions_under_sign_flips`), and it decides 'above 5 %' for the cells.
    """
    rows, total = [], {"intervals": 0, "exclude": 0, "proteins": 0, "p05": 0, "cells": []}
    for name, hits in variants.items():
        if hits is None or hits.empty:
            continue
        count = {"intervals": 0, "exclude": 0, "proteins": 0, "p05": 0, "cells": []}
        null = hits[hits.method.isin(NULL_METHODS)]
        for _, part in null.groupby(["model", "method"], sort=True):
            for _, label, group_rows, _ in protein_groups(part):
                d = control_difference(group_rows, label)
                if d and d["with_peptides"] >= min_proteins and d["n"] >= min_proteins:
                    count["intervals"] += 1
                    count["exclude"] += int(d["lo"] > 0 or d["hi"] < 0)
                    paired = group_rows[group_rows[f"hitrate_{label}"].notna()
                                        & group_rows[f"control_hitrate_{label}"].notna()]
                    count["cells"].append(((paired[f"hitrate_{label}"] - paired[f"control_hitrate_{label}"]).to_numpy(),
                                           paired.accession.astype(str).to_numpy()))
                p = group_rows.get(f"p_{label}")
                if p is not None:
                    p = p[group_rows.n_peptides > 0].dropna()
                    count["proteins"] += len(p)
                    count["p05"] += int((p <= 0.05).sum())
        rows.append({"hit rate": name, **count})
        total = {k: total[k] + count[k] for k in total}
    rows.append({"hit rate": "all", **total})
    out = []
    for r in rows:
        lo, hi = clopper_pearson(r["exclude"], r["intervals"]) if r["intervals"] else (float("nan"),) * 2
        plo, phi = clopper_pearson(r["p05"], r["proteins"]) if r["proteins"] else (float("nan"),) * 2
        t_count, p_flip = exclusions_under_sign_flips(r["cells"], n_flip=n_flip)
        out.append({"hit rate": r["hit rate"], "null cells": r["intervals"],
                    "excluding 0": f"{r['exclude']} ({r['exclude'] / max(r['intervals'], 1):.1%} [{lo:.1%}, {hi:.1%}])",
                    "t-interval, p (sign flips)": f"{t_count}, p={p_flip:.2g}" if r["cells"] else "-",
                    "null proteins": r["proteins"],
                    "p <= 0.05": f"{r['p05']} ({r['p05'] / max(r['proteins'], 1):.1%} [{plo:.1%}, {phi:.1%}])",
                    "above 5 %": "yes" if (p_flip < 0.05 or plo > 0.05) else "no"})
    return pd.DataFrame(out)


def hierarchical_bootstrap(samples: dict[str, list[np.ndarray]], *, n_boot: int = N_BOOT, seed: int = 0
                           ) -> tuple[float, np.ndarray]:
    """The pooled estimate and its bootstrap replicates.

    ``samples``: model -> one array of per-protein differences per seed. Estimate: mean over models of
    the mean over seeds of the mean over proteins. Each replicate draws, per model, its seeds with
    replacement and, per drawn seed, its proteins with replacement.

    >>> est, reps = hierarchical_bootstrap({"a": [np.array([0.1, 0.3])], "b": [np.array([0.0, 0.2])]}, n_boot=50)
    >>> round(est, 3), reps.shape
    (0.15, (50,))
    """
    rng = np.random.default_rng(seed)
    estimate = float(np.mean([np.mean([s.mean() for s in seeds]) for seeds in samples.values()]))
    replicates = np.zeros(n_boot)
    for seeds in samples.values():
        # protein-level replicates of each seed's mean, then seeds drawn with replacement
        seed_means = np.stack([s[rng.integers(0, len(s), size=(n_boot, len(s)))].mean(axis=1) for s in seeds])
        drawn = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
        replicates += seed_means[drawn, np.arange(n_boot)[:, None]].mean(axis=1)
    return estimate, replicates / len(samples)


def correct_differences(hits: pd.DataFrame, model: str, method: str) -> list[np.ndarray]:
    """Per seed, the per-protein hit rate minus its rotations' of ``model``'s ``method`` on its correct
    predictions, against the true label (proteins with both defined)."""
    out = []
    part = hits[(hits.model == model) & (hits.method == method)]
    for _, seed_rows in part.groupby("seed", sort=True):
        for name, _, rows, _ in protein_groups(seed_rows):
            if name == "correct":
                both = rows[rows.hitrate_true.notna() & rows.control_hitrate_true.notna()]
                if len(both):
                    out.append((both.hitrate_true - both.control_hitrate_true).to_numpy(dtype=np.float64))
    return out


def primary_verdict(free_hits: pd.DataFrame, method: str, *, models=PRIMARY_MODELS,
                    margin: float = EQUIVALENCE_MARGIN, min_proteins: int = 10) -> dict:
    """The primary verdict of ``method`` (see the module docstring) from the position-free, homolog-free hit
    rates of the runs: estimate, 95 % and 90 % intervals, n, seeds per model, and the verdict in words."""
    samples = {}
    for m in models if free_hits is not None and not free_hits.empty else ():
        if seeds := correct_differences(free_hits, m, method):
            samples[m] = seeds
    n = sum(len(x) for seeds in samples.values() for x in seeds)
    result = {"method": method, "models": ", ".join(f"{m} ({len(s)} seed{'s' * (len(s) > 1)})"
                                                    for m, s in samples.items()), "n": n}
    if len(samples) < len(models) or n < min_proteins * len(models):
        missing = [m for m in models if m not in samples]
        why = " (IG is left out where its scores do not add up)" if method == "ig" else ""
        return {**result, "verdict": "not judged: " + (f"no hit rates of {', '.join(missing)}" if missing
                                                       else f"too few proteins (n={n})") + why}
    estimate, reps = hierarchical_bootstrap(samples)
    lo95, hi95 = np.quantile(reps, [0.025, 0.975])
    lo90, hi90 = np.quantile(reps, [0.05, 0.95])
    equivalent = -margin < lo90 and hi90 < margin
    if lo95 > 0 or hi95 < 0:
        word = "above chance" if lo95 > 0 else "below chance"
        if equivalent:
            word += f", by less than {margin:g} (equivalent to chance within +-{margin:g})"
    elif equivalent:
        word = f"equivalent to chance within +-{margin:g}"
    else:
        word = f"undecided: effects up to {max(abs(lo95), abs(hi95)):.3f} not excluded"
    return {**result, "difference": float(estimate), "95% interval": (float(lo95), float(hi95)),
            "90% interval": (float(lo90), float(hi90)), "verdict": word}


def primary_table(free_hits: pd.DataFrame, methods) -> pd.DataFrame:
    """One row per method: the primary verdict, formatted for the report."""
    rows = []
    for method in methods:
        v = primary_verdict(free_hits, method)
        row = {"method": method, "models (seeds)": v["models"] or "-", "proteins": v["n"]}
        if "difference" in v:
            (lo, hi), (lo90, hi90) = v["95% interval"], v["90% interval"]
            row.update({"hit rate minus its rotations": f"{v['difference']:+.3f}",
                        "95 % interval": f"[{lo:+.3f}, {hi:+.3f}]",
                        "90 % interval (TOST)": f"[{lo90:+.3f}, {hi90:+.3f}]"})
        else:
            row.update({"hit rate minus its rotations": "-", "95 % interval": "-", "90 % interval (TOST)": "-"})
        rows.append({**row, "verdict": v["verdict"]})
    return pd.DataFrame(rows)
