from collections import Counter

import numpy as np
import pytest
import torch

from conftest import SHARED
from pslindex.errors import PslError
from pslmodels.data import MAX_LEN, Protein, batches, collate, encode, read_fasta, split, to_full_coordinates, truncate

DEEPLOC = SHARED / "data/deeploc/deeploc_data.fasta.gz"


@pytest.fixture(scope="module")
def deeploc():
    return read_fasta(DEEPLOC)


def test_real_file_counts(deeploc):
    assert len(deeploc) == 13840
    assert sum(p.is_test for p in deeploc) == 2773
    counts = Counter(p.label for p in deeploc)
    assert counts == {"Nucleus": 4042, "Cytoplasm": 2535, "Extracellular": 1969, "Mitochondrion": 1507,
                      "Cell.membrane": 1340, "Endoplasmic.reticulum": 862, "Plastid": 755,
                      "Golgi.apparatus": 356, "Lysosome/Vacuole": 320, "Peroxisome": 154}
    assert Counter(p.membrane for p in deeploc) == {"M": 3552, "S": 5098, "U": 5190}


def test_split_is_stratified_and_seeded(deeploc):
    train, val, test = split(deeploc, seed=0)
    assert len(test) == 2773 and len(train) + len(val) == 13840 - 2773
    assert abs(len(val) - 0.1 * (len(train) + len(val))) < 2
    share = lambda ps, c: sum(p.label == c for p in ps) / len(ps)  # noqa: E731
    for c in ("Nucleus", "Peroxisome"):
        assert abs(share(val, c) - share(train, c)) < 0.01
    assert [p.accession for p in split(deeploc, seed=0)[1]] == [p.accession for p in val]
    assert [p.accession for p in split(deeploc, seed=1)[1]] != [p.accession for p in val]


def test_truncation_and_coordinate_map():
    seq = "".join("ACDEFGHIKLMNPQRSTVWY"[i % 20] for i in range(1234))
    kept, positions = truncate(seq)
    assert len(kept) == MAX_LEN and kept == seq[:500] + seq[-500:]
    assert positions[499] == 499 and positions[500] == 1234 - 500 and positions[-1] == 1233
    full = to_full_coordinates(np.arange(MAX_LEN, dtype=np.float32), 1234)
    assert full.shape == (1234,)
    assert full[0] == 0 and full[499] == 499 and full[734] == 500 and full[1233] == 999
    assert np.isnan(full[500:734]).all() and not np.isnan(full[:500]).any()
    short = to_full_coordinates(np.ones(10, dtype=np.float32), 10)
    assert not np.isnan(short).any()
    assert encode(seq).shape == (MAX_LEN,)


def test_bucketed_batches_have_little_padding(deeploc):
    ps = deeploc[:400]
    padded = sum(b.tokens.numel() for b in batches(ps, 5, seed=0))
    unbucketed = sum(b.tokens.numel() for b in batches(ps, 5, bucketed=False))
    real = sum(min(len(p.sequence), MAX_LEN) for p in ps)
    assert padded < 1.1 * real < unbucketed
    # every protein exactly once, and the same seed gives the same order
    order = [p.accession for b in batches(ps, 5, seed=3) for p in b.proteins]
    assert sorted(order) == sorted(p.accession for p in ps)
    assert order == [p.accession for b in batches(ps, 5, seed=3) for p in b.proteins]


def test_collate_pads_with_zero():
    b = collate([Protein("A1", "MKV", "Nucleus", "U", False), Protein("A2", "MK", None, None, False)])
    assert b.tokens.tolist()[1][2] == 0 and b.lengths.tolist() == [3, 2] and b.labels.tolist() == [0, -1]
    assert b.tokens.dtype == torch.long


@pytest.mark.parametrize("text, message", [
    (">P1 Nucleus-U\nMKVJJ\n", r"P1 \(header line 1\): letter\(s\) 'J' outside the alphabet"),
    (">P1 Nucleus-U\n>P2 Nucleus-U\nMKV\n", r"P1 \(header line 1\): empty sequence"),
    (">P1 Cytosol-U\nMKV\n", r"P1: unknown location 'Cytosol'"),
    (">P1\nMKV\n", r"P1: no 'Location-M\|S\|U' label"),
    ("MKV\n", r"line 1: sequence before the first '>' header"),
    ("", "no FASTA records"),
])
def test_bad_fasta(tmp_path, text, message):
    path = tmp_path / "bad.fasta"
    path.write_text(text)
    with pytest.raises(PslError, match=message):
        read_fasta(path)


def test_unlabelled_fasta_is_fine_for_prediction(tmp_path):
    path = tmp_path / "query.fasta"
    path.write_text(">Q1 some description\nMKVL\nAAK\n")
    (protein,) = read_fasta(path, require_labels=False)
    assert protein.sequence == "MKVLAAK" and protein.label is None
    # a description with a dash is a description, not a location
    path.write_text(">sp|P12345|X_HUMAN Alpha-beta hydrolase\nMKVL\n")
    (protein,) = read_fasta(path, require_labels=False)
    assert protein.accession == "P12345" and protein.label is None
    assert protein.header == "sp|P12345|X_HUMAN Alpha-beta hydrolase"


def test_fasta_as_users_have_it(tmp_path):
    """Lowercase, a stop '*', Windows line endings, wrapped lines, gzip, any header style."""
    import gzip

    text = (">sp|P0DTC2|SPIKE_SARS2 Spike glycoprotein OS=SARS-CoV-2\r\nmfvfl\r\nvllpl*\r\n"
            ">tr|A0A023GPI8|LECA_CANBL Lectin alpha chain\r\nADTIVAV\r\n>plain_id\r\nMK VL\r\n")
    path = tmp_path / "mine.fasta.gz"
    with gzip.open(path, "wt", newline="") as handle:
        handle.write(text)
    proteins = read_fasta(path, require_labels=False)
    assert [(p.accession, p.sequence) for p in proteins] == [
        ("P0DTC2", "MFVFLVLLPL"), ("A0A023GPI8", "ADTIVAV"), ("plain_id", "MKVL")]
    assert proteins[0].header == "sp|P0DTC2|SPIKE_SARS2 Spike glycoprotein OS=SARS-CoV-2"


def test_invalid_records_can_be_skipped(tmp_path):
    from pslmodels.data import iter_fasta

    path = tmp_path / "q.fasta"
    path.write_text(">A1\nMKV\n>B2 bad one\nMKJ1\n>C3\nAAA\n")
    with pytest.raises(PslError, match=r"q.fasta: B2 \(header line 3\): letter\(s\) '1J' outside"):
        list(iter_fasta(path, require_labels=False))
    skipped = []
    kept = list(iter_fasta(path, require_labels=False, skip_invalid=True, on_skip=skipped.append))
    assert [p.accession for p in kept] == ["A1", "C3"] and len(skipped) == 1 and "B2" in skipped[0]


def test_sethard_reads(tmp_path):
    hard = read_fasta(SHARED / "data/deeploc/setHARD.fasta.gz")
    assert len(hard) == 490 and not any(p.is_test for p in hard)
