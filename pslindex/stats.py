"""Intervals and tests used by every table (SPEC 9.4): one home for the bootstrap and friends.

Every interval resamples PROTEINS: rows that belong to one protein (one accession, from any seed or
model run) go in or out of a resample together, because they are not independent observations.
"""

from __future__ import annotations

import numpy as np

N_BOOT = 2000
SEED = 0


def bootstrap_ci(values, clusters=None, *, n_boot: int = N_BOOT, level: float = 0.95,
                 seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``; (nan, nan) for an empty sample.

    Parameters
    ----------
    values : array-like of shape (n,), float; NaN entries are dropped (with their cluster)
    clusters : array-like of shape (n,), optional
        Cluster of each value (e.g. the accession). Clusters are resampled whole: the mean of a
        resample is the sum of its clusters' values over the number of values they hold. Without
        clusters every value is its own cluster (the ordinary bootstrap).
    n_boot, level, seed : resamples, coverage, seed of the generator

    Examples
    --------
    >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0])
    >>> 1.0 <= lo < 2.5 < hi <= 4.0
    True
    """
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    if clusters is None:
        codes = np.arange(int(keep.sum()))
    else:
        _, codes = np.unique(np.asarray(clusters, dtype=object)[keep].astype(str), return_inverse=True)
    values = values[keep]
    if len(values) == 0:
        return float("nan"), float("nan")
    sums = np.bincount(codes, weights=values)
    counts = np.bincount(codes).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def wilcoxon_p(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped); NaN if none differ."""
    from scipy.stats import wilcoxon

    d = np.asarray(differences, dtype=np.float64)
    d = d[~np.isnan(d) & (d != 0)]
    if len(d) == 0:
        return float("nan")
    return float(wilcoxon(d).pvalue)


def empirical_p(observed: float, controls) -> float:
    """(1 + #{controls >= observed}) / (1 + R) over the R defined controls (SPEC 9.2); NaN if undefined.

    >>> empirical_p(0.9, [0.1, 0.2, 0.95, 0.3])
    0.4
    """
    c = np.asarray(controls, dtype=np.float64)
    c = c[~np.isnan(c)]
    if np.isnan(observed) or len(c) == 0:
        return float("nan")
    return float((1 + np.sum(c >= observed)) / (1 + len(c)))


def mean_sd(values) -> str:
    """'mean ± sd' over seeds (sd with ddof=1; just the mean for one value), 3 decimals."""
    v = np.asarray([x for x in values if x == x], dtype=np.float64)
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"
