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
