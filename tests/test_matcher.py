"""The 5-mer matcher against brute force, on real DeepLoc sequences."""

import numpy as np
import pandas as pd
import pytest

from build_index import __main__ as build_cli
from conftest import DEBIAN_FIXTURE, SHARED, read_deeploc
from pslindex.errors import PslError
from pslindex.matcher import KmerIndex, aho_corasick_find, build_matcher


@pytest.fixture(scope="module")
def proteins():
    rows = read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", limit=1500)
    return [acc for acc, _, _ in rows], [seq for _, _, seq in rows]


def brute_force(peptides, accessions, sequences):
    rows = []
    for pep in dict.fromkeys(peptides):
        for acc, seq in zip(accessions, sequences, strict=True):
            i = seq.find(pep)
            while i != -1:
                rows.append((pep, acc, i))
                i = seq.find(pep, i + 1)
    return sorted(rows)


def random_peptides(sequences, n, seed):
    rng = np.random.default_rng(seed)
    real, shuffled = [], []
    for _ in range(n):
        seq = sequences[int(rng.integers(len(sequences)))]
        length = int(rng.integers(5, 16))
        start = int(rng.integers(0, len(seq) - length))
        real.append(seq[start:start + length])
        shuffled.append("".join(rng.permutation(list(real[-1]))))
    return real, shuffled


def as_rows(df):
    return sorted(zip(df.peptide.astype(str), df.accession.astype(str), df.position.astype(int), strict=True))


def test_matches_equal_brute_force(proteins):
    accessions, sequences = proteins
    index = KmerIndex.build(accessions, sequences)
    real, shuffled = random_peptides(sequences, 150, seed=1)
    short = ["WW", "CPC", "KKRK", "M", sequences[5][-3:], sequences[7][-4:], sequences[9][-2:]]  # < 5: CSR
    # prefix ranges plus the sequence tails where no 5-mer starts (the last three: at the very ends)
    across = [sequences[0][-3:] + sequences[1][:3]]                 # spans a sequence boundary
    peptides = real + shuffled + short + across + real[:5]          # duplicates searched once
    got = index.find(peptides)
    assert as_rows(got) == brute_force(peptides, accessions, sequences)
    assert len(got) > len(real)                                     # real windows hit at least themselves
    unique = list(dict.fromkeys(peptides))                          # the unsorted arrays: the same hits
    pep, seq, pos = index.find_arrays(unique)
    assert sorted(zip([unique[i] for i in pep], [accessions[j] for j in seq], pos.tolist(), strict=True)) == \
        brute_force(peptides, accessions, sequences)
    # query order: peptides appear grouped, in first-seen order
    order = list(dict.fromkeys(got.peptide.astype(str)))
    assert order == [p for p in dict.fromkeys(peptides) if p in set(order)]


def test_chunked_verification_gives_the_same_hits(proteins, monkeypatch):
    from pslindex import matcher
    accessions, sequences = proteins
    index = KmerIndex.build(accessions, sequences)
    real, shuffled = random_peptides(sequences, 40, seed=5)
    whole = as_rows(index.find(real + shuffled))
    monkeypatch.setattr(matcher, "MAX_SLOTS", 7)   # forces many small chunks
    assert as_rows(index.find(real + shuffled)) == whole


@pytest.mark.parametrize("cover_ratio", [0, 1, 64, 10**9])
def test_cover_intersection_and_text_check_agree_with_brute_force(proteins, monkeypatch, cover_ratio):
    """Hits are exact whether the covering 5-mers are intersected (large ratio) or checked in the text (0)."""
    from pslindex import matcher
    accessions, sequences = proteins
    index = KmerIndex.build(accessions, sequences)
    real, shuffled = random_peptides(sequences, 60, seed=7)
    rng = np.random.default_rng(8)
    long = [seq[i:i + int(n)] for seq, n in zip(sequences[:30], rng.integers(16, 41, size=30), strict=True)
            for i in [int(rng.integers(0, len(seq) - 40))]]             # 16-40 residues: longer covers
    ends = [sequences[3][:7], sequences[4][-9:], sequences[5][:5], sequences[6][-5:]]
    repeats = ["QQQQQQ", "QQQQQQQQQQQ", "AAAAAAA", "SSSSSSSSSSSSSSS", "GGGGGGGGGG"]  # overlapping hits
    # one residue changed (first, middle, last): its seed still hits, so only the cover can reject it
    mutated = [w[:i] + ("A" if w[i] != "A" else "G") + w[i + 1:] for w in real + long
               for i in (0, len(w) // 2, len(w) - 1)]
    peptides = real + shuffled + long + ends + repeats + mutated
    monkeypatch.setattr(matcher, "COVER_RATIO", cover_ratio)
    got = as_rows(index.find(peptides))
    assert got == brute_force(peptides, accessions, sequences)
    assert {p for p, _, _ in got} >= set(long + ends)                 # real windows hit at least themselves
    assert sum(p == "QQQQQQ" for p, _, _ in got) > 10                 # the repeat tests adjacent positions


def test_aho_corasick_agrees(proteins):
    accessions, sequences = proteins
    index = KmerIndex.build(accessions, sequences)
    real, shuffled = random_peptides(sequences, 50, seed=2)
    peptides = list(dict.fromkeys(real + shuffled))
    pep_idx, pos = aho_corasick_find(peptides, index.text)
    seq = np.searchsorted(index.starts, pos, side="right") - 1
    ac = sorted((peptides[i], accessions[s], int(p - index.starts[s])) for i, s, p in zip(pep_idx, seq, pos,
                                                                                             strict=True))
    assert ac == as_rows(index.find(peptides))


def test_unknown_letter_and_empty_query(proteins):
    index = KmerIndex.build(*proteins)
    with pytest.raises(PslError, match="letters outside the alphabet"):
        index.find(["ACDJK"])
    empty = index.find([])
    assert isinstance(empty, pd.DataFrame) and len(empty) == 0


def test_saved_matcher_round_trip_and_staleness(tmp_path):
    out = tmp_path / "index"
    assert build_cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    loaded = KmerIndex.load(out)
    assert isinstance(loaded.positions, np.memmap)
    hits = loaded.find(["KGQRDLYSGL"])
    assert hits.accession.nunique() == 5
    # a rebuilt index makes the old matcher stale
    from build_index.debian import debian_records
    from build_index.load import write_index
    write_index(debian_records(DEBIAN_FIXTURE), out, {"source": "debian", "release": "again"}, progress=False)
    with pytest.raises(PslError, match="matcher belongs to another index build"):
        KmerIndex.load(out)
    build_matcher(out)
    assert len(KmerIndex.load(out).find(["KGQRDLYSGL"])) == len(hits)
    (out / "matcher_meta.json").unlink()
    with pytest.raises(PslError, match="no peptide matcher"):
        KmerIndex.load(out)
