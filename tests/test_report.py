"""The report's own computations on hand-made runs (the full report is rebuilt in test_workflow.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from pslmodels.report import accuracy_differences


def _run(tmp_path, name, truth, pred):
    folder = tmp_path / name
    folder.mkdir()
    pd.DataFrame({"accession": [f"P{i}" for i in range(len(truth))], "true_label": truth,
                  "pred_label": pred}).to_parquet(folder / "test_predictions.parquet", index=False)
    return str(folder)


def test_accuracy_differences_pairs_proteins_and_averages_seeds_first(tmp_path):
    truth = ["Nucleus", "Cytoplasm", "Nucleus", "Peroxisome"]
    runs = pd.DataFrame([
        {"label": "bilstm-att", "seed": 0,
         "run_dir": _run(tmp_path, "ref", truth, ["Nucleus", "Cytoplasm", "Nucleus", "Nucleus"])},
        {"label": "bilstm", "seed": 0, "run_dir": _run(tmp_path, "s0", truth, truth)},
        {"label": "bilstm", "seed": 1, "run_dir": _run(tmp_path, "s1", truth, ["Nucleus"] * 4)},
    ])
    table = accuracy_differences(runs).set_index("model")
    # bilstm per protein over its two seeds: 1, 0.5, 1, 0.5 -> 0.75; bilstm-att: 1, 1, 1, 0 -> 0.75
    assert table.loc["bilstm", "seeds"] == 2 and table.loc["bilstm", "proteins"] == 4
    assert table.loc["bilstm", "accuracy"] == "0.750" and table.loc["bilstm", "bilstm-att"] == "0.750"
    diff, interval = table.loc["bilstm", "difference [95% CI]"].split(" ", 1)
    assert diff == "+0.000"
    lo, hi = (float(x) for x in interval.strip("[]").split(", "))
    assert lo < 0 < hi  # per-protein differences 0, -0.5, 0, +0.5: the interval spans both signs


def test_accuracy_differences_without_the_reference_is_empty(tmp_path):
    runs = pd.DataFrame([{"label": "bilstm", "seed": 0, "run_dir": _run(tmp_path, "s0", ["Nucleus"], ["Nucleus"])}])
    assert accuracy_differences(runs).empty


@pytest.mark.parametrize("content", [b"", b"not parquet"])
def test_accuracy_differences_names_a_damaged_file(tmp_path, content):
    from pslindex.errors import PslError

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "test_predictions.parquet").write_bytes(content)
    runs = pd.DataFrame([{"label": "bilstm-att", "seed": 0, "run_dir": str(bad)}])
    with pytest.raises(PslError, match="test_predictions.parquet: damaged"):
        accuracy_differences(runs)


def _hits(model, method, diffs, hitrate=0.6):
    """Per-protein hit rates of proteins all classified correctly, each ``diff`` above its rotated control."""
    n = len(diffs)
    return pd.DataFrame({
        "model": model, "method": method, "seed": 0, "accession": [f"P{i}" for i in range(n)],
        "true_label": "Nucleus", "pred_label": "Nucleus", "n_peptides": 1,
        "hitrate_true": hitrate, "hitrate_pred": hitrate,
        "control_hitrate_true": [hitrate - d for d in diffs], "control_hitrate_pred": [hitrate - d for d in diffs]})


def test_verdicts_table_states_each_claim_beside_its_control():
    from pslmodels.report import verdicts_table

    hits = pd.concat([_hits("bilstm-att", "attention", [0.1] * 12),          # always above its rotations
                      _hits("bilstm-att", "ig", [0.2, -0.2] * 6),            # as often below: no difference
                      _hits("cnn35-att", "attention", [-0.1] * 3)])          # three proteins: no verdict
    paper = _hits("bilstm-att", "attention", [-0.05] * 20)
    margins = pd.DataFrame([
        {"model": "bilstm-att", "method": "attention", "signal": "any", "metric": "auprc", "n": 40, "method_mean": 0.6,
         "best_baseline": "n-ramp", "baseline_mean": 0.75, "margin": -0.15, "margin_lo": -0.19, "margin_hi": -0.11,
         "beats_position": False},
        {"model": "bilstm-att", "method": "attention", "signal": "SP", "metric": "auprc", "n": 40, "method_mean": 0.9,
         "best_baseline": "n-ramp", "baseline_mean": 0.1, "margin": 0.8, "margin_lo": 0.7, "margin_hi": 0.9,
         "beats_position": True}])  # per signal type: not a verdict of the summary
    free = _hits("bilstm-att", "attention", [0.0] * 15)  # position-free: no better than its rotations
    aa = _hits("bilstm-att", "attention", [0.05] * 14)  # above its aa-permuted copies (SPEC 11.4)
    table = verdicts_table(hits, pd.DataFrame(), paper, margins, free_hits=free, aa_hits=aa
                           ).set_index(["model", "method"])
    spec, homologs, free, aa, protocol, signal = table.columns
    assert "aa-permuted" in aa
    att = table.loc[("bilstm-att", "attention")]
    assert att[spec] == "+0.100 [+0.100, +0.100] above (n=12; 12:0 proteins, sign p=0.00049)"
    assert att[homologs] == "-"  # not computed
    assert att[free] == "+0.000 [+0.000, +0.000] no difference (n=15; 0:0 proteins; detects >= 0.000)"
    assert att[aa].startswith("+0.050 [+0.050, +0.050] above (n=14; 14:0 proteins")
    assert att[protocol] == "-0.050 [-0.050, -0.050] below (n=20; 0:20 proteins, sign p=1.9e-06)"
    assert att[signal] == "-0.150 [-0.190, -0.110] loses vs n-ramp (n=40)"
    ig = table.loc[("bilstm-att", "ig")]
    lo, hi = (float(x) for x in ig[spec].split("[")[1].split("]")[0].split(", "))
    assert lo < 0 < hi and "no difference (n=12; q=1; 6:6 proteins, sign p=1; detects >= " in ig[spec]
    assert ig[signal] == "-"
    assert table.loc[("cnn35-att", "attention"), spec] == "-0.100, too few proteins (n=3)"
    assert list(table.index.get_level_values(0)) == ["bilstm-att", "bilstm-att", "cnn35-att"]  # the study's order
    # a method without peptides (uniform weights under the authors' protocol): hit rate 0 = its control, not a
    # "no difference" but nothing to judge
    flat = _hits("bilstm-uniform", "attention", [0.0] * 30, hitrate=0.0).assign(n_peptides=0)
    table = verdicts_table(pd.DataFrame(), pd.DataFrame(), flat, pd.DataFrame()).set_index(["model", "method"])
    assert table.loc[("bilstm-uniform", "attention"), protocol] == "no peptides (n=30)"


def test_verdicts_table_counts_the_verdict_of_each_seed():
    from pslmodels.report import seed_agreement, verdicts_table

    hits = pd.concat([_hits("bilstm-att", "attention", [0.1] * 12).assign(seed=0),
                      _hits("bilstm-att", "attention", [0.1] * 12).assign(seed=1),
                      _hits("bilstm-att", "attention", [0.2, -0.2] * 6).assign(seed=2),   # this seed: no difference
                      _hits("cnn35-att", "attention", [0.1] * 12)])                         # one seed: no count
    margin = {"model": "bilstm-att", "method": "attention", "signal": "any", "metric": "auprc", "n": 60,
              "method_mean": 0.6, "best_baseline": "n-ramp", "baseline_mean": 0.75, "margin": -0.15,
              "margin_lo": -0.19, "margin_hi": -0.11, "beats_position": False}
    per_seed = pd.DataFrame([{**margin, "seed": 0, "n": 20}, {**margin, "seed": 1, "n": 20},
                             {**margin, "seed": 2, "n": 5}])  # too few proteins in seed 2 for a verdict
    table = verdicts_table(hits, pd.DataFrame(), pd.DataFrame(), pd.DataFrame([margin]),
                           seed_margins=per_seed).set_index(["model", "method"])
    spec, signal = table.columns[0], table.columns[-1]
    att = table.loc[("bilstm-att", "attention")]
    assert att[spec].startswith("+0.067 [")
    assert att[spec].endswith("above (n=36; seeds: 2 above, 1 no difference; q=0.0032; 30:6 proteins, sign p=7e-05)")
    assert att[signal] == "-0.150 [-0.190, -0.110] loses vs n-ramp (n=60; seeds: 2 loses, 1 too few)"
    assert table.loc[("cnn35-att", "attention"), spec] == \
        "+0.100 [+0.100, +0.100] above (n=12; 12:0 proteins, sign p=0.00049)"
    assert seed_agreement(["below", "above", "below", "above", "no difference"]) == \
        "2 above, 2 below, 1 no difference"


def test_hitrate_table_leaves_out_and_names_methods_without_a_hit_rate():
    from pslmodels.report import empty_methods, empty_methods_text, hitrate_table

    flat = _hits("bilstm-att", "random", [0.0] * 4).assign(hitrate_true=float("nan"), hitrate_pred=float("nan"),
                                                           n_peptides=0)
    hits = pd.concat([_hits("bilstm-att", "attention", [0.1] * 4), flat])
    assert empty_methods(hits) == [("bilstm-att", "random")]
    assert set(hitrate_table(hits).method) == {"attention", "random"}
    assert set(hitrate_table(hits, drop_empty=True).method) == {"attention"}
    assert "bilstm-att random." in empty_methods_text(hits)
    assert empty_methods_text(hits[hits.method == "attention"]) == ""


def test_published_values_are_read_from_the_data_directory_with_our_names(tmp_path):
    """Every cell of ../shared/data/paper/published_values.tsv, mapped to our model, method and group names."""
    from pslindex.errors import PslError
    from pslmodels.paper import PUBLISHED, published, published_hitrate, published_table1

    cells = published()
    assert len(cells) == len(PUBLISHED.read_text().splitlines()) - 1
    assert cells.model.notna().all() and cells.method.notna().all()
    assert published_table1("cnn3-5-7-11-att") == (0.670, 0.560) and published_table1("bilstm") is None
    assert published_hitrate("bilstm", "ig", "wrong, vs predicted") == 0.083          # Table 2, LSTM
    assert published_hitrate("cnn3-5-7-11-att", "permuted", "wrong, vs true") == 0.347  # Table 3
    assert published_hitrate("cnn35-att", "attention", "correct") is None             # not published
    bad = tmp_path / "published_values.tsv"
    bad.write_text(PUBLISHED.read_text().replace("LSTM-Att\t", "Transformer\t", 1))
    with pytest.raises(PslError, match="line 2: unknown model"):
        published(bad)


def test_paper_layout_puts_the_published_value_and_our_difference_in_each_cell():
    from pslmodels.report import paper_layout_table

    rows = pd.DataFrame({"model": "bilstm-att", "method": "attention", "accession": [f"P{i}" for i in range(12)],
                         "true_label": ["Nucleus"] * 12,
                         "pred_label": ["Nucleus"] * 12, "hitrate_true": [0.5] * 12, "hitrate_pred": [0.5] * 12})
    table = paper_layout_table(rows, rows, [("bilstm-att", "attention"), ("cnn35-att", "attention")])
    assert table.loc[0, "correct"].startswith("0.559 \\| 0.500 (-0.059) \\| 0.500")
    assert table.loc[0, "model"] == "LSTM-Att"


def test_planted_section_reads_the_kept_benchmark():
    """The planted-motif table (SPEC 11.2) from the committed runs of `make planted`: its accuracies equal
    a count over the kept predictions, and each explanation has pointing, deletion and a hit-rate cell."""
    import json
    from pathlib import Path

    from conftest import REPO
    from pslmodels.planted import MOTIFS_FILE
    from pslmodels.report import planted_section, planted_tables

    root = REPO / "reports" / "study" / "planted"
    planted = json.loads((root / MOTIFS_FILE).read_text())["planted_test"]
    models, methods = planted_tables(root)
    assert set(models.model) == {"bilstm-att", "cnn3-5-7-11-att"}
    for row in models.to_dict("records"):
        pred = pd.read_parquet(Path(root, f"{row['model']}-s0", "test_predictions.parquet"))
        seen = pred[pred.accession.isin({a for a, w in planted.items() if w["seen"]})]
        assert row["planted, motif seen"] == f"{(seen.true_label == seen.pred_label).mean():.3f} (n={len(seen)})"
    for model in models.model:
        rows = methods[methods.model == model].set_index("method")
        for method in ("attention", "occlusion"):
            assert rows.loc[method, "pointing"] != "-" and "matters" not in rows.loc[method, "pointing"]
            assert rows.loc[method, "deletion AOPC minus best baseline"].endswith(("yes", "no", "undecided"))
        assert rows.loc["random scores", "pointing"] != "-"
    text = "\n".join(planted_section(root))
    assert "The planted motif (SPEC 11.2)" in text and "recover" in text
