"""The controls of SPEC 9 on real data: homolog exclusion (MMseqs2), chance rotations, protein-level intervals."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from build_index.load import write_index
from build_index.uniprot import read_swissprot
from conftest import REPO, SHARED, SPROT_FIXTURE, make_attributions, read_deeploc
from pslindex import hitrate
from pslindex.homologs import HomologOptions, find_homologs
from pslindex.stats import bootstrap_ci, empirical_p

needs_mmseqs = pytest.mark.skipif(shutil.which("mmseqs") is None,
                                  reason="MMseqs2 not installed (make setup installs Debian's mmseqs2 as root)")
FAMILY = {"P07766": 192}  # a DeepLoc test protein and the start of a 10-mer its Swiss-Prot orthologs share


@pytest.fixture(scope="module")
def index(debian_index):
    return debian_index


@pytest.fixture(scope="module")
def test_proteins():
    return {a: (a, label, s) for a, label, s in read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz",
                                                             test_only=True)}


def plateau(seq: str, start: int, width: int) -> np.ndarray:
    """1 on seq[start:start+width], 0 on 10 residues each side, NaN elsewhere (k=1.7 extracts the plateau)."""
    r = np.full(len(seq), np.nan)
    r[max(0, start - 10):start + width + 10] = 0.0
    r[start:start + width] = 1.0
    return r


def index_sequences(index) -> dict[str, str]:
    with duckdb.connect(str(index / "sprot.duckdb"), read_only=True) as con:
        return dict(con.execute("SELECT accession, sequence FROM proteins").fetchall())


@needs_mmseqs
def test_homologs_excluded_unrelated_kept(index, test_proteins, tmp_path):
    acc, label, seq = test_proteins["P07766"]
    homologs = set(find_homologs({acc: seq}, index, HomologOptions(threads=1)).target)
    # its orthologs in the slice (they share the family 10-mer) are homologs; unrelated entries are not
    assert {"P29328", "Q7YRN2", "Q9TUF9", "P22646"} <= homologs
    sequences = index_sequences(index)
    # a 5-mer of P07766 that an unrelated entry (not a homolog) also holds
    start, unrelated = next((i, a) for i in range(len(seq) - 5) for a, s in sequences.items()
                            if a not in homologs and a != acc and seq[i:i + 5] in s)
    rows = [(acc, label, seq), (acc, label, seq)]
    df = make_attributions(rows, "attention", lambda i, s: plateau(s, FAMILY[acc] + 2 if i == 0 else start, 5))
    df.loc[1, "method"] = "attention-5mer"
    path = tmp_path / "a.parquet"
    df.to_parquet(path, index=False)
    results = {}
    for flag in ([], ["--exclude-homologs"]):
        out = tmp_path / ("excl" if flag else "kept")
        assert hitrate.main([str(path), "--index", str(index), "--k", "1.7", "--controls", "0", "--threads", "1",
                             "--out", str(out), *flag]) == 0
        with duckdb.connect(str(out / "hitrates.duckdb"), read_only=True) as con:
            results[bool(flag)] = con.execute(
                "SELECT a.method, p.peptide, list(m.match_accession) AS matched FROM peptides p "
                "JOIN attributions a USING (row_id) LEFT JOIN matches m USING (peptide_id) GROUP BY ALL").df()
            if flag:
                pairs = con.execute("SELECT accession, target FROM homologs").df()
                settings = dict(con.execute("SELECT key, value FROM settings").fetchall())
    kept = results[False].set_index("method").matched
    excl = results[True].set_index("method").matched
    family_kept = {m for m in kept["attention"] if m}
    assert family_kept and family_kept <= homologs      # without exclusion: the orthologs with a location hit
    assert not ({m for m in excl["attention"] if m} & family_kept)           # with it: every ortholog gone
    assert unrelated in excl["attention-5mer"]                              # the unrelated entry stays
    assert set(pairs.target) == homologs and set(pairs.accession) == {acc}
    assert settings["homolog_tool"] == "MMseqs2" and settings["homolog_evalue"] == "0.001"
    assert settings["homolog_tool_version"].startswith("14-7e284") or settings["homolog_tool_version"]


@needs_mmseqs
def test_homolog_cache_answers_again_and_a_new_sequence_works(index, test_proteins):
    acc, _, seq = test_proteins["P07766"]
    first = find_homologs({acc: seq}, index, HomologOptions(threads=1))
    again = find_homologs({"my own name": seq, "novel": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"}, index,
                          HomologOptions(threads=1))
    assert set(again[again.name == "my own name"].target) == set(first.target)   # by sequence, not name
    assert again[again.name == "novel"].empty
    cache = next((index / "homologs").glob("cache-*.duckdb"))
    with duckdb.connect(str(cache), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM searched").fetchall()[0][0] == 2


@needs_mmseqs
def test_damaged_cache_and_missing_mmseqs_are_one_line(index, test_proteins, tmp_path):
    acc, label, seq = test_proteins["P07766"]
    path = tmp_path / "a.parquet"
    make_attributions([(acc, label, seq)], "attention", lambda i, s: plateau(s, 192, 10)).to_parquet(path)
    broken = tmp_path / "index"
    shutil.copytree(index, broken)
    find_homologs({acc: seq}, broken, HomologOptions(threads=1))
    cache = next((broken / "homologs").glob("cache-*.duckdb"))
    cache.write_bytes(cache.read_bytes()[:5000])
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pslindex.hitrate", str(path), "--index", str(broken), "--exclude-homologs",
           "--out", str(tmp_path / "out")]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "damaged homolog cache" in result.stderr and not (tmp_path / "out").exists()
    no_mmseqs = {**env, "PATH": os.path.dirname(sys.executable)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=no_mmseqs)
    assert result.returncode == 2 and "mmseqs (MMseqs2) not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_bad_control_options_write_nothing(index, test_proteins, tmp_path, capsys):
    acc, label, seq = test_proteins["P07766"]
    path = tmp_path / "a.parquet"
    make_attributions([(acc, label, seq)], "attention", lambda i, s: plateau(s, 192, 10)).to_parquet(path)
    for args, message in ((["--controls", "-1"], "--controls -1"), (["--k", "nan"], "--k nan"),
                          (["--window", "0"], "--window 0"), (["--homolog-evalue", "0"], "--homolog-evalue 0")):
        assert hitrate.main([str(path), "--index", str(index), "--out", str(tmp_path / "o"), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
        assert not (tmp_path / "o").exists()


def test_rotations_seeded_and_independent_of_other_rows(test_proteins):
    rows = [test_proteins[a] for a in list(test_proteins)[:4]]
    rng = np.random.default_rng(1)
    df = make_attributions(rows, "attention", lambda i, s: rng.exponential(1.0, len(s)) ** 4)  # spiky scores
    one = hitrate.peptides_table(df, controls=6, seed=3)
    assert len(one) > 20
    assert one.equals(hitrate.peptides_table(df, controls=6, seed=3))
    assert not one.equals(hitrate.peptides_table(df, controls=6, seed=4))
    assert set(one.rotation) == set(range(7))
    # row 0's controls do not depend on the rows after it
    alone = hitrate.peptides_table(df.iloc[:1], controls=6, seed=3)
    assert alone.drop(columns="peptide_id").equals(one[one.row_id == 0].drop(columns="peptide_id")
                                                   .reset_index(drop=True))
    # rotation 0 is the row itself
    assert one[one.rotation == 0].drop(columns=["peptide_id", "rotation"]).reset_index(drop=True).equals(
        hitrate.peptides_table(df, controls=0).drop(columns=["peptide_id", "rotation"]))


def test_empirical_p_formula():
    assert empirical_p(0.5, [0.1, 0.2, 0.6, np.nan]) == pytest.approx((1 + 1) / (1 + 3))
    assert empirical_p(0.5, [0.5]) == 1.0              # ties count as >= observed
    assert empirical_p(0.9, [0.1] * 19) == pytest.approx(1 / 20)   # the smallest p with R = 19
    assert np.isnan(empirical_p(np.nan, [0.1])) and np.isnan(empirical_p(0.3, [np.nan]))


def test_cluster_bootstrap_is_wider_for_duplicated_proteins():
    rng = np.random.default_rng(0)
    per_protein = rng.random(40)
    values = np.repeat(per_protein, 3)                  # three seeds that agree: the same protein thrice
    clusters = np.repeat([f"P{i}" for i in range(40)], 3)
    naive = bootstrap_ci(values)
    cluster = bootstrap_ci(values, clusters)
    assert (cluster[1] - cluster[0]) > 1.4 * (naive[1] - naive[0])
    # the cluster interval of the triplicated sample is the interval of the proteins themselves
    assert cluster == pytest.approx(bootstrap_ci(per_protein), abs=0.02)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert np.isnan(bootstrap_ci([])[0])


def test_self_exclusion_when_an_accession_is_also_anothers_secondary(tmp_path):
    # P04637 (p53) is the primary of its own entry; here insulin's entry also lists it as a secondary
    text = SPROT_FIXTURE.read_text().replace("AC   P01308; Q5EEX2;", "AC   P01308; Q5EEX2; P04637;")
    fixture = tmp_path / "sprot.dat"
    fixture.write_text(text)
    index = tmp_path / "index"
    write_index(read_swissprot(fixture), index, {"source": "uniprot-local", "release": "fixture"}, progress=False)
    from pslindex.matcher import build_matcher

    build_matcher(index)
    from pslindex.store import open_index

    with open_index(index) as idx:  # the index maps an entry's own primary to itself
        assert idx.primary_accession("P04637") == "P04637" and idx.primary_accession("Q5EEX2") == "P01308"
    # an index built before that fix mapped it to the other entry (min primary); the hit rate must not care
    with duckdb.connect(str(index / "sprot.duckdb")) as con:
        con.execute("UPDATE accessions SET primary_accession = 'P01308' WHERE accession = 'P04637'")
    p53 = index_sequences(index)["P04637"]
    insulin = index_sequences(index)["P01308"]
    # p53 itself (its own peptide must not hit its own entry) and a peptide it shares with nobody else
    df = make_attributions([("P04637", "Nucleus", p53), ("P04637", "Nucleus", p53 + insulin[:30])],
                           "attention", lambda i, s: plateau(s, 100 if i == 0 else len(p53) + 5, 5))
    df.loc[1, "method"] = "attention-b"   # one row per (run, model, method, accession)
    path = tmp_path / "a.parquet"
    df.to_parquet(path)
    assert hitrate.main([str(path), "--index", str(index), "--k", "1.7", "--controls", "0",
                         "--out", str(tmp_path / "out")]) == 0
    with duckdb.connect(str(tmp_path / "out" / "hitrates.duckdb"), read_only=True) as con:
        matched = con.execute("SELECT p.row_id, m.match_accession FROM peptides p JOIN matches m "
                              "USING (peptide_id)").df()
    assert set(matched.row_id) == {1} or "P04637" not in set(matched.match_accession)
    assert "P04637" not in set(matched.match_accession)            # its own entry: never a hit
    assert set(matched[matched.row_id == 1].match_accession) == {"P01308"}   # the other entry still counts
    assert pd.notna(matched).all().all()
