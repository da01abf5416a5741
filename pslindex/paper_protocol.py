"""The authors' hit rate (SPEC 10) scored in one pass over the matcher's hits, without sorting them.

Per (row, rotation) the protocol pools every peptide: each matching entry (one that has a class,
and is not a homolog of the protein when homologs are left out) counts once, through the FIRST
peptide (by start) that occurs in it, at that peptide's first occurrence, weighted
``beta = min(len / |match position - peptide start|, 1)`` (1 at distance 0). Hit rate = the
weighted share of counted entries holding the label.

The short peptides this protocol extracts (3-5 residues at the sequence ends) occur tens of
thousands of times each in Swiss-Prot; sorting and joining those hits in SQL cost minutes. Here
one numba loop reads each peptide's hits twice (first occurrence per entry, then the claim),
with stamp arrays sized by the number of entries instead of per-group hash tables.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from pslindex.classes import CLASSES

MEMBER = 1 << 15  # bit of acc_bits: the entry has a class (hitrate.ENTRY_BITS_SQL sets it)


def class_bits(labels) -> np.ndarray:
    """Bit ``1 << class index`` per label (0 for a null or unknown label), uint16."""
    index = {c: i for i, c in enumerate(CLASSES)}
    return np.array([(1 << index[x]) if x in index else 0 for x in labels], dtype=np.uint16)


def hits_by_peptide(pep_idx: np.ndarray, n_peptides: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of hits by peptide: (order of hits grouped by peptide, offsets of length n_peptides + 1)."""
    order = np.argsort(pep_idx, kind="stable")  # hits of one peptide already lie together: near-linear
    offsets = np.zeros(n_peptides + 1, dtype=np.int64)
    np.cumsum(np.bincount(pep_idx, minlength=n_peptides), out=offsets[1:])
    return order, offsets


@numba.njit(cache=True)
def _score(group_start, group_row, group_keep, pep_u, pep_start, pep_len, hit_order, hit_off, hit_seq, hit_pos,
           acc_bits, true_bits, pred_bits, excl_off, excl_seq, n_keep):
    n_groups = len(group_start) - 1
    n_acc = len(acc_bits)
    g_n = np.zeros(n_groups, np.int64)
    g_w = np.zeros(n_groups, np.float64)
    g_wt = np.zeros(n_groups, np.float64)
    g_wp = np.zeros(n_groups, np.float64)
    pep_matches = np.zeros(len(pep_u), np.int64)
    m_pep = np.empty(n_keep, np.int64)
    m_seq = np.empty(n_keep, np.int64)
    m_pos = np.empty(n_keep, np.int64)
    m_beta = np.empty(n_keep, np.float64)
    n_m = 0
    best = np.zeros(n_acc, np.int64)        # first occurrence of the current peptide per entry
    seen_p = np.full(n_acc, -1, np.int64)   # stamp: peptide whose first occurrence best holds
    done_p = np.full(n_acc, -1, np.int64)   # stamp: peptide that has counted this entry
    claimed = np.full(n_acc, -1, np.int64)  # stamp: group whose earlier peptide claimed this entry
    excluded = np.full(n_acc, -1, np.int64)  # stamp: group whose protein has this entry as a homolog
    for g in range(n_groups):
        row = group_row[g]
        for j in range(excl_off[row], excl_off[row + 1]):
            excluded[excl_seq[j]] = g
        tb, pb = true_bits[row], pred_bits[row]
        for p in range(group_start[g], group_start[g + 1]):
            u = pep_u[p]
            for k in range(hit_off[u], hit_off[u + 1]):
                h = hit_order[k]
                s = hit_seq[h]
                if acc_bits[s] == 0:
                    continue
                if seen_p[s] != p:
                    seen_p[s] = p
                    best[s] = hit_pos[h]
                elif hit_pos[h] < best[s]:
                    best[s] = hit_pos[h]
            for k in range(hit_off[u], hit_off[u + 1]):
                s = hit_seq[hit_order[k]]
                if acc_bits[s] == 0 or done_p[s] == p or excluded[s] == g:
                    continue
                done_p[s] = p
                pep_matches[p] += 1
                if claimed[s] == g:
                    continue
                claimed[s] = g
                d = abs(best[s] - pep_start[p])
                beta = 1.0 if d == 0 else min(pep_len[p] / d, 1.0)
                g_n[g] += 1
                g_w[g] += beta
                if acc_bits[s] & tb:
                    g_wt[g] += beta
                if acc_bits[s] & pb:
                    g_wp[g] += beta
                if group_keep[g]:
                    m_pep[n_m] = p
                    m_seq[n_m] = s
                    m_pos[n_m] = best[s]
                    m_beta[n_m] = beta
                    n_m += 1
    return g_n, g_w, g_wt, g_wp, pep_matches, m_pep[:n_m], m_seq[:n_m], m_pos[:n_m], m_beta[:n_m]


def score_chunk(peptides: pd.DataFrame, hits: tuple[np.ndarray, np.ndarray, np.ndarray], acc_bits: np.ndarray,
                true_bits: np.ndarray, pred_bits: np.ndarray, excl_off: np.ndarray, excl_seq: np.ndarray
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Score the peptides of whole rows (all their rotations) under the authors' protocol.

    ``peptides``: columns row_id, rotation, peptide_id, start, peptide, pep_u (index of the peptide
    in the list searched); ``hits``: the matcher's ``find_arrays`` of that list; ``true_bits`` /
    ``pred_bits``: per row_id (:func:`class_bits`); ``excl_off``/``excl_seq``: per row_id, the
    accession indexes of its homologs (CSR). Returns ``(rotation_scores, peptide_counts, matches)``:
    n_entries, w, w_true, w_pred per (row_id, rotation) with at least one entry; n_matches per
    peptide_id; and the entries of rotation 0 with the peptide that claimed them (row_id, peptide_id,
    acc_code, match_position, distance, beta).
    """
    from pslindex.matcher import signals_deferred

    peptides = peptides.sort_values(["row_id", "rotation", "start"], kind="stable")
    row_id = peptides.row_id.to_numpy(np.int64)
    rotation = peptides.rotation.to_numpy(np.int64)
    pep_u = peptides.pep_u.to_numpy(np.int64)
    key_change = np.flatnonzero((np.diff(row_id) != 0) | (np.diff(rotation) != 0)) + 1
    group_start = np.concatenate([[0], key_change, [len(peptides)]]).astype(np.int64)
    group_row = row_id[group_start[:-1]]
    group_rotation = rotation[group_start[:-1]]
    pep_idx, hit_seq, hit_pos = hits
    n_unique = int(pep_u.max()) + 1 if len(pep_u) else 0
    order, offsets = hits_by_peptide(pep_idx, n_unique)
    keep = group_rotation == 0
    counts = offsets[1:] - offsets[:-1]
    n_keep = int(counts[pep_u[np.repeat(keep, np.diff(group_start))]].sum())
    starts = peptides.start.to_numpy(np.int64)
    lengths = peptides.peptide.str.len().to_numpy(np.int64)
    with signals_deferred():
        g_n, g_w, g_wt, g_wp, pep_matches, m_pep, m_seq, m_pos, m_beta = _score(
            group_start, group_row, keep, pep_u, starts, lengths, order.astype(np.int64), offsets,
            hit_seq.astype(np.int64), hit_pos.astype(np.int64), acc_bits, true_bits, pred_bits, excl_off, excl_seq,
            n_keep)
    has = g_n > 0
    scores = pd.DataFrame({"row_id": group_row[has], "rotation": group_rotation[has].astype(np.int32),
                           "n_entries": g_n[has], "w": g_w[has], "w_true": g_wt[has], "w_pred": g_wp[has]})
    peptide_id = peptides.peptide_id.to_numpy(np.int64)
    counted = pep_matches > 0
    pep_counts = pd.DataFrame({"peptide_id": peptide_id[counted], "n_matches": pep_matches[counted]})
    matches = pd.DataFrame({"row_id": row_id[m_pep], "peptide_id": peptide_id[m_pep], "acc_code": m_seq,
                            "match_position": m_pos, "distance": np.abs(m_pos - starts[m_pep]), "beta": m_beta})
    return scores, pep_counts, matches
