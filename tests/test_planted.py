"""The planted-motif benchmark's data and index (SPEC 11.2) on real proteins and a real index."""

import gzip
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from pslindex.matcher import KmerIndex
from pslmodels import planted
from pslmodels.data import read_fasta
from pslmodels.signals import read_signals


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """300 real DeepLoc records (training and test, every class) as a FASTA of their own."""
    proteins = read_fasta(SHARED / "data/deeploc/deeploc_data.fasta.gz")
    rng = np.random.default_rng(1)
    chosen = [proteins[i] for i in sorted(rng.choice(len(proteins), 300, replace=False))]
    path = tmp_path_factory.mktemp("planted-source") / "slice.fasta"
    path.write_text("".join(f">{p.header}\n{p.sequence}\n" for p in chosen))
    return path, chosen


@pytest.fixture(scope="module")
def made(tmp_path_factory, source, debian_index):
    out = tmp_path_factory.mktemp("planted") / "bench"
    assert planted.main(["--out", str(out), "--index", str(debian_index), "--data", str(source[0]),
                         "--seed", "3"]) == 0
    return out


def _fasta(path):
    with gzip.open(path, "rt") as handle:
        return handle.read()


def test_each_class_has_its_motif_in_half_its_proteins_at_the_recorded_place(made, source):
    info = json.loads((made / planted.MOTIFS_FILE).read_text())
    motifs = info["motifs"]
    assert len(set(motifs.values())) == len(motifs) == 10
    originals = {p.accession: p for p in source[1]}
    copy = read_fasta(made / planted.DATA_FILE)
    assert [p.header for p in copy] == [p.header for p in source[1]]     # labels, test flags unchanged
    truth = read_signals(made / planted.TRUTH_FILE).set_index("accession")
    for name, motif in motifs.items():
        members = [p for p in copy if p.label == name]
        hit = [p for p in members if p.sequence != originals[p.accession].sequence]
        assert len(hit) == len(members) // 2 == info["planted_proteins"][name]
        for p in hit:
            codes = truth.loc[p.accession, "codes"]
            start = int(np.flatnonzero(codes)[0])
            assert codes.sum() == planted.MOTIF_LENGTH and truth.loc[p.accession, "sequence"] == p.sequence
            assert p.sequence[start:start + 6] == motif
            assert p.sequence[:start] + p.sequence[start + 6:] == originals[p.accession].sequence
    assert set(truth.index) == {p.accession for p in copy if p.sequence != originals[p.accession].sequence}
    assert {p.is_test for p in copy if p.accession in truth.index} == {True, False}
    test = {p.accession: p for p in copy if p.accession in truth.index and p.is_test}
    assert set(info["planted_test"]) == set(test)
    for accession, where in info["planted_test"].items():
        assert test[accession].sequence[where["start"]:where["start"] + 6] in motifs.values()
        assert where["seen"] == (len(test[accession].sequence) <= 1000 or where["start"] + 6 <= 500
                                 or where["start"] >= len(test[accession].sequence) - 500)


def test_motifs_occur_in_no_entry_of_the_source_and_in_the_planted_entries_of_the_copy(made, debian_index):
    info = json.loads((made / planted.MOTIFS_FILE).read_text())
    before, after = KmerIndex.load(debian_index), KmerIndex.load(made / planted.INDEX_DIR)
    with duckdb.connect(str(made / planted.INDEX_DIR / "sprot.duckdb"), read_only=True) as con:
        classes = dict(con.execute("SELECT accession, classes FROM protein_classes").fetchall())
        lengths = con.execute("SELECT count(*) FROM proteins WHERE length <> length(sequence)").fetchall()[0][0]
    assert lengths == 0
    for name, motif in info["motifs"].items():
        assert before.find([motif]).empty
        entries = set(after.find([motif]).accession)
        assert len(entries) == info["planted_index_entries"][name] >= (1 if any(
            name in c for c in classes.values()) else 0)
        assert all(name in classes[a] for a in entries)
    # the copy is another index build: matchers and homolog caches of the source are not mistaken for it
    with duckdb.connect(str(debian_index / "sprot.duckdb"), read_only=True) as con:
        old = dict(con.execute("SELECT key, value FROM meta").fetchall())
    with duckdb.connect(str(made / planted.INDEX_DIR / "sprot.duckdb"), read_only=True) as con:
        new = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert new["build_id"] != old["build_id"] and "planted motifs" in new["release"]


def test_seeded_and_reproducible(made, source, debian_index, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    for out, seed in ((again, "3"), (other, "4")):
        assert planted.main(["--out", str(out), "--index", str(debian_index), "--data", str(source[0]),
                             "--seed", seed]) == 0
    assert (again / planted.DATA_FILE).read_bytes() == (made / planted.DATA_FILE).read_bytes()  # training's sha
    assert pd.read_csv(again / planted.TRUTH_FILE).equals(pd.read_csv(made / planted.TRUTH_FILE))
    assert _fasta(other / planted.DATA_FILE) != _fasta(made / planted.DATA_FILE)


def test_bad_seed_and_missing_index_are_one_line(source, tmp_path, capsys):
    assert planted.main(["--out", str(tmp_path / "x"), "--seed", "-1"]) == 2
    assert planted.main(["--out", str(tmp_path / "y"), "--index", str(tmp_path / "none"),
                         "--data", str(source[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
