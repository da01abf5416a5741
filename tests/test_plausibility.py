"""Plausibility against the real sorting-signal annotations (../shared/data/signals)."""

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, make_attributions
from pslindex.extract import rotate_scores as rotated
from pslmodels import plausibility
from pslmodels.plausibility import per_protein, protein_metrics, summarize
from pslmodels.signals import read_signals

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


def test_pointing_with_tied_windows_counts_the_share_that_overlaps():
    seq = "A" * 20
    mask = np.zeros(20, bool)
    mask[:3] = True
    flat = np.ones(20)                      # 16 tied windows; those starting at 0, 1, 2 overlap the signal
    assert protein_metrics(seq, flat, mask)["pointing"] == pytest.approx(3 / 16)


def test_ramps_and_prior_on_hand_made_cases():
    from pslmodels.plausibility import position_prior, prior_scores, ramp

    scores = np.array([0.3, np.nan, 0.1, 0.2])
    assert ramp(scores, "n")[[0, 2, 3]].tolist() == [0.0, -2.0, -3.0] and np.isnan(ramp(scores, "n")[1])
    assert ramp(scores, "c")[[0, 2, 3]].tolist() == [0.0, 2.0, 3.0]
    # two proteins: length 4 (N part = residues 0, 1; C part = 2 -> C-pos 1, 3 -> C-pos 0) and length 3
    a = np.array([1.0, 1.0, 1.0, 1.0])       # normalised: 0.25 each
    b = np.array([2.0, 0.0, 2.0])            # normalised: 0.5, 0, 0.5; N part = residues 0, 1
    n_prior, c_prior = position_prior([a, b], length=5)
    assert n_prior[:2].tolist() == [pytest.approx(0.375), pytest.approx(0.125)] and np.isnan(n_prior[2])
    assert c_prior[:2].tolist() == [pytest.approx(0.375), pytest.approx(0.25)]
    laid = prior_scores((n_prior, c_prior), np.zeros(4))
    assert laid.tolist() == pytest.approx([0.375, 0.125, 0.25, 0.375])


def test_a_method_that_is_the_ramp_has_margin_zero(signals):
    from pslmodels.plausibility import positional_margins

    rows = signals[signals.codes.map(lambda c: (c == 1).any() and len(c) < 600)].head(30)
    data = [(r.accession, "Extracellular", r.sequence) for r in rows.itertuples()]
    ramp_like = make_attributions(data, "attention", lambda i, seq: -np.arange(len(seq), dtype=float))
    margins = positional_margins(per_protein(ramp_like, signals, seed=0), n_boot=200).set_index(["signal", "metric"])
    sp = margins.loc[("SP", "auprc")]
    assert sp.best_baseline == "n-ramp" and sp.margin == 0 and not sp.beats_position
    # signal-shaped scores beat the ramps for TM-free SP? They tie on SP at the N terminus: margin >= 0
    shaped = make_attributions(data, "attention", lambda i, seq: (list(rows.codes)[i] == 1) - np.arange(len(seq)) / 1e5)
    m = positional_margins(per_protein(shaped, signals, seed=0), n_boot=200).set_index(["signal", "metric"])
    assert m.loc[("SP", "auprc")].margin >= 0


def test_oracle_scores_exactly_the_annotated_residues(signals, tmp_path, debian_index):
    """SPEC 11.1: 1 on signal residues, 0 elsewhere, NaN where unseen, the model's own prediction; no row for a
    protein without an annotation or with another sequence; and its peptides go through the hit rate."""
    from pslindex.attributions import write_attributions
    from pslindex.hitrate import HitRateOptions, hitrate_folder
    from pslmodels.data import MAX_LEN, to_full_coordinates, truncate
    from pslmodels.signals import ORACLE, oracle_rows

    long = signals[signals.sequence.str.len() > MAX_LEN + 50].head(1)
    short = signals[signals.codes.map(lambda c: (c == 1).any() and len(c) < 400)].head(3)
    rows = pd.concat([long, short])
    data = [(r.accession, "Extracellular", r.sequence) for r in rows.itertuples()]
    data.append(("P00000", "Nucleus", "MKVLAAGIVLLLSAAQA"))  # no annotation
    seen = lambda i, seq: to_full_coordinates(np.ones(len(truncate(seq)[0])), len(seq))  # noqa: E731
    attention = make_attributions(data, "attention", seen, pred_for=lambda i, label: "Cytoplasm" if i == 1 else label)
    uniform = make_attributions(data, "uniform", seen, pred_for=lambda i, label: "Nucleus")
    frame = pd.concat([uniform, attention], ignore_index=True)
    frame.loc[frame.accession == short.accession.iloc[2], "sequence"] = "M" * len(short.sequence.iloc[2])
    oracle = oracle_rows(frame, signals).set_index("accession")
    assert set(oracle.index) == set(rows.accession[:3]) and set(oracle.method) == {ORACLE}
    for r in rows.head(3).itertuples():
        scores = np.asarray(oracle.loc[r.accession, "scores"], dtype=np.float64)
        kept = truncate(r.sequence)[1]
        assert np.isnan(np.delete(scores, kept)).all() and len(np.delete(scores, kept)) == len(r.sequence) - len(kept)
        assert (scores[kept] == (r.codes[kept] != 0)).all()
    assert oracle.loc[rows.accession.iloc[1], "pred_label"] == "Cytoplasm"  # attention's prediction, not uniform's
    nothing = oracle_rows(frame[frame.accession == "P00000"], signals)  # no annotated protein: no rows, same columns
    assert nothing.empty and list(nothing.columns) == list(frame.columns)
    path = write_attributions(attention, tmp_path / "attributions.parquet")
    hitrate_folder(path, debian_index, tmp_path / "hitrate", HitRateOptions(controls=2),
                   add_rows=lambda f: oracle_rows(f, signals))
    hits = pd.read_parquet(tmp_path / "hitrate" / "hitrates.parquet")
    # SPEC 6 takes residues above mean + 2 sd: a 0/1 score has peptides only where under 20 % of it is signal
    share = {r.accession: (r.codes[truncate(r.sequence)[1]] != 0).mean() for r in rows.itertuples()}
    found = hits[hits.method == ORACLE].set_index("accession").n_peptides > 0
    assert len(found) == 4 and found.to_dict() == {a: bool(v < 0.2) for a, v in share.items()}
    assert found.sum() >= 2
