"""Subsequence extraction from per-residue scores (SPEC section 6; the authors' way, SPEC 10)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Peptide(NamedTuple):
    start: int   # 0-based, in the full sequence
    end: int     # exclusive
    peptide: str


def window_scores(scores, window: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Mean score of every window of ``window`` residues, and whether the window was fully seen.

    Parameters
    ----------
    scores : array-like of shape (L,), float; NaN where the model never saw the residue
    window : int, default 5

    Returns
    -------
    means : float64 array of shape (max(L - window + 1, 0),); window i covers residues i .. i+window-1
    complete : bool array of the same shape; False where the window holds an unseen residue
    """
    r = np.asarray(scores, dtype=np.float64)
    seen = ~np.isnan(r)
    n_win = max(len(r) - window + 1, 0)
    csum = np.concatenate([[0.0], np.cumsum(np.where(seen, r, 0.0))])
    cseen = np.concatenate([[0], np.cumsum(seen)])
    means = (csum[window:window + n_win] - csum[:n_win]) / window
    complete = (cseen[window:window + n_win] - cseen[:n_win]) == window
    return means, complete


def extract_peptides(sequence: str, scores, *, window: int = 5, k: float = 2.0,
                     merge_adjacent: bool = False) -> list[Peptide]:
    """High-scoring peptides of one protein.

    The threshold is ``t = mean(r) + k * sd(r)`` over the scored (non-NaN) residues, with the
    population sd (ddof=0). A window of ``window`` residues scores the mean of its residues;
    windows holding an unseen (NaN) residue are not scored. Every window scoring above ``t`` is
    selected; selected windows that overlap (share a residue) are merged, and with
    ``merge_adjacent`` also those that merely touch.

    Parameters
    ----------
    sequence : str of length L
    scores : array-like of shape (L,), float; NaN where the model never saw the residue
    window : int, default 5
    k : float, default 2.0
    merge_adjacent : bool, default False

    Returns
    -------
    list of Peptide(start, end, peptide), ordered by start

    Examples
    --------
    >>> r = [0.0] * 60
    >>> r[8:13] = [1.0] * 5          # threshold 0.64: windows starting at 7, 8 and 9 pass
    >>> extract_peptides("ACDEFGHIKLMNPQRSTVWY" * 3, r)
    [Peptide(start=7, end=14, peptide='IKLMNPQ')]
    """
    r = np.asarray(scores, dtype=np.float64)
    if r.shape != (len(sequence),):
        raise ValueError(f"scores has shape {r.shape}, the sequence is {len(sequence)} long")
    seen = ~np.isnan(r)
    if seen.sum() == 0 or len(r) < window:
        return []
    t = r[seen].mean() + k * r[seen].std()
    win_mean, complete = window_scores(r, window)
    selected = np.flatnonzero(complete & (win_mean > t))
    return merge_intervals(sequence, ((int(s), int(s) + window) for s in selected), touching=merge_adjacent)


def merge_intervals(sequence: str, intervals, *, touching: bool = False) -> list[Peptide]:
    """Merge ``(start, end)`` intervals (sorted by start) that overlap, or with ``touching`` also those
    that only touch, into the peptides of ``sequence`` they cover."""
    peptides: list[Peptide] = []
    gap = 0 if touching else 1  # the next interval must start at or before end - gap to merge
    cur_start = cur_end = None
    for start, end in intervals:
        if cur_end is not None and start <= cur_end - gap:
            cur_end = max(cur_end, end)
            continue
        if cur_end is not None:
            peptides.append(Peptide(cur_start, cur_end, sequence[cur_start:cur_end]))
        cur_start, cur_end = start, end
    if cur_end is not None:
        peptides.append(Peptide(cur_start, cur_end, sequence[cur_start:cur_end]))
    return peptides


def extract_peptides_paper(sequence: str, scores, *, k: float = 2.0, flank: int = 2) -> list[Peptide]:
    """High-scoring peptides as the authors' code extracts them (SPEC 10, ``--protocol paper``).

    Every residue i with score > mean + k * sd (population sd, over the seen residues) gives the
    interval [i - flank, i + flank + 1), clipped to the sequence; intervals, in order, are merged
    while the next one starts before the current one ends (overlap; touching ones stay apart).

    Parameters
    ----------
    sequence : str of length L
    scores : array-like of shape (L,), float; NaN where the model never saw the residue (never selected)
    k : float, default 2.0
    flank : int, default 2 (residues taken on each side)

    Returns
    -------
    list of Peptide(start, end, peptide), ordered by start

    Examples
    --------
    >>> r = [0.0] * 30
    >>> r[0] = r[6] = r[11] = 1.0      # threshold 0.82: residues 0, 6, 11 pass
    >>> [(p.start, p.end) for p in extract_peptides_paper("A" * 30, r)]
    [(0, 3), (4, 9), (9, 14)]
    """
    r = np.asarray(scores, dtype=np.float64)
    if r.shape != (len(sequence),):
        raise ValueError(f"scores has shape {r.shape}, the sequence is {len(sequence)} long")
    seen = ~np.isnan(r)
    if not seen.any():
        return []
    t = r[seen].mean() + k * r[seen].std()
    selected = np.flatnonzero(seen & (np.where(seen, r, -np.inf) > t))
    return merge_intervals(sequence, ((max(int(i) - flank, 0), min(int(i) + flank + 1, len(r))) for i in selected))


def aa_permute_scores(sequence: str, scores, rng: np.random.Generator) -> np.ndarray:
    """The seen scores permuted among residues of the same amino acid; NaN stays NaN.

    The composition control of SPEC 11.4: every amino acid keeps the scores it had, where they fall
    among its residues is random. A method whose peptides beat their rotations but not these copies
    scores residue types, not places. Shape (L,), float64.

    >>> out = aa_permute_scores("AKAKA", np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.random.default_rng(0))
    >>> sorted(out[[0, 2, 4]].tolist()), sorted(out[[1, 3]].tolist())
    ([1.0, 3.0, 5.0], [2.0, 4.0])
    """
    out = np.array(scores, dtype=np.float64)
    letters = np.frombuffer(sequence.encode("ascii"), np.uint8)
    seen = ~np.isnan(out)
    for letter in np.unique(letters[seen]):
        where = np.flatnonzero(seen & (letters == letter))
        out[where] = out[rng.permutation(where)]
    return out


# The chance controls a hit rate compares a row with (SPEC 9.2, 11.4): name -> scores of one control copy.
CONTROLS = {"rotation": lambda sequence, scores, rng: rotate_scores(scores, rng),
            "aa-permuted": aa_permute_scores}


def rotate_scores(scores, rng: np.random.Generator) -> np.ndarray:
    """The seen scores rotated by a random offset in [1, n) over the n seen positions; NaN stays NaN.

    The chance control of SPEC 9.2 (and the ``shifted`` baseline): same values, same local shape,
    peaks moved to a random place. Shape (L,), float64.

    >>> rotate_scores(np.array([1.0, 2.0, np.nan, 3.0]), np.random.default_rng(0)).tolist()[:2]
    [2.0, 3.0]
    """
    out = np.array(scores, dtype=np.float64)
    seen = np.flatnonzero(~np.isnan(out))
    if len(seen) > 1:
        out[seen] = np.roll(out[seen], int(rng.integers(1, len(seen))))
    return out


PROTOCOLS = ("spec", "paper")


def extract_by_protocol(sequence: str, scores, *, protocol: str = "spec", window: int = 5, k: float = 2.0,
                        merge_adjacent: bool = False) -> list[Peptide]:
    """SPEC 6's :func:`extract_peptides` (``protocol="spec"``) or the authors' :func:`extract_peptides_paper`.

    ``window`` and ``merge_adjacent`` apply to ``spec`` only.
    """
    if protocol == "paper":
        return extract_peptides_paper(sequence, scores, k=k)
    if protocol != "spec":
        raise ValueError(f"protocol {protocol!r}: choose from {PROTOCOLS}")
    return extract_peptides(sequence, scores, window=window, k=k, merge_adjacent=merge_adjacent)
