"""``make reproduce`` = the Snakemake workflow (workflow/Snakefile, config/config.yaml), and its stages.

The dry run reads the real configuration; the tiny run trains one model for one epoch on a few dozen
real DeepLoc proteins and runs every rule (train, diagnose, attribute, both hit-rate protocols,
plausibility, report) through Snakemake itself.
"""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO
from pslmodels import report, stages
from pslmodels.runs import RunDir

SNAKEMAKE = shutil.which("snakemake", path=os.path.dirname(sys.executable)) or shutil.which("snakemake")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
pytestmark = pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake not installed (make setup installs it)")


def snakemake(*args, cwd):
    return subprocess.run([SNAKEMAKE, "-s", str(REPO / "workflow" / "Snakefile"), *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=900)


def test_dry_run_of_the_real_config_lists_every_model(tmp_path):
    out = snakemake("-n", "--printshellcmds", "all", cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    dry = out.stdout + out.stderr
    for rule in ("train", "attribute", "hitrate", "plausibility", "report"):
        assert rule in dry
    # the real config: ten models of seed 0, then seeds 1 and 2 of the attention models and mlp-preset
    for name in ("bilstm-s0", "bilstm-att-s2", "bilstm-uniform-s0", "cnn35-att-s0", "cnn3-5-7-11-att-s1",
                 "mlp-preset-s0"):
        assert f"runs/study/{name}/" in dry or f"reports/study/runs/{name}" in dry, name


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, debian_index):
    root = tmp_path_factory.mktemp("workflow")
    config = {"runs": str(root / "runs"), "kept": str(root / "kept"), "report": str(root / "report" / "study.md"),
              "index": str(debian_index), "epochs": 1, "max_train": 30, "max_eval": 20,
              "models": ["bilstm", "bilstm-att", "cnn3-5-7-11-att"],  # of Table 2: plain, recurrent and CNN attention
              "seeds": {"default": [0], "bilstm-att": [0], "cnn3-5-7-11-att": [0]}, "test_proteins": 20,
              "ig_proteins": 3, "ig_steps": 16, "occlusion_proteins": 3, "faithfulness_proteins": 3,
              "signal_proteins": 3, "prior_proteins": 10,
              "controls": 2,
              "exclude_homologs": False, "device": "cpu"}
    (root / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    out = snakemake("--configfile", str(root / "config.yaml"), "--cores", "2", cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    return root, out


def test_tiny_run_goes_through_every_rule(tiny):
    root, out = tiny
    for rule in ("train", "diagnose", "attribute", "hitrate", "plausibility", "faithfulness", "report"):
        assert f"rule {rule}:" in out.stderr or f"localrule {rule}:" in out.stderr, rule
    run = root / "runs" / "bilstm-att-s0"
    for name in ("metrics.json", "diagnostics.csv", "attributions.parquet", "kendall_tau.parquet",
                 "hitrate/hitrates.parquet", "hitrate-paper/hitrates.parquet", "plausibility_proteins.parquet"):
        assert (run / name).is_file(), name
    kept = root / "kept" / "bilstm-att-s0"
    assert sorted(p.name for p in kept.iterdir()) == sorted(
        [n for n in stages.KEPT_FILES] + ["hitrate", "hitrate-paper", "hitrate-position-free",
                                          "hitrate-position-free-aa-permuted"])
    # position-free (--beta none, tests/test_hitrate.py checks its values): the same peptides, matched the same
    spec, free = (pd.read_parquet(run / d / "hitrates.parquet").set_index("row_id")
                  for d in ("hitrate", "hitrate-position-free"))
    assert spec.n_peptides.equals(free.n_peptides) and spec.hitrate_true.notna().equals(free.hitrate_true.notna())
    assert not (kept / "best.pt").exists() and not (kept / "attributions.parquet").exists()
    methods = set(pd.read_parquet(run / "attributions.parquet").method)
    assert methods == {*stages.ATTENTION_METHODS, "ig", "occlusion"}
    completeness = pd.read_parquet(kept / "ig_completeness.parquet")
    assert len(completeness) == 3 and completeness.ig_delta.notna().all()
    # a model without attention: Integrated Gradients and occlusion only (the paper's Table 2), no diagnostics
    plain = root / "runs" / "bilstm-s0"
    assert set(pd.read_parquet(plain / "attributions.parquet").method) == {"ig", "occlusion"}
    assert not (plain / "diagnostics.csv").exists() and (plain / "hitrate-paper" / "hitrates.parquet").is_file()
    text = (root / "report" / "study.md").read_text()
    assert "| bilstm-att | 1 |" in text and "| bilstm | 1 |" in text and "## Tables 2-3" in text
    table2 = text.split("**Table 2, Integrated Gradients.**")[1].split("**Table 3")[0]
    for name in ("LSTM", "LSTM-Att", "big CNN-LSTM-Att"):  # every Table 2 model that ran
        assert f"| {name} | ig |" in table2, name
    table3 = text.split("**Table 3, attention and its replacements.**")[1].split("Where they differ")[0]
    assert "| LSTM-Att | random | 0.384 \\|" in table3                     # the published random row
    # a second run finds everything done
    again = snakemake("--configfile", str(root / "config.yaml"), "-n", "--quiet", cwd=root)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_report_rebuilt_from_kept_runs_is_byte_identical(tiny, tmp_path):
    root, _ = tiny
    again = tmp_path / "report" / "study.md"
    assert report.main([str(root / "kept"), "--out", str(again)]) == 0
    assert again.read_bytes() == (root / "report" / "study.md").read_bytes()
    for png in (root / "report" / "study_figures").glob("*.png"):
        assert (tmp_path / "report" / "study_figures" / png.name).read_bytes() == png.read_bytes()


def test_stage_is_idempotent_and_recomputes_on_other_options(tiny):
    root, _ = tiny
    run = RunDir(root / "runs" / "bilstm-att-s0")
    options = stages.DiagnoseOptions(proteins=20, seeds=3, seed=0, device="cpu")
    before = run.file("diagnostics.csv").stat().st_mtime_ns
    stages.diagnose_stage(run, options)
    assert run.file("diagnostics.csv").stat().st_mtime_ns == before
    stages.diagnose_stage(run, stages.DiagnoseOptions(proteins=10, seeds=1, seed=0, device="cpu"))
    table = pd.read_csv(run.file("diagnostics.csv"))
    assert run.file("diagnostics.csv").stat().st_mtime_ns != before and set(table.seed.dropna()) == {0}


def test_attention_only_attributions_of_a_run(tiny, tmp_path):
    """--ig-proteins -1 --occlusion-proteins -1 (the CPU analysis of later seeds): the attention methods alone,
    and no IG completeness file that would claim IG was checked."""
    root, _ = tiny
    out = tmp_path / "attention-only"
    assert stages.main(["attribute", str(root / "runs" / "bilstm-att-s0"), "--out", str(out), "--proteins", "6",
                        "--ig-proteins", "-1", "--occlusion-proteins", "-1", "--device", "cpu"]) == 0
    attributions = pd.read_parquet(out / "attributions.parquet")
    assert set(attributions.method) == set(stages.ATTENTION_METHODS) and attributions.accession.nunique() == 6
    assert not (out / "ig_completeness.parquet").exists() and (out / "kendall_tau.parquet").exists()


@pytest.mark.parametrize("argv, message", [
    (["diagnose", "RUN", "--seeds", "0"], "--seeds 0: must be >= 1"),
    (["attribute", "RUN", "--ig-steps", "0"], "--ig-steps 0: must be >= 1"),
    (["hitrate", "RUN", "--controls", "-1"], "--controls -1: must be >= 0"),
    (["attribute", "RUN", "--ig-proteins", "-2"], "--ig-proteins -2: must be >= -1"),
    (["diagnose", "NOWHERE"], "not a finished training run"),
    (["attribute", "RUN", "--device", "tpu"], "invalid choice"),
    (["diagnose", "RUN", "--out", "FILE"], "exists and is not a folder"),
])
def test_stage_command_refuses_bad_options_in_one_line(tiny, capsys, argv, message):
    root, _ = tiny
    (root / "a-file").write_text("mine")
    names = {"RUN": str(root / "runs" / "bilstm-att-s0"), "NOWHERE": str(root / "nowhere"),
             "FILE": str(root / "a-file")}
    argv = [names.get(a, a) for a in argv]
    try:
        status = stages.main(argv)
    except SystemExit as exc:  # argparse's own errors (one line, by the house parser)
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (root / "a-file").read_text() == "mine"


def test_a_fresh_clone_restores_training_from_kept(tiny):
    root, _ = tiny
    # a fresh clone: the kept folder only; training is restored from it, not run again
    shutil.rmtree(root / "runs")
    out = snakemake("--configfile", str(root / "config.yaml"), "--cores", "2",
                    str(root / "runs" / "bilstm-att-s0" / "metrics.json"), cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    run = RunDir(root / "runs" / "bilstm-att-s0")
    assert run.trained and not (run.path / "best.pt").exists()  # restored from kept, not trained
    assert (run.path / "model.pt").read_bytes() == (root / "kept" / "bilstm-att-s0" / "model.pt").read_bytes()
