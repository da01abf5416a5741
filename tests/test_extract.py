import numpy as np
import pytest

from pslindex.extract import Peptide, extract_peptides

SEQ = "ACDEFGHIKLMNPQRSTVWY" * 3  # 60 residues


def test_single_peak_hand_computed():
    r = np.zeros(60)
    r[8:13] = 1.0
    # mean 1/12, population sd sqrt(1/12 - 1/144) = 0.2764 -> t = 0.6361; windows with 4 or 5 of
    # the peak (starts 7, 8, 9: means 0.8, 1.0, 0.8) pass, starts 6 and 10 (0.6) do not.
    assert extract_peptides(SEQ, r) == [Peptide(7, 14, SEQ[7:14])]


def test_population_sd_not_sample_sd():
    r = np.zeros(60)
    r[8:13] = 1.0
    # With k chosen so that the ddof=0 threshold is just below 0.6 and the ddof=1 one above it,
    # the windows at 6 and 10 (mean 0.6) are selected only with the population sd.
    mean, sd0 = r.mean(), r.std(ddof=0)
    k = (0.599 - mean) / sd0
    assert mean + k * r.std(ddof=1) > 0.6
    assert extract_peptides(SEQ, r, k=k) == [Peptide(6, 15, SEQ[6:15])]


def test_nan_windows_are_not_scored_and_threshold_ignores_nan():
    r = np.zeros(60)
    r[8:13] = 1.0
    r[12] = np.nan  # windows 8..12 now hold an unseen residue
    got = extract_peptides(SEQ, r)
    # scored residues: 59, four of them 1.0 -> t = mean + 2 sd over those 59 only
    seen = r[~np.isnan(r)]
    t = seen.mean() + 2 * seen.std()
    windows = [s for s in range(56) if not np.isnan(r[s:s + 5]).any() and r[s:s + 5].mean() > t]
    assert windows == [6, 7]   # t = 0.571: 0.6 and 0.8 pass
    assert got == [Peptide(6, 12, SEQ[6:12])]


def test_overlap_merges_but_adjacent_only_on_request():
    r = np.zeros(60)
    r[0] = r[9] = 10.0
    # k=0.5: t = 1/3 + 0.5 * 1.795 = 1.23. Windows scoring 2.0: start 0 (holds r[0]) and starts 5..9
    # (hold r[9]); starts 1..4 hold neither. Window 0 (0..4) and window 5 (5..9) touch but share
    # no residue; windows 5..9 overlap one another.
    assert extract_peptides(SEQ, r, k=0.5) == [Peptide(0, 5, SEQ[0:5]), Peptide(5, 14, SEQ[5:14])]
    assert extract_peptides(SEQ, r, k=0.5, merge_adjacent=True) == [Peptide(0, 14, SEQ[0:14])]


def test_threshold_is_strict():
    r = np.zeros(60)
    r[20:25] = 1.0
    t = r.mean() + 2 * r.std()
    # choose k so that the best window's mean (1.0) equals the threshold exactly: not selected
    k_equal = (1.0 - r.mean()) / r.std()
    assert extract_peptides(SEQ, r, k=k_equal) == []
    assert t < 1.0 and extract_peptides(SEQ, r) != []


@pytest.mark.parametrize("scores", [np.full(60, np.nan), np.zeros(60)])
def test_nothing_to_extract(scores):
    assert extract_peptides(SEQ, scores) == []


def test_short_sequence_and_shape_error():
    assert extract_peptides("ACD", [1.0, 2.0, 3.0]) == []
    with pytest.raises(ValueError, match="shape"):
        extract_peptides("ACDE", [1.0])


def test_paper_extraction_hand_computed():
    """SPEC 10: residue threshold, 2 on each side clipped at both ends, overlap (not adjacency) merges."""
    from pslindex.extract import extract_peptides_paper

    seq = "ACDEFGHIKLMNPQRSTVWY" * 2  # 40
    r = np.zeros(40)
    r[[0, 39]] = 1.0                 # both ends: clipped intervals
    assert [(p.start, p.end) for p in extract_peptides_paper(seq, r)] == [(0, 3), (37, 40)]
    r = np.zeros(40)
    r[[10, 15]] = 1.0                # [8, 13) and [13, 18) touch: two peptides
    assert [(p.start, p.end) for p in extract_peptides_paper(seq, r)] == [(8, 13), (13, 18)]
    r = np.zeros(40)
    r[[10, 14]] = 1.0                # [8, 13) and [12, 17) overlap: one
    assert [(p.start, p.end, p.peptide) for p in extract_peptides_paper(seq, r)] == [(8, 17, seq[8:17])]
    r = np.full(40, np.nan)
    r[:20] = 0.0
    r[5] = 1.0                       # threshold over the seen residues only; NaN never selected
    assert [(p.start, p.end) for p in extract_peptides_paper(seq, r)] == [(3, 8)]
    # the threshold is on single residues: a flat-but-noisy score (random weights) still gives peptides,
    # where SPEC 6's 5-residue window means give none
    from pslindex.extract import extract_peptides

    logits = np.exp(np.random.default_rng(1).uniform(0, 1, 400))  # random-logits weights
    weights = logits / logits.sum()
    assert extract_peptides("A" * 400, weights) == []
    assert len(extract_peptides_paper("A" * 400, weights)) > 0
