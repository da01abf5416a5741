"""The main job end to end on real data, small: index slice -> train -> diagnose -> attribute -> hit rate."""

import shutil

import duckdb
import pandas as pd

from pslindex.attributions import unsound_ig
from pslmodels import demo


def test_demo_end_to_end(tmp_path, capsys, debian_index):
    index = debian_index
    run_dir = tmp_path / "run"
    args = ["--run-dir", str(run_dir), "--index", str(index), "--epochs", "1", "--max-train", "40",
            "--max-eval", "30", "--test-proteins", "24", "--ig-proteins", "4", "--device", "cpu"]
    assert demo.main(args) == 0
    out = capsys.readouterr().out
    for expected in ("Table 1 (official DeepLoc test partition, n=30)", "Attention diagnostics", "permuted",
                     "Kendall tau, attention vs occlusion, 4 proteins",
                     "IG completeness:", "wrong, vs predicted", "viewer:", "demo finished",
                     "beside its chance control", "margin over the best positional baseline", "n-ramp"):
        assert expected in out
    con = duckdb.connect(str(run_dir / "hitrate" / "hitrates.duckdb"), read_only=True)
    methods = {m for (m,) in con.execute("SELECT DISTINCT method FROM attributions").fetchall()}
    assert methods == {"attention", "shifted", "permuted", "random", "random-logits", "uniform", "ig", "occlusion",
                       "oracle-signal"}
    sound = int((~unsound_ig(pd.read_parquet(run_dir / "attributions.parquet"))).sum()) - 6 * 24 - 4
    # the positive control (SPEC 11.1): one oracle row per demo protein with an annotated sorting signal
    oracle = con.execute("SELECT count(*) FROM attributions WHERE method = 'oracle-signal'").fetchall()[0][0]
    assert 0 < oracle < 24
    assert con.execute("SELECT count(*) FROM attributions").fetchall()[0][0] == 6 * 24 + 4 + sound + oracle
    accession = con.execute("SELECT accession FROM attributions LIMIT 1").fetchall()[0][0]
    con.close()
    if shutil.which("mmseqs"):
        assert "homologs left out" in out
        with duckdb.connect(str(run_dir / "hitrate-homologs-excluded" / "hitrates.duckdb"), read_only=True) as con:
            assert dict(con.execute("SELECT key, value FROM settings").fetchall())["exclude_homologs"] == "True"
    page = (run_dir / "attributions.html").read_text()
    assert f'"acc":"{accession}"' in page
    # a second run reuses the trained model (idempotent) and still completes
    assert demo.main(args) == 0
