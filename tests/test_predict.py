"""`psl predict` with the shipped model on real FASTA records, and indexes from a user's own sources."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from build_index import __main__ as build_cli
from conftest import DATA, REPO, SHARED, SPROT_FIXTURE
from pslindex.matcher import KmerIndex
from pslmodels import predict as predict_cli
from pslmodels.cli import main as psl
from pslmodels.plausibility import main as plausibility_cli
from pslmodels.predict import DEFAULT_MODEL, PredictOptions, predict
from pslmodels.view import main as view_cli

SETHARD = SHARED / "data/deeploc/setHARD.fasta.gz"
SIGNALS = SHARED / "data/signals/SortingSignalsSwissprot.csv.gz"
TSV_FIXTURE = DATA / "uniprot" / "uniprot_export.tsv"
FASTA_FIXTURE = DATA / "uniprot" / "proteome.fasta"


def exit_code(main, argv) -> int:
    """A CLI's exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def sethard_records(n: int) -> list[tuple[str, str]]:
    """The first n (accession, sequence) pairs of setHARD: real proteins."""
    out, acc, seq = [], None, []
    with gzip.open(SETHARD, "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                if acc:
                    out.append((acc, "".join(seq)))
                acc, seq = line[1:].split()[0], []
            else:
                seq.append(line.strip())
    out.append((acc, "".join(seq)))
    return out[:n]


def test_sethard_equals_the_model_card(tmp_path, capsys):
    """No training, no index: the shipped model's setHARD accuracy and macro-F1 are the model card's."""
    out = tmp_path / "pred"
    assert predict_cli.main([str(SETHARD), "--out", str(out), "--quiet", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    for name in ("predictions.csv", "predictions.parquet", "attributions.parquet", "viewer.html"):
        assert (out / name).is_file() and str(out / name) in printed
    pred = pd.read_parquet(out / "predictions.parquet")
    card = json.loads((DEFAULT_MODEL / "metrics.json").read_text())["sethard"]
    assert len(pred) == card["n"] == 490
    assert (pred.true_label == pred.pred_label).mean() == pytest.approx(card["accuracy"], abs=1e-9)
    assert f1_score(pred.true_label, pred.pred_label, average="macro") == pytest.approx(card["f1_macro"], abs=1e-9)
    probs = pred[[c for c in pred.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-5) and list(pred.record) == list(range(1, 491))
    csv = pd.read_csv(out / "predictions.csv")
    assert list(csv.accession) == list(pred.accession) and (csv.pred_label == pred.pred_label).all()
    att = pd.read_parquet(out / "attributions.parquet")
    assert list(att.accession) == list(pred.accession) and set(att.method) == {"attention"}
    # attention rows are weights: they sum to 1 over the seen residues
    assert all(abs(np.nansum(s) - 1) < 1e-4 for s in att.scores.head(20))
    assert "Model card" in (DEFAULT_MODEL / "MODEL_CARD.md").read_text()


def test_fasta_as_users_have_it(tmp_path, capsys):
    """UniProt and plain headers, lowercase, '*', CRLF, wrapping, gzip, a repeated accession."""
    (a1, s1), (a2, s2), (a3, s3) = sethard_records(3)
    text = (f">sp|{a1}|SOME_HUMAN A protein OS=Homo sapiens\r\n{s1[:40].lower()}\r\n{s1[40:]}*\r\n"
            f">{a2}\r\n{s2}\r\n"
            f">tr|{a3}|X_MOUSE Alpha-beta hydrolase\r\n{s3}\r\n"
            f">{a2} again\r\n{s2}\r\n")
    path = tmp_path / "mine.fa.gz"
    with gzip.open(path, "wt", newline="") as handle:
        handle.write(text)
    out = tmp_path / "pred"
    assert predict_cli.main([str(path), "--out", str(out), "--quiet", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert f"repeated accession(s) {a2} x2" in err
    pred = pd.read_parquet(out / "predictions.parquet")
    assert list(pred.accession) == [a1, a2, a3, f"{a2}~2"]
    assert list(pred.length) == [len(s1), len(s2), len(s3), len(s2)]
    assert pred.true_label.isna().all()  # no DeepLoc label in these headers
    assert pred.header[0] == f"sp|{a1}|SOME_HUMAN A protein OS=Homo sapiens"
    # the same sequence gives the same prediction whatever its header or case
    numbers = ["confidence", "margin", *(c for c in pred.columns if c.startswith("p_"))]
    assert np.allclose(pred.loc[1, numbers].astype(float), pred.loc[3, numbers].astype(float))
    att = pd.read_parquet(out / "attributions.parquet")
    assert att.true_label.isna().all() and att.sequence[0] == s1


def test_invalid_letters_and_skip_invalid(tmp_path, capsys):
    (a1, s1), (a2, s2) = sethard_records(2)
    path = tmp_path / "q.fasta"
    path.write_text(f">{a1}\n{s1}\n>bad1 a description\nMKV1JL\n>{a2}\n{s2}\n")
    out = tmp_path / "pred"
    assert predict_cli.main([str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "q.fasta: bad1 (header line 3): letter(s) '1J' outside" in err
    assert "--skip-invalid" in err and not out.exists()
    assert predict_cli.main([str(path), "--out", str(out), "--quiet", "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert "skipped: " in captured.err and "2 proteins" in captured.out
    assert list(pd.read_parquet(out / "predictions.parquet").accession) == [a1, a2]


def test_streaming_in_chunks_gives_the_same_files(tmp_path):
    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in sethard_records(7)))
    big = predict(fasta, tmp_path / "one", PredictOptions(progress=False, view_limit=0))
    small = predict(fasta, tmp_path / "many", PredictOptions(progress=False, view_limit=0, chunk=2, batch_size=3))
    assert big["proteins"] == small["proteins"] == 7
    for name in ("predictions.parquet", "attributions.parquet"):
        a, b = pd.read_parquet(tmp_path / "one" / name), pd.read_parquet(tmp_path / "many" / name)
        assert list(a.accession) == list(b.accession)
        if name == "predictions.parquet":
            numbers = ["confidence", "margin", *(c for c in a.columns if c.startswith("p_"))]
            assert np.allclose(a[numbers].to_numpy(float), b[numbers].to_numpy(float), atol=1e-6)
        else:
            assert all(np.allclose(x, y, atol=1e-6, equal_nan=True) for x, y in zip(a.scores, b.scores, strict=True))


def test_out_is_never_someone_elses_folder(tmp_path, capsys):
    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in sethard_records(2)))
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert predict_cli.main([str(fasta), "--out", str(mine), "--quiet"]) == 2
    assert "nothing was written" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep me"
    for bad, message in ((["--batch-size", "0"], "--batch-size 0: must be at least 1"),
                         (["--explain", "magic"], "invalid choice: 'magic'"),
                         (["--seed", "-1"], "--seed -1: must be 0 or more"),
                         (["--model", str(tmp_path / "nope")], "no such run directory"),
                         (["--hitrate", "--index", str(tmp_path / "noindex")], "noindex")):
        assert exit_code(predict_cli.main, [str(fasta), "--out", str(tmp_path / "x"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0
    assert not (tmp_path / "x").exists()


def test_unlabelled_batch_through_hitrate_plausibility_and_viewer(tmp_path, capsys):
    """A user's own proteins (no labels): the hit rate judges the prediction, plausibility and viewer work."""
    proteins = pd.read_csv(SIGNALS).drop_duplicates("ACC").head(6)
    fasta = tmp_path / "signals.fasta"
    fasta.write_text("".join(f">{r.ACC}\n{r.Sequence}\n" for r in proteins.itertuples()))
    index = tmp_path / "index"
    assert build_cli.main(["--source", str(SPROT_FIXTURE), "--out", str(index), "--quiet"]) == 0
    out = tmp_path / "pred"
    assert predict_cli.main([str(fasta), "--out", str(out), "--quiet", "--hitrate", "--index", str(index),
                             "--controls", "3", "--explain", "attention", "uniform"]) == 0
    printed = capsys.readouterr().out
    assert "unlabelled, vs predicted" in printed
    with duckdb.connect(str(out / "hitrate" / "hitrates.duckdb"), read_only=True) as con:
        groups = con.execute("SELECT DISTINCT \"group\" FROM groups").fetchall()
        assert groups == [("unlabelled, vs predicted",)]
        assert con.execute("SELECT count(*) FROM protein_hitrates WHERE hitrate_true IS NOT NULL").fetchone()[0] == 0
    att = out / "attributions.parquet"
    assert plausibility_cli([str(att), "--out", str(tmp_path / "plaus.csv")]) == 0
    assert view_cli([str(att), "--out", str(tmp_path / "v.html")]) == 0
    # the authors' extraction (SPEC 10) in plausibility, recorded in its output
    assert plausibility_cli([str(att), "--protocol", "paper", "--out", str(tmp_path / "paper.csv")]) == 0
    spec, paper = pd.read_csv(tmp_path / "plaus.csv"), pd.read_csv(tmp_path / "paper.csv")
    assert set(spec.protocol) == {"spec"} and set(paper.protocol) == {"paper"}
    assert (paper.auprc == spec.auprc).all()      # AUPRC extracts nothing: the same under both
    page = (tmp_path / "v.html").read_text()
    assert '"true":null' in page and "no known class" in page


def test_index_from_a_uniprot_tsv_export_equals_the_flat_file(tmp_path):
    """The same real entries as a TSV export and as a flat file give the same locations and classes."""
    from_dat, from_tsv = tmp_path / "dat", tmp_path / "tsv"
    assert build_cli.main(["--source", str(SPROT_FIXTURE), "--out", str(from_dat), "--quiet"]) == 0
    assert build_cli.main(["--source", str(TSV_FIXTURE), "--out", str(from_tsv), "--quiet"]) == 0
    query = "SELECT accession, class, raw_term, evidence, isoform FROM locations ORDER BY ALL"
    with duckdb.connect(str(from_dat / "sprot.duckdb"), read_only=True) as a, \
            duckdb.connect(str(from_tsv / "sprot.duckdb"), read_only=True) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        classes = "SELECT * FROM protein_classes ORDER BY accession"
        assert a.execute(classes).fetchall() == b.execute(classes).fetchall()
        assert b.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()[0] == "uniprot-tsv"


def test_tsv_go_anchors_and_bad_tsv(tmp_path, capsys):
    (a1, s1), (a2, s2) = sethard_records(2)
    tsv = tmp_path / "go.tsv"
    tsv.write_text("Entry\tSequence\tSubcellular location [CC]\tGene Ontology (cellular component)\n"
                   f"{a1}\t{s1}\t\tnucleus [GO:0005634]; nucleoplasm [GO:0005654]\n{a2}\t{s2}\t\t\n")
    assert build_cli.main(["--source", str(tsv), "--out", str(tmp_path / "i"), "--quiet"]) == 0
    with duckdb.connect(str(tmp_path / "i" / "sprot.duckdb"), read_only=True) as con:
        # the anchor itself maps; a child term needs the ontology a TSV does not carry
        assert con.execute("SELECT accession, classes FROM protein_classes").fetchall() == [(a1, ["Nucleus"])]
    bad = tmp_path / "bad.tsv"
    bad.write_text("Entry\tSequence\nP1\tMKV\n")
    assert build_cli.main(["--source", str(bad), "--out", str(tmp_path / "j"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) Subcellular location [CC]" in err and not (tmp_path / "j").exists()


def test_index_from_a_plain_fasta(tmp_path, capsys):
    """Sequences only: the peptide search works, the hit rate says there are no locations."""
    index = tmp_path / "index"
    assert build_cli.main(["--source", str(FASTA_FIXTURE), "--out", str(index), "--quiet"]) == 0
    matcher = KmerIndex.load(index)
    hits = matcher.find(["MEEPQSDPSV"])  # the start of P53_HUMAN (P04637)
    assert list(hits.accession.astype(str)) == ["P04637"]
    with duckdb.connect(str(index / "sprot.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM proteins").fetchone()[0] == 7
        assert con.execute("SELECT entry_name FROM proteins WHERE accession = 'P04637'").fetchone()[0] == "P53_HUMAN"
    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in sethard_records(2)))
    capsys.readouterr()
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "p"), "--quiet", "--hitrate",
                             "--index", str(index)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no locations" in err and err.count("\n") == 0


def test_psl_is_one_entry_point(capsys):
    assert psl(["--help"]) == 0 and "predict" in capsys.readouterr().out
    assert psl(["frobnicate"]) == 2 and "unknown subcommand 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        psl(["predict", "--help"])
    assert stop.value.code == 0 and "--explain" in capsys.readouterr().out
    # the console script installed by `make setup`
    exe = REPO / ".venv" / "bin" / "psl"
    if exe.is_file():
        done = subprocess.run([str(exe), "index-info", str(REPO / "nowhere")], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.startswith("error: ")
    assert sys.executable


def test_a_run_without_attention_predicts_and_explains_with_ig(tmp_path, capsys):
    """--model RUN_DIR takes any trained run: the committed full-data bilstm (no attention)."""
    run = REPO / "reports" / "study" / "runs" / "bilstm-s0"
    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s[:80]}\n" for a, s in sethard_records(3)))
    assert predict_cli.main([str(fasta), "--model", str(run), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert (tmp_path / "a" / "predictions.csv").is_file() and not (tmp_path / "a" / "attributions.parquet").exists()
    assert predict_cli.main([str(fasta), "--model", str(run), "--out", str(tmp_path / "b"), "--quiet",
                             "--explain", "attention"]) == 2
    assert "needs a model that pools with attention" in capsys.readouterr().err
    assert predict_cli.main([str(fasta), "--model", str(run), "--out", str(tmp_path / "c"), "--quiet",
                             "--explain", "ig", "--ig-steps", "8", "--view-limit", "0"]) == 0
    att = pd.read_parquet(tmp_path / "c" / "attributions.parquet")
    assert set(att.method) == {"ig"} and att.ig_delta.notna().all() and len(att) == 3


def test_ig_that_does_not_add_up_is_flagged_and_occlusion_is_offered(tmp_path, capsys):
    """The shipped bilstm-att: IG of real proteins of a few hundred residues does not add up (README, 'Integrated
    Gradients on recurrent models'); predict says so, and --explain occlusion gives exact per-residue drops."""
    fasta = tmp_path / "q.fasta"
    records = [(a, s) for a, s in sethard_records(40) if 250 <= len(s) <= 400][:2]
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in records))
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "ig"), "--quiet", "--explain", "ig", "occlusion",
                             "--view-limit", "0"]) == 0
    err = capsys.readouterr().err
    assert "IG does not add up for 2 of 2 proteins" in err and "--explain occlusion" in err
    att = pd.read_parquet(tmp_path / "ig" / "attributions.parquet")
    assert set(att.method) == {"ig", "occlusion"} and att.ig_change[att.method == "ig"].notna().all()
    occlusion = att[att.method == "occlusion"]
    assert all(np.isfinite(np.asarray(s)).sum() == len(s) for s in occlusion.scores)  # every residue seen


# the most frequent human codon of each amino acid: a real protein's coding sequence, as a user might paste it
CODON = {"A": "GCC", "R": "CGG", "N": "AAC", "D": "GAC", "C": "TGC", "Q": "CAG", "E": "GAG", "G": "GGC", "H": "CAC",
         "I": "ATC", "L": "CTG", "K": "AAG", "M": "ATG", "F": "TTC", "P": "CCC", "S": "AGC", "T": "ACC", "W": "TGG",
         "Y": "TAC", "V": "GTG"}


def test_a_nucleotide_record_is_refused_in_one_line_before_any_output(tmp_path, capsys):
    from pslmodels.predict import NUCLEOTIDE_LIKE, nucleotide_share

    (accession, protein), = [(a, s) for a, s in sethard_records(5) if set(s) <= set(CODON)][:1]
    cdna = "".join(CODON[a] for a in protein)
    fasta = tmp_path / "mixed.fasta"
    mrna = cdna.replace("T", "U")
    fasta.write_text(f">{accession}\n{protein}\n>{accession}_cDNA\n{cdna}\n>{accession}_mRNA\n{mrna}\n")
    out = tmp_path / "out"
    assert predict_cli.main([str(fasta), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{fasta}: record 2 ({accession}_cDNA)" in err and "DNA or RNA" in err
    assert not out.exists()
    assert predict_cli.main([str(fasta), "--out", str(out), "--quiet", "--allow-nucleotide-like"]) == 0
    assert len(pd.read_csv(out / "predictions.csv")) == 3
    # no real protein comes near the threshold: the DeepLoc set and setHARD, 14,330 proteins
    from pslmodels.data import read_fasta

    real = max(nucleotide_share(p.sequence) for f in ("deeploc_data.fasta.gz", "setHARD.fasta.gz")
               for p in read_fasta(SHARED / "data" / "deeploc" / f))
    assert real < 0.75 < NUCLEOTIDE_LIKE


def test_a_long_protein_is_flagged_with_the_residues_the_model_never_sees(tmp_path, capsys):
    from pslmodels.data import read_fasta

    long = next(p for p in read_fasta(SHARED / "data" / "deeploc" / "setHARD.fasta.gz") if len(p.sequence) > 1100)
    short = next(p for p in read_fasta(SHARED / "data" / "deeploc" / "setHARD.fasta.gz") if len(p.sequence) < 400)
    fasta = tmp_path / "q.fasta"
    fasta.write_text(f">{long.accession}\n{long.sequence}\n>{short.accession}\n{short.sequence}\n")
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "o"), "--quiet", "--view-limit", "0"]) == 0
    unseen = f"501-{len(long.sequence) - 500}"
    assert f"{long.accession} ({unseen})" in capsys.readouterr().err
    rows = pd.read_csv(tmp_path / "o" / "predictions.csv", keep_default_na=False).set_index("accession")
    assert rows.loc[long.accession, "truncated"] == unseen and rows.loc[long.accession, "seen_residues"] == 1000
    assert rows.loc[short.accession, "truncated"] == ""
    assert rows.loc[short.accession, "seen_residues"] == len(short.sequence)


def test_explain_alone_means_attention_and_none_means_predictions_only(tmp_path):
    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in sethard_records(2)))
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "a"), "--quiet", "--view-limit", "0",
                             "--explain"]) == 0
    assert set(pd.read_parquet(tmp_path / "a" / "attributions.parquet").method) == {"attention"}
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "n"), "--quiet", "--explain", "none"]) == 0
    assert not (tmp_path / "n" / "attributions.parquet").exists() and (tmp_path / "n" / "predictions.csv").is_file()
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "x"), "--quiet", "--explain", "none", "ig"]) == 2


def test_spreadsheet_formulas_in_headers_are_written_safely(tmp_path):
    (accession, sequence), = sethard_records(1)
    fasta = tmp_path / "q.fasta"
    fasta.write_text(f">=HYPERLINK(\"http://x\") {accession}\n{sequence}\n>+cmd|calc {accession}\n{sequence}\n"
                     f">@SUM(A1) x\n{sequence}\n>P1 -5 kinase\n{sequence}\n")
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "o"), "--quiet", "--explain", "none"]) == 0
    csv = pd.read_csv(tmp_path / "o" / "predictions.csv")
    assert all(not str(v).startswith(("=", "+", "@", "-")) for c in ("accession", "header") for v in csv[c])
    assert csv.header[3] == "P1 -5 kinase"  # a minus inside a header is no formula
    raw = pd.read_parquet(tmp_path / "o" / "predictions.parquet")
    assert raw.header[0].startswith("=HYPERLINK")  # the Parquet file keeps the header as read


def test_margin_call_and_class_reliability(tmp_path):
    """The columns that say how far to trust a call: margin (top-1 minus top-2), 'uncertain' under 0.2, and the
    shipped model's test F1 of the predicted class (its metrics.json)."""
    import json

    from pslmodels.predict import UNCERTAIN_MARGIN

    fasta = tmp_path / "q.fasta"
    fasta.write_text("".join(f">{a}\n{s}\n" for a, s in sethard_records(60)))
    assert predict_cli.main([str(fasta), "--out", str(tmp_path / "o"), "--quiet", "--explain", "none"]) == 0
    pred = pd.read_parquet(tmp_path / "o" / "predictions.parquet")
    probs = np.sort(pred[[c for c in pred.columns if c.startswith("p_")]].to_numpy(), axis=1)
    assert np.allclose(pred.margin, probs[:, -1] - probs[:, -2])
    uncertain = pred.margin < UNCERTAIN_MARGIN
    assert (pred.call[uncertain] == "uncertain").all() and (pred.call[~uncertain] == pred.pred_label[~uncertain]).all()
    f1 = json.loads((DEFAULT_MODEL / "metrics.json").read_text())["test"]["f1_per_class"]
    assert np.allclose(pred.class_reliability, [f1[c] for c in pred.pred_label])
