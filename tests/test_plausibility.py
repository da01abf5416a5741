"""Plausibility against the real sorting-signal annotations (../shared/data/signals)."""

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, make_attributions
from pslmodels import plausibility
from pslmodels.plausibility import per_protein, protein_metrics, read_signals, rotated, summarize

SIGNALS = SHARED / "data/signals/SortingSignalsSwissprot.csv.gz"


@pytest.fixture(scope="module")
def signals():
    return read_signals(SIGNALS)


def test_read_signals_real_file(signals):
    assert len(signals) == 1874
    row = signals.set_index("accession").loc["Q9BZM5"]  # signal peptide 1-25, GPI anchor at the C terminus
    assert len(row.codes) == len(row.sequence)
    assert (row.codes[:25] == 1).all() and row.codes[25] == 0 and row.codes[-1] == 9


def test_measures_hand_checked():
    seq = "A" * 60
    mask = np.zeros(60, bool)
    mask[10:20] = True
    on = mask.astype(float)             # exactly the signal
    m = protein_metrics(seq, on, mask)
    assert m["auprc"] == pytest.approx(1.0) and m["iou"] == pytest.approx(1.0)
    assert m["pointing"] == 1.0 and m["overlap"] == 1.0 and m["peptides"] == 1
    assert m["prevalence"] == pytest.approx(10 / 60)
    part = np.zeros(60)
    part[12:17] = 1.0                   # half the signal
    m = protein_metrics(seq, part, mask)
    # AP: recall 0.5 at precision 1, then the ties at 0 reach recall 1 at precision 10/60
    assert m["auprc"] == pytest.approx(0.5 * 1 + 0.5 * 10 / 60)
    # t = 5/60 + 2 sd = 0.636: windows starting 11, 12, 13 (means 0.8, 1, 0.8) -> residues 11..17, IoU 7/10
    assert m["iou"] == pytest.approx(7 / 10) and m["pointing"] == 1.0
    off = np.zeros(60)
    off[40:45] = 1.0                    # peaked elsewhere
    m = protein_metrics(seq, off, mask)
    assert m["pointing"] == 0.0 and m["overlap"] == 0.0 and m["iou"] == 0.0
    assert m["auprc"] < 0.3
    assert protein_metrics(seq, on, np.zeros(60, bool)) is None  # no signal: nothing to score


def test_unseen_residues_are_left_out():
    seq = "A" * 40
    mask = np.zeros(40, bool)
    mask[:5] = True
    scores = np.linspace(1, 0, 40)
    scores[:5] = np.nan                 # the signal was never seen
    assert protein_metrics(seq, scores, mask) is None


def test_rotated_keeps_values_and_nans():
    rng = np.random.default_rng(0)
    scores = np.arange(10, dtype=float)
    scores[[2, 7]] = np.nan
    out = rotated(scores, rng)
    assert np.isnan(out[[2, 7]]).all()
    assert sorted(out[~np.isnan(out)]) == sorted(scores[~np.isnan(scores)])
    assert not np.array_equal(out[~np.isnan(out)], scores[~np.isnan(scores)])


def test_signal_shaped_scores_beat_both_baselines(signals):
    rows = signals[signals.codes.map(lambda c: (c == 1).any() and len(c) < 600)].head(40)
    data = [(r.accession, "Extracellular", r.sequence) for r in rows.itertuples()]
    codes = list(rows.codes)
    frame = make_attributions(data, "attention", lambda i, seq: (codes[i] == 1) + np.arange(len(seq)) / 1e5)
    per = per_protein(frame, signals, seed=0)
    table = summarize(per, n_boot=200).set_index(["method", "signal"])
    att, rot, rnd = (table.loc[(m, "SP")] for m in ("attention", "attention rotated", "random scores"))
    assert att.n == len(rows)
    assert att.auprc > 0.95 and att.pointing == 1.0
    assert rot.auprc < 0.6 and rnd.auprc < 0.4
    assert att.auprc_lo <= att.auprc <= att.auprc_hi
    # a different sequence under the same accession is not scored
    seq0 = frame.loc[0, "sequence"]
    frame.loc[0, "sequence"] = ("W" if seq0[0] != "W" else "M") + seq0[1:]
    assert per_protein(frame, signals).accession.nunique() == len(rows) - 1


def test_cli(tmp_path, signals, capsys):
    row = signals.set_index("accession").loc["Q9BZM5"]
    frame = make_attributions([("Q9BZM5", "Cell.membrane", row.sequence)], "attention",
                              lambda i, seq: (row.codes == 1).astype(float))
    path = tmp_path / "attributions.parquet"
    frame.to_parquet(path)
    assert plausibility.main([str(path), "--signals", str(SIGNALS)]) == 0
    out = capsys.readouterr().out
    assert "1 proteins with annotated sorting signals" in out
    summary = pd.read_csv(tmp_path / "plausibility.csv")
    assert set(summary.signal) == {"any", "SP", "GPI"}
    assert (tmp_path / "plausibility_proteins.parquet").is_file()


@pytest.mark.parametrize("case", ["no_signal_file", "missing_column", "no_overlap", "bad_annotation"])
def test_bad_inputs(tmp_path, signals, capsys, case):
    row = signals.iloc[0]
    frame = make_attributions([(row.accession, "Mitochondrion", row.sequence)], "attention",
                              lambda i, seq: np.ones(len(seq)))
    path = tmp_path / "attributions.parquet"
    signal_file = SIGNALS
    if case == "no_signal_file":
        signal_file = tmp_path / "missing.csv.gz"
    elif case == "missing_column":
        frame = frame.drop(columns=["scores"])
    elif case == "no_overlap":
        frame["accession"] = "NOTREAL1"
    elif case == "bad_annotation":
        signal_file = tmp_path / "signals.csv"
        signal_file.write_text(f"ACC,AnnotEncoded,Kingdom,Sequence,Types\n{row.accession},000,Metazoa,{row.sequence},MT\n")
    frame.to_parquet(path)
    assert plausibility.main([str(path), "--signals", str(signal_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "plausibility.csv").exists()
