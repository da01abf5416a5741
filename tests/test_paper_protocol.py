"""The authors' protocol's one-pass scorer against a plain reference of SPEC 10, on seeded random hits."""

import numpy as np
import pandas as pd
import pytest

from pslindex.paper_protocol import MEMBER, class_bits, score_chunk


def reference(peptides, hits, acc_bits, true_bits, pred_bits, excluded):
    """SPEC 10 as written: per (row, rotation), each entry counts once, through the first peptide (by start)
    occurring in it, at its first occurrence, weight min(len/|d|, 1); homologs of the row never count."""
    pep_idx, seq, pos = hits
    first = {}  # (pep_u, seq) -> first position
    for u, s, p in zip(pep_idx, seq, pos, strict=True):
        first[(u, s)] = min(p, first.get((u, s), p))
    scores, counts = {}, {}
    for (row, rotation), group in peptides.groupby(["row_id", "rotation"]):
        claimed, n, w, wt, wp = set(), 0, 0.0, 0.0, 0.0
        for pep in group.sort_values("start").itertuples():
            entries = sorted(s for (u, s) in first if u == pep.pep_u and acc_bits[s] and s not in excluded[row])
            counts[pep.peptide_id] = len(entries)
            for s in entries:
                if s in claimed:
                    continue
                claimed.add(s)
                d = abs(first[(pep.pep_u, s)] - pep.start)
                beta = 1.0 if d == 0 else min(len(pep.peptide) / d, 1.0)
                n, w = n + 1, w + beta
                wt += beta if acc_bits[s] & true_bits[row] else 0.0
                wp += beta if acc_bits[s] & pred_bits[row] else 0.0
        if n:
            scores[(row, rotation)] = (n, w, wt, wp)
    return scores, counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scorer_equals_the_reference(seed):
    rng = np.random.default_rng(seed)
    n_acc, n_rows, n_unique = 40, 6, 25
    acc_bits = np.where(rng.random(n_acc) < 0.8, MEMBER | rng.integers(1, 1 << 10, n_acc), 0).astype(np.uint16)
    labels = ["Nucleus", "Cytoplasm", "Mitochondrion", None]
    true_bits = class_bits([labels[i] for i in rng.integers(0, 4, n_rows)])
    pred_bits = class_bits([labels[i] for i in rng.integers(0, 3, n_rows)])
    words = ["".join(rng.choice(list("ACDEFGHIK"), rng.integers(3, 9))) for _ in range(n_unique)]
    rows = []
    for row in range(n_rows):
        for rotation in range(3):
            for start in sorted(rng.choice(200, size=rng.integers(0, 5), replace=False)):
                rows.append((row, rotation, int(start), words[rng.integers(n_unique)]))
    peptides = pd.DataFrame(rows, columns=["row_id", "rotation", "start", "peptide"]).sample(frac=1, random_state=seed)
    peptides["peptide_id"] = np.arange(len(peptides))
    unique = list(dict.fromkeys(peptides.peptide))
    peptides["pep_u"] = [unique.index(p) for p in peptides.peptide]
    n_hits = 600  # unsorted, repeated entries per peptide with several positions
    hits = (rng.integers(0, len(unique), n_hits).astype(np.int32), rng.integers(0, n_acc, n_hits).astype(np.int32),
            rng.integers(0, 300, n_hits).astype(np.int64))
    excluded = {row: set(rng.choice(n_acc, size=3, replace=False).tolist()) for row in range(n_rows)}
    excl_off = np.cumsum([0] + [len(excluded[r]) for r in range(n_rows)]).astype(np.int64)
    excl_seq = np.array([s for r in range(n_rows) for s in sorted(excluded[r])], dtype=np.int64)

    scores, counts, matches = score_chunk(peptides, hits, acc_bits, true_bits, pred_bits, excl_off, excl_seq)
    want_scores, want_counts = reference(peptides, hits, acc_bits, true_bits, pred_bits, excluded)
    got = {(r.row_id, r.rotation): (r.n_entries, r.w, r.w_true, r.w_pred) for r in scores.itertuples()}
    assert got.keys() == want_scores.keys()
    for key, value in want_scores.items():
        assert got[key][0] == value[0] and np.allclose(got[key][1:], value[1:], rtol=0, atol=1e-12)
    assert dict(zip(counts.peptide_id, counts.n_matches, strict=True)) == {k: v for k, v in want_counts.items() if v}
    # rotation 0's entries: one row per counted entry, with the claiming peptide
    assert len(matches) == sum(v[0] for (row, rot), v in want_scores.items() if rot == 0)
    assert (matches.beta > 0).all() and (matches.beta <= 1).all()
    assert not any(s in excluded[r] for r, s in zip(matches.row_id, matches.acc_code, strict=True))
