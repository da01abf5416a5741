"""``make reproduce`` in miniature: real tiny trainings, the per-run analyses and the report rebuilt from them."""

import os

import pytest

from build_index import __main__ as build_cli
from conftest import DEBIAN_FIXTURE
from pslmodels import report, reproduce


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    index = root / "index"
    assert build_cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(index), "--quiet"]) == 0
    args = ["--root", str(root / "runs"), "--report", str(root / "report" / "study.md"), "--index", str(index),
            "--models", "bilstm,bilstm-att,mlp-preset", "--seeds", "0,1", "--epochs", "1", "--max-train", "30",
            "--max-eval", "20", "--test-proteins", "20", "--ig-proteins", "3", "--ig-steps", "8",
            "--signal-proteins", "6", "--device", "cpu"]
    assert reproduce.main(args) == 0
    return root, args


def test_every_run_and_analysis(study):
    root, _ = study
    for seed in (0, 1):
        for model in ("bilstm", "bilstm-att", "mlp-preset"):
            assert (root / "runs" / f"{model}-s{seed}" / "metrics.json").is_file()
        att = root / "runs" / f"bilstm-att-s{seed}"
        for name in ("diagnostics.csv", "attributions.parquet", "kendall_tau.parquet", "analysis.json",
                     "hitrate/hitrates.duckdb", "plausibility_proteins.parquet"):
            assert (att / name).is_file(), name
        assert not (root / "runs" / f"bilstm-s{seed}" / "attributions.parquet").exists()  # no attention


def test_report_tables_and_figures(study):
    root, _ = study
    text = (root / "report" / "study.md").read_text()
    for heading in ("## Table 1", "## Attention diagnostics", "## Attention vs Integrated Gradients",
                    "## Tables 2-3", "### Attention against its random-position control, paired", "## Plausibility",
                    "## Runs"):
        assert heading in text
    table1 = text.split("## Table 1")[1].split("##")[0]
    assert "| bilstm-att | 2 |" in table1 and "| mlp-preset | 2 |" in table1 and "0.673 / 0.568" in table1
    diag = text.split("## Attention diagnostics")[1].split("##")[0]
    for mode in ("trained", "uniform", "permuted", "random"):
        assert f"| bilstm-att | {mode} | 2 |" in diag
    assert "| bilstm-att | shifted | correct |" in text
    paired = text.split("### Attention against")[1].split("##")[0]
    assert "| bilstm-att | all |" in paired
    assert "| bilstm-att | attention rotated | any |" in text and "| bilstm-att | random scores | any |" in text
    figures = root / "report" / "study_figures"
    for name in ("per_class_f1.png", "hitrates.png", "plausibility.png"):
        assert (figures / name).stat().st_size > 5000
    # rebuilt from the run directories alone, with a further root labelled by its folder name
    extra = root / "extra"
    extra.mkdir()
    os.symlink(root / "runs" / "bilstm-att-s0", extra / "bilstm-att-s0")
    out = root / "report2" / "study.md"
    assert report.main([str(root / "runs"), str(extra), "--out", str(out)]) == 0
    assert "| bilstm-att (extra) | 1 |" in out.read_text()


def test_rerun_is_idempotent(study):
    root, args = study
    best = root / "runs" / "bilstm-att-s0" / "best.pt"
    attributions = root / "runs" / "bilstm-att-s0" / "attributions.parquet"
    before = best.stat().st_mtime_ns, attributions.stat().st_mtime_ns
    assert reproduce.main(args) == 0
    assert (best.stat().st_mtime_ns, attributions.stat().st_mtime_ns) == before


@pytest.mark.parametrize("argv, message", [
    (["--models", "bilstm,gru"], "unknown model(s) gru"),
    (["--models", "mlp-preset"], "needs bilstm-att"),
    (["--seeds", "a,b"], "comma-separated integers"),
])
def test_bad_arguments(tmp_path, capsys, argv, message):
    assert reproduce.main(["--root", str(tmp_path / "r"), "--index", str(tmp_path / "none"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_index(tmp_path, capsys):
    assert reproduce.main(["--root", str(tmp_path / "r"), "--index", str(tmp_path / "none")]) == 2
    assert "make index" in capsys.readouterr().err
    assert report.main([str(tmp_path / "empty")]) == 2
