"""Hit rates (SPEC 7) end to end on a real Swiss-Prot slice, against an independent reference."""

from __future__ import annotations

import re
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from build_index import __main__ as build_cli
from conftest import REPO, SHARED, make_attributions, read_deeploc
from pslindex import hitrate
from pslindex.classes import CLASSES

# (DeepLoc test protein, start of a 10-mer it shares with 3-7 other Swiss-Prot entries):
# the peptides of FAMILY_PEPTIDES in tests/data/debian/make_debian_fixture.py.
FAMILIES = {"P07766": 192, "P0CX83": 76, "P25371": 549, "Q02353": 587, "O60635": 18, "P56574": 387,
            "P35064": 27, "O00623": 241, "P35477": 79, "Q5FW60": 5}


def peak_at(seq: str, start: int) -> np.ndarray:
    """Scores 1 on seq[start:start+10], 0 on up to 10 residues each side, NaN (unseen) elsewhere.

    Over the scored residues the threshold mean + 1 sd lies between 0.8 and 1, whatever the
    protein's length, so k=1 extracts exactly the 10-mer.
    """
    r = np.full(len(seq), np.nan)
    r[max(0, start - 10):start + 20] = 0.0
    r[start:start + 10] = 1.0
    return r


@pytest.fixture(scope="module")
def fixture_index(debian_index):
    return debian_index


@pytest.fixture(scope="module")
def attributions(tmp_path_factory):
    test_rows = read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", test_only=True)
    by_acc = {acc: (acc, label, seq) for acc, label, seq in test_rows}
    rows = [by_acc[a] for a in FAMILIES]
    # the same protein under an isoform accession: its own entry must still be excluded
    rows.append(("P07766-2", by_acc["P07766"][1], by_acc["P07766"][2]))
    starts = [*FAMILIES.values(), FAMILIES["P07766"]]

    def wrong_every_third(i, label):
        return label if i % 3 else CLASSES[(CLASSES.index(label) + 1) % len(CLASSES)]

    att = make_attributions(rows, "attention", lambda i, s: peak_at(s, starts[i]), pred_for=wrong_every_third)
    rng = np.random.default_rng(7)
    rnd = make_attributions(rows, "random", lambda i, s: peak_at(s, int(rng.integers(0, len(s) - 10))),
                            pred_for=wrong_every_third)
    df = pd.concat([att, rnd], ignore_index=True)
    path = tmp_path_factory.mktemp("att") / "attributions.parquet"
    df.to_parquet(path, index=False)
    return path


def reference_peptide_hitrate(peptide, start, self_accession, label, index_file, position_weight=True):
    """SPEC 7 written out directly: scan every sequence, exclude self/isoforms/no-location entries.
    ``position_weight`` False: every matching entry weighs 1 (``--beta none``, SPEC 9.1)."""
    con = duckdb.connect(str(index_file), read_only=True)
    sequences = dict(con.execute("SELECT accession, sequence FROM proteins").fetchall())
    classes = {a: set(c) for a, c in con.execute("SELECT accession, classes FROM protein_classes").fetchall()}
    primary = dict(con.execute("SELECT accession, primary_accession FROM accessions").fetchall())
    con.close()
    base = re.sub(r"-\d+$", "", self_accession)
    self_primary = primary.get(base, base)
    total, n = 0.0, 0
    for acc, seq in sequences.items():
        if re.sub(r"-\d+$", "", acc) == self_primary or not classes.get(acc):
            continue
        positions, i = [], seq.find(peptide)
        while i != -1:
            positions.append(i)
            i = seq.find(peptide, i + 1)
        if not positions:
            continue
        d = min(abs(p - start) for p in positions)
        beta = 1.0 if d == 0 or not position_weight else 1.0 / d
        total += beta if label in classes[acc] else 0.0
        n += 1
    return None if n == 0 else total / n


def test_position_free_hit_rate_against_reference(fixture_index, attributions, tmp_path):
    out = tmp_path / "free"
    assert hitrate.main([str(attributions), "--index", str(fixture_index), "--k", "1", "--beta", "none",
                         "--controls", "0", "--out", str(out)]) == 0
    with duckdb.connect(str(out / "hitrates.duckdb"), read_only=True) as con:
        peptides = con.execute("SELECT p.*, a.accession, a.true_label FROM peptide_hitrates p "
                               "JOIN attributions a USING (row_id) WHERE p.rotation = 0").df()
        settings = dict(con.execute("SELECT key, value FROM settings").fetchall())
    assert settings["beta"] == "none"
    checked = weighted_apart = 0
    for row in peptides.itertuples():
        ref = reference_peptide_hitrate(row.peptide, row.start, row.accession, row.true_label,
                                        fixture_index / "sprot.duckdb", position_weight=False)
        if ref is not None:
            assert row.hitrate_true == pytest.approx(ref, abs=1e-12)
            checked += 1
            spec = reference_peptide_hitrate(row.peptide, row.start, row.accession, row.true_label,
                                             fixture_index / "sprot.duckdb")
            weighted_apart += ref > spec + 1e-12  # a labelled match at another position: weighs 1, not 1/d
    assert checked >= 10 and weighted_apart >= 1


def test_end_to_end_against_reference(fixture_index, attributions, tmp_path, capsys):
    out = tmp_path / "results"
    assert hitrate.main([str(attributions), "--index", str(fixture_index), "--k", "1", "--out", str(out),
                         "--profile"]) == 0
    printed = capsys.readouterr().out
    assert "Swiss-Prot index: debian" in printed and "wrong, vs predicted" in printed
    con = duckdb.connect(str(out / "hitrates.duckdb"), read_only=True)
    peptides = con.execute("SELECT p.*, a.accession, a.method, a.true_label, a.pred_label FROM peptide_hitrates p "
                           "JOIN attributions a USING (row_id)").df()
    att = peptides[(peptides.method == "attention") & (peptides.rotation == 0)]
    # the plateau is extracted exactly, and every family peptide matches something
    for acc, start in FAMILIES.items():
        got = att[att.accession == acc]
        assert len(got) == 1 and got.start.iloc[0] == start and len(got.peptide.iloc[0]) == 10
        assert got.n_matches.iloc[0] >= 1
    assert att[att.accession.isin(list(FAMILIES))].n_matches.sum() >= 25
    index_file = fixture_index / "sprot.duckdb"
    checked = 0
    # every observed peptide, and the first 60 control peptides (the reference is slow: a scan per peptide)
    sample = pd.concat([peptides[peptides.rotation == 0], peptides[peptides.rotation > 0].head(60)])
    for row in sample.itertuples():
        for label, column in ((row.true_label, "hitrate_true"), (row.pred_label, "hitrate_pred")):
            ref = reference_peptide_hitrate(row.peptide, row.start, row.accession, label, index_file)
            got = getattr(row, column)
            if ref is None:
                assert pd.isna(got) and row.n_matches == 0
            else:
                assert got == pytest.approx(ref, abs=1e-12)
                checked += 1
    assert checked >= 20
    # self-exclusion holds for the isoform accession too: same values as the canonical row
    iso = att[att.accession == "P07766-2"].iloc[0]
    canon = att[att.accession == "P07766"].iloc[0]
    assert iso.n_matches == canon.n_matches >= 1
    assert iso.hitrate_true == canon.hitrate_true
    # protein hit rate = mean over its peptides with a defined hit rate
    proteins = con.execute("SELECT * FROM protein_hitrates").df()
    for prow in proteins.itertuples():
        own = peptides[peptides.row_id == prow.row_id]
        mine = own[own.rotation == 0].hitrate_true.dropna()
        assert (pd.isna(prow.hitrate_true) and mine.empty) or prow.hitrate_true == pytest.approx(mine.mean())
        # the chance control: mean over the rotations with a defined hit rate, and SPEC 9.2's p-value
        per_rotation = own[own.rotation > 0].groupby("rotation").hitrate_true.mean().dropna()
        assert prow.n_controls_defined == len(per_rotation)
        if len(per_rotation):
            assert prow.control_hitrate_true == pytest.approx(per_rotation.mean())
        if len(per_rotation) and not pd.isna(prow.hitrate_true):
            expected = (1 + (per_rotation >= prow.hitrate_true).sum()) / (1 + len(per_rotation))
            assert prow.p_true == pytest.approx(expected)
        else:
            assert pd.isna(prow.p_true)
    # undefined is NULL in SQL, not 0 and not NaN
    assert con.execute("SELECT count(*) FROM peptide_hitrates WHERE n_matches = 0").fetchall()[0][0] > 0
    assert con.execute("SELECT count(*) FROM peptide_hitrates WHERE n_matches = 0 AND hitrate_true IS NOT NULL"
                       ).fetchall()[0][0] == 0
    assert con.execute("SELECT count(*) FROM protein_hitrates WHERE isnan(hitrate_true) OR isnan(hitrate_pred)"
                       ).fetchall()[0][0] == 0
    groups = con.execute("SELECT * FROM groups").df()
    assert set(groups.group) == {"correct", "wrong, vs predicted", "wrong, vs true"}
    assert (groups.groupby("method").size() == 3).all()
    correct = groups[(groups.method == "attention") & (groups.group == "correct")].iloc[0]
    assert correct.proteins == 7 and correct.ci_low <= correct["mean"] <= correct.ci_high
    assert correct.n_paired >= 1 and correct.diff_ci_low <= correct.diff_mean <= correct.diff_ci_high
    assert correct.proteins_no_peptides + correct.proteins_no_match + correct.n == correct.proteins
    assert 0 < correct.base_rate < 1
    profiles = con.execute("SELECT count(DISTINCT class) FROM protein_profiles").fetchall()[0][0]
    assert profiles == 10
    # joinable with the index
    con.execute("ATTACH ? AS idx (READ_ONLY)", [str(index_file)])
    n = con.execute("SELECT count(*) FROM matches m JOIN idx.proteins p ON p.accession = m.match_accession"
                    ).fetchall()[0][0]
    assert n == con.execute("SELECT count(*) FROM matches").fetchall()[0][0] > 0
    con.close()
    assert len(pd.read_parquet(out / "hitrates.parquet")) == 22


def _write(df, path):
    df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda df: df.drop(columns=["scores"]), r"missing column\(s\) scores"),
    (lambda df: df.assign(scores=[s[:-1] for s in df.scores]), r"row 0 \(P07766, attention\): \d+ scores for a "
                                                               r"sequence of length \d+"),
    (lambda df: df.assign(true_label="Cytosol"), r"row 0 \(P07766, attention\): true_label 'Cytosol' is not one"),
    (lambda df: df.iloc[0:0], "no rows"),
    (lambda df: df.assign(sequence=[s[:-1] + "J" for s in df.sequence]), "letters outside"),
    (lambda df: df.assign(scores=[np.where(np.arange(len(s)) == 3, np.inf, s) for s in df.scores]),
     r"row 0 \(P07766, attention\): infinite scores"),
    (lambda df: pd.concat([df, df.iloc[[1]]], ignore_index=True),
     r"the same \(run_id, model, method, accession\) twice"),
])
def test_bad_attributions(fixture_index, attributions, tmp_path, capsys, mutate, message):
    bad = _write(mutate(pd.read_parquet(attributions)), tmp_path / "bad.parquet")
    out = tmp_path / "out"
    assert hitrate.main([str(bad), "--index", str(fixture_index), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]) and err[0].startswith("error: ")
    assert not out.exists() and not (tmp_path / "out.partial").exists()


def test_not_parquet_and_missing_index(fixture_index, attributions, tmp_path, capsys):
    junk = tmp_path / "x.parquet"
    junk.write_text("not parquet")
    assert hitrate.main([str(junk), "--index", str(fixture_index), "--out", str(tmp_path / "o")]) == 2
    assert "not a Parquet file" in capsys.readouterr().err
    assert hitrate.main([str(attributions), "--index", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no index here" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_index_from_another_version(fixture_index, attributions, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(fixture_index, other)
    con = duckdb.connect(str(other / "sprot.duckdb"))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    assert hitrate.main([str(attributions), "--index", str(other), "--out", str(tmp_path / "o")]) == 2
    assert "index schema version 0, this tool needs 1" in capsys.readouterr().err


def test_failed_run_keeps_previous_results(fixture_index, attributions, tmp_path):
    out = tmp_path / "results"
    assert hitrate.main([str(attributions), "--index", str(fixture_index), "--k", "1", "--out", str(out)]) == 0
    before = (out / "hitrates.parquet").read_bytes()
    bad = _write(pd.read_parquet(attributions).drop(columns=["probs"]), tmp_path / "bad.parquet")
    assert hitrate.main([str(bad), "--index", str(fixture_index), "--out", str(out)]) == 2
    assert (out / "hitrates.parquet").read_bytes() == before


def test_unlabelled_rows_are_judged_against_the_prediction(fixture_index, attributions, tmp_path):
    """A user's own proteins (true_label null): the same hit rate vs the prediction, none vs a true label."""
    labelled = pd.read_parquet(attributions)
    unlabelled = _write(labelled.assign(true_label=None), tmp_path / "unlabelled.parquet")
    for name, path in (("a", attributions), ("b", unlabelled)):
        assert hitrate.main([str(path), "--index", str(fixture_index), "--k", "1", "--controls", "0",
                             "--out", str(tmp_path / name)]) == 0
    a, b = (pd.read_parquet(tmp_path / n / "hitrates.parquet") for n in "ab")
    assert a.hitrate_pred.notna().sum() > 5
    assert np.allclose(a.hitrate_pred, b.hitrate_pred, equal_nan=True) and b.hitrate_true.isna().all()
    assert b.correct.isna().all()
    with duckdb.connect(str(tmp_path / "b" / "hitrates.duckdb"), read_only=True) as con:
        groups = con.execute('SELECT "group", n FROM groups WHERE method = \'attention\'').fetchall()
    assert groups == [("unlabelled, vs predicted", int(b[b.method == "attention"].hitrate_pred.notna().sum()))]


@pytest.mark.slow
def test_full_index_deeploc_test_set_three_methods(tmp_path):
    """2,773 proteins x 3 methods against the full Debian index; a sample checked against the reference."""
    index = REPO / "data" / "index"
    if not (index / "matcher_meta.json").is_file():
        pytest.skip("needs the full index: make index")
    rows = read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", test_only=True)
    rng = np.random.default_rng(0)
    frames = [make_attributions(rows, m, lambda i, s: peak_at(s, int(rng.integers(0, len(s) - 10))))
              for m in ("attention", "ig", "random")]
    path = _write(pd.concat(frames, ignore_index=True), tmp_path / "a.parquet")
    # (its speed is measured in bench/hitrate.py, not here)
    assert hitrate.main([str(path), "--index", str(index), "--k", "1", "--out", str(tmp_path / "r")]) == 0
    con = duckdb.connect(str(tmp_path / "r" / "hitrates.duckdb"), read_only=True)
    sample = con.execute("SELECT p.peptide, p.start, p.hitrate_true, a.accession, a.true_label FROM peptide_hitrates p "
                         "JOIN attributions a USING (row_id) USING SAMPLE 8 ROWS (reservoir, 1)").df()
    con.close()
    for row in sample.itertuples():
        ref = reference_peptide_hitrate(row.peptide, row.start, row.accession, row.true_label,
                                        index / "sprot.duckdb")
        assert (ref is None and pd.isna(row.hitrate_true)) or row.hitrate_true == pytest.approx(ref, abs=1e-12)


def test_paper_protocol_hand_computed(tmp_path):
    """SPEC 10 on a hand-made index: one count per entry (first peptide by position, first occurrence),
    weight min(len/|d|, 1), first listed location only, the protein itself kept, 0 on no match."""
    g = "G"
    query = g * 10 + "WKLMH" + g * 25 + "PQRST" + g * 15                       # 60; peptides at 10 and 40
    entries = [  # (accession, sequence, locations as UniProt writes them)
        ("E1", query, "SUBCELLULAR LOCATION: Nucleus."),                        # itself: d 0, w 1
        ("E2", g * 30 + "WKLMH" + g * 10 + "PQRST" + g * 10,                    # first peptide at 30: w 5/20
         "SUBCELLULAR LOCATION: Cytoplasm. Nucleus."),                          # first listed: Cytoplasm
        ("E3", g * 12 + "WKLMH" + g * 23 + "WKLMH" + g * 5, "SUBCELLULAR LOCATION: Secreted."),  # d 2: w 1
        ("E4", g * 10 + "WKLMH" + g * 10, ""),                                  # no location: not counted
        ("E5", "ACDEFHIKLMNVWY" * 3, "SUBCELLULAR LOCATION: Nucleus."),         # holds no peptide
        ("E6", g * 45 + "PQRST" + g * 5, "SUBCELLULAR LOCATION: Mitochondrion."),  # only PQRST, d 5: w 1
    ]
    tsv = tmp_path / "hand.tsv"
    tsv.write_text("Entry\tSequence\tSubcellular location [CC]\n" + "".join(f"{a}\t{s}\t{c}\n" for a, s, c in entries))
    index = tmp_path / "index"
    assert build_cli.main(["--source", str(tsv), "--out", str(index), "--quiet"]) == 0
    spikes = np.zeros(60)
    spikes[[12, 42]] = 1.0
    alone = g * 20 + "YWYWY" + g * 35                                             # a peptide nobody holds
    lone = np.zeros(60)
    lone[22] = 1.0
    rows = pd.DataFrame({
        "run_id": "r", "model": "m", "method": "attention", "accession": ["E1", "Z9"],
        "sequence": [query, alone], "true_label": ["Nucleus", "Nucleus"], "pred_label": ["Cytoplasm", "Nucleus"],
        "probs": [np.full(10, 0.1, np.float32)] * 2, "scores": [spikes, lone]})
    path = _write(rows, tmp_path / "a.parquet")
    for protocol in ("paper", "spec"):
        assert hitrate.main([str(path), "--index", str(index), "--controls", "0", "--protocol", protocol,
                             "--out", str(tmp_path / protocol)]) == 0
    paper = pd.read_parquet(tmp_path / "paper" / "hitrates.parquet").set_index("accession")
    total = 1 + 5 / 20 + 1 + 1                                                   # E1, E2, E3, E6
    assert paper.loc["E1", "hitrate_true"] == pytest.approx(1 / total)           # E1 only (E2's first is Cytoplasm)
    assert paper.loc["E1", "hitrate_pred"] == pytest.approx((5 / 20) / total)    # E2
    assert paper.loc["E1", "n_entries"] == 4 and paper.loc["E1", "n_peptides"] == 2
    assert paper.loc["Z9", "hitrate_true"] == 0 and paper.loc["Z9", "n_peptides"] == 1   # 0, not undefined
    with duckdb.connect(str(tmp_path / "paper" / "hitrates.duckdb"), read_only=True) as con:
        weights = dict(con.execute("SELECT match_accession, beta FROM matches").fetchall())
        settings = dict(con.execute("SELECT key, value FROM settings").fetchall())
    assert weights == pytest.approx({"E1": 1.0, "E2": 0.25, "E3": 1.0, "E6": 1.0})
    assert settings["protocol"] == "paper" and settings["entry_classes"] == "first listed location"
    spec = pd.read_parquet(tmp_path / "spec" / "hitrates.parquet").set_index("accession")
    assert pd.isna(spec.loc["Z9", "hitrate_true"])                               # SPEC 7: undefined
    # SPEC 6 thresholds 5-residue window means: single-residue spikes (0.2 a window) stay below mean + 2 sd
    assert spec.loc["E1", "n_peptides"] == 0 and pd.isna(spec.loc["E1", "hitrate_true"])


def test_aa_permuted_control_keeps_composition_and_moves_places(fixture_index, attributions, tmp_path):
    """SPEC 11.4: a score that knows only the amino acid equals its aa-permuted copies (control = observed,
    p = 1 on every protein), while its rotations differ; a peak at a family peptide loses it in the copies."""
    from pslindex.extract import aa_permute_scores

    rows = pd.read_parquet(attributions)
    rows = rows[rows.method == "attention"].reset_index(drop=True)
    weight = {a: (i + 1) / 20 for i, a in enumerate("ACDEFGHIKLMNPQRSTVWY")}
    composition = rows.assign(method="composition", scores=[  # seen where attention is, around a family peptide
        np.where(np.isnan(np.asarray(r.scores, dtype=np.float64)), np.nan, [weight[a] ** 4 for a in r.sequence])
        for r in rows.itertuples()])
    path = tmp_path / "attributions.parquet"
    pd.concat([rows, composition], ignore_index=True).to_parquet(path, index=False)
    seq = rows.sequence[0]
    copy = aa_permute_scores(seq, np.asarray(rows.scores[0], dtype=np.float64), np.random.default_rng(1))
    for a in set(seq):  # each amino acid keeps its own scores
        where = [i for i, x in enumerate(seq) if x == a]
        assert sorted(np.nan_to_num(copy[where], nan=-1)) == sorted(np.nan_to_num(rows.scores[0][where], nan=-1))
    out = {}
    for control in ("aa-permuted", "rotation"):
        options = hitrate.HitRateOptions(k=1.0, controls=4, control=control)  # k=1: the 10-mer peaks (peak_at)
        hitrate.hitrate_folder(path, fixture_index, tmp_path / control, options)
        out[control] = pd.read_parquet(tmp_path / control / "hitrates.parquet").set_index(["method", "accession"])
        with duckdb.connect(str(tmp_path / control / "hitrates.duckdb"), read_only=True) as con:
            assert dict(con.execute("SELECT key, value FROM settings").fetchall())["control"] == control
            copies = con.execute("""SELECT a.method, p.row_id, p.rotation, list(p.start ORDER BY p.start) AS starts
                FROM peptides p JOIN attributions a USING (row_id) GROUP BY ALL""").df()
        same = copies.groupby(["method", "row_id"]).starts.agg(
            lambda v: len(v) == 5 and all(list(x) == list(v.iloc[0]) for x in v))  # each copy: the row's own peptides
        assert len(same["composition"]) >= 3 and same["composition"].all() == (control == "aa-permuted")
        assert not same["attention"].all()  # a peak at a place moves in both kinds of copies
    aa = out["aa-permuted"].loc["composition"]
    defined = aa.hitrate_true.notna() & aa.control_hitrate_true.notna()
    assert defined.sum() >= 3
    assert np.allclose(aa.hitrate_true[defined], aa.control_hitrate_true[defined]) and (aa.p_true[defined] == 1).all()
    rotated = out["rotation"].loc["composition"]
    assert not np.allclose(rotated.hitrate_true[defined], rotated.control_hitrate_true[defined])
