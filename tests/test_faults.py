"""The fault contract: a command never deletes what it did not write, and a kill leaves a usable state.

Real commands on the small fixtures: hit rates into folders that are not hit-rate results,
concurrent writers of one output, index builds killed with SIGKILL / SIGINT at random moments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from build_index import __main__ as build_cli
from conftest import DEBIAN_FIXTURE, REPO, SHARED, SPROT_FIXTURE, make_attributions, read_deeploc, snapshot
from pslindex import hitrate
from pslindex.files import OUTPUT_MARKER, output_folder
from pslindex.matcher import KmerIndex
from pslindex.store import open_index

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "index"
    assert build_cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def attributions(tmp_path_factory):
    rows = read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", limit=12, test_only=True)
    rng = np.random.default_rng(0)
    df = make_attributions(rows, "attention", lambda i, s: rng.random(len(s)))
    path = tmp_path_factory.mktemp("att") / "attributions.parquet"
    df.to_parquet(path, index=False)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_hitrate_out_into_someone_elses_folder_deletes_nothing(index, attributions, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.pt").write_bytes(b"weights")
    (run_dir / "metrics.json").write_text("{}")
    before = snapshot(run_dir)
    assert hitrate.main([str(attributions), "--index", str(index), "--out", str(run_dir)]) == 2
    assert "is a folder with other files in it" in one_error_line(capsys)
    assert snapshot(run_dir) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.tmp")] == []


def test_hitrate_out_onto_a_file_or_cwd(index, attributions, tmp_path, capsys, monkeypatch):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert hitrate.main([str(attributions), "--index", str(index), "--out", str(target)]) == 2
    assert "exists and is not a folder" in one_error_line(capsys)
    assert target.read_text() == "mine"
    monkeypatch.chdir(tmp_path)
    assert hitrate.main([str(attributions), "--index", str(index), "--out", "."]) == 2
    assert "other files in it" in one_error_line(capsys)
    assert target.read_text() == "mine"


def test_hitrate_replaces_its_own_result_and_another_commands_is_refused(index, attributions, tmp_path, capsys):
    out = tmp_path / "results"
    assert hitrate.main([str(attributions), "--index", str(index), "--out", str(out)]) == 0
    assert (out / OUTPUT_MARKER).is_file()
    assert hitrate.main([str(attributions), "--index", str(index), "--out", str(out)]) == 0  # its own: replaced
    capsys.readouterr()
    assert build_cli.main(["--source", str(SPROT_FIXTURE), "--out", str(out), "--quiet"]) == 2
    assert "holds the output of pslindex.hitrate, not of build_index" in one_error_line(capsys)
    assert (out / "hitrates.duckdb").is_file()
    # a result folder written before markers existed is still recognised as the hit rate's own
    (out / OUTPUT_MARKER).unlink()
    assert hitrate.main([str(attributions), "--index", str(index), "--out", str(out)]) == 0


def test_index_build_refuses_a_folder_of_other_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("chapter 1")
    assert build_cli.main(["--source", str(SPROT_FIXTURE), "--out", str(mine), "--quiet"]) == 2
    assert "other files in it (thesis.tex)" in one_error_line(capsys)
    assert snapshot(mine) == {"thesis.tex": b"chapter 1"}


def test_output_folder_failure_leaves_target_and_no_temporaries(tmp_path):
    out = tmp_path / "out"
    with output_folder(out, "test") as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), output_folder(out, "test") as tmp:
        (tmp / "a.txt").write_text("second")
        raise RuntimeError("died")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries, no lock file


def test_a_writer_killed_between_its_renames_loses_nothing(tmp_path):
    """The one window of output_folder: the old result moved aside, the new one not yet in. A writer killed
    there leaves the only copy in .out.old-PID-*; the next writer puts it back before cleaning up."""
    from pslindex.files import remove_stale_temporaries

    out = tmp_path / "out"
    with output_folder(out, "test") as tmp:
        (tmp / "a.txt").write_text("first")
    script = ("import os, signal, sys; from pathlib import Path; import pslindex.files as f; "
              "f.BETWEEN_RENAMES = lambda: os.kill(os.getpid(), signal.SIGKILL)\n"
              "with f.output_folder(Path(sys.argv[1]), 'test') as tmp: (tmp / 'a.txt').write_text('second')")
    done = subprocess.run([sys.executable, "-c", script, str(out)], env=ENV, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL
    parked = [p for p in tmp_path.iterdir() if p.name.startswith(".out.old-")]
    assert not out.exists() and len(parked) == 1 and (parked[0] / "out" / "a.txt").read_text() == "first"
    remove_stale_temporaries(out)
    assert (out / "a.txt").read_text() == "first"
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name or ".tmp-" in p.name]
    with output_folder(out, "test") as tmp:  # and the next writer goes on as usual
        (tmp / "a.txt").write_text("third")
    assert (out / "a.txt").read_text() == "third"


def test_concurrent_hitrate_runs_into_one_out(index, attributions, tmp_path):
    out = tmp_path / "shared-out"
    cmd = [sys.executable, "-m", "pslindex.hitrate", str(attributions), "--index", str(index), "--out", str(out)]
    procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [r[1] for r in results]
    assert len(pd.read_parquet(out / "hitrates.parquet")) == 12
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def _index_consistent(out) -> None:
    """The index opens and its matcher belongs to it (KmerIndex.load checks the build id)."""
    with open_index(out) as idx:
        assert int(idx.meta()["count_proteins"]) > 0
    KmerIndex.load(out)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_index_build_killed_at_any_moment_keeps_a_consistent_index(tmp_path, sig):
    out = tmp_path / "index"
    assert build_cli.main(["--source", str(SPROT_FIXTURE), "--out", str(out), "--quiet"]) == 0
    first = (out / "matcher_meta.json").read_text()
    cmd = [sys.executable, "-m", "build_index", "--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]
    started = time.time()
    full = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    duration = time.time() - started
    _index_consistent(out)
    rng = np.random.default_rng(sig)
    outcomes = set()
    for delay in rng.uniform(0.45 * duration, 0.95 * duration, size=4):  # after the imports, during the build
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        outcomes.add(proc.returncode)
        # never a crash (e.g. -11); -SIGINT: the signal came while the interpreter was already shutting down
        assert proc.returncode in (0, -signal.SIGKILL, -signal.SIGINT, 130), err
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1].startswith("error: interrupted")
        _index_consistent(out)
    assert (out / "matcher_meta.json").read_text() != first   # the later builds did replace it
    # the next build cleans up what killed builds left behind
    assert build_cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(out), "--quiet"]) == 0
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("module, args", [
    ("pslindex.hitrate", ["a.parquet", "--controls", "abc"]),
    ("pslmodels.train", ["--model", "transformer"]),
    ("pslmodels.plausibility", []),
    ("build_index", ["--no-such-flag"]),
])
def test_argparse_errors_are_one_line(module, args, tmp_path):
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=ENV,
                            cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "usage:" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_broken_pipe_is_quiet(index):
    """`... | head -1`: the reader goes away early; no traceback, no error line."""
    proc = subprocess.Popen([sys.executable, "-m", "pslindex.info", str(index)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def _damage(folder, how):
    if how == "truncated positions":
        path = folder / "matcher_positions.npy"
        path.write_bytes(path.read_bytes()[:100])
    elif how == "short positions":  # a valid .npy that lost its end
        path = folder / "matcher_positions.npy"
        np.save(path, np.load(path)[:-3])
    elif how == "bad meta":
        (folder / "matcher_meta.json").write_text("{bad")
    elif how == "missing text":
        (folder / "matcher_text.npy").unlink()
    elif how == "cut accessions":
        path = folder / "matcher_accessions.txt"
        path.write_text(path.read_text()[:20])


@pytest.mark.parametrize("how, message", [
    ("truncated positions", "matcher_positions.npy: missing or damaged"),
    ("short positions", "the matcher files do not fit together"),
    ("bad meta", "matcher_meta.json: damaged"),
    ("missing text", "matcher_text.npy: missing or damaged"),
    ("cut accessions", "the matcher files do not fit together"),
])
def test_damaged_matcher_files_are_one_line(index, attributions, tmp_path, capsys, how, message):
    """Every damaged matcher file: one line naming it and how to rebuild, exit 2, nothing written."""
    import shutil

    damaged = tmp_path / "index"
    shutil.copytree(index, damaged)
    _damage(damaged, how)
    out = tmp_path / "out"
    assert hitrate.main([str(attributions), "--index", str(damaged), "--controls", "0", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert message in line and "python -m pslindex.matcher --build" in line and not out.exists()
    with pytest.raises(Exception, match=message):
        KmerIndex.load(damaged)


def test_zero_byte_and_malicious_checkpoints_are_one_line(tmp_path, capsys):
    """A zero-byte model.pt and a pickle that would run code: one line each, no code run, no torch advice."""
    import torch

    from pslmodels import attribute

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "model.pt").write_bytes(b"")
    assert attribute.main([str(empty)]) == 2
    assert "model.pt: not a readable checkpoint (EOFError)" in one_error_line(capsys)

    witness = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))

    evil = tmp_path / "evil"
    evil.mkdir()
    torch.save({"model": Payload()}, evil / "model.pt")
    assert attribute.main([str(evil)]) == 2
    line = one_error_line(capsys)
    assert "refused" in line and "weights_only=False" not in line and not witness.exists()


@pytest.mark.parametrize("damage, message", [
    ("metrics", "metrics.json: damaged (JSONDecodeError"),
    ("diagnostics", "diagnostics.csv: damaged"),
])
def test_report_with_a_damaged_run_changes_nothing(tmp_path, capsys, damage, message):
    """One damaged file in one run: one line naming it; the earlier report and its figures stay as they were."""
    import shutil

    from pslmodels import report

    runs = tmp_path / "runs"
    shutil.copytree(REPO / "reports" / "study" / "runs" / "mlp-trained-s0", runs / "mlp-trained-s0")
    out = tmp_path / "rep" / "study.md"
    assert report.main([str(runs), "--out", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(out.parent)
    if damage == "metrics":
        path = runs / "mlp-trained-s0" / "metrics.json"
        path.write_text(path.read_text()[:200])
    else:
        (runs / "mlp-trained-s0" / "diagnostics.csv").write_text('mode,seed\n"unclosed\n')
    assert report.main([str(runs), "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert message in line and "nothing was written" in line
    assert snapshot(out.parent) == before


@pytest.mark.parametrize("module, args, message", [
    ("attribute", ["--ig-steps", "0"], "--ig-steps 0"),
    ("attribute", ["--batch-size", "0"], "--batch-size 0"),
    ("attribute", ["--ig-tolerance", "nan"], "--ig-tolerance nan"),
    ("attribute", ["--methods", ","], "name at least one method"),
    ("attribute", ["--device", "tpu"], "invalid choice: 'tpu'"),
    ("diagnose", ["--seeds", "0"], "--seeds 0"),
    ("diagnose", ["--limit", "-1"], "--limit -1"),
    ("diagnose", ["--device", "tpu"], "invalid choice: 'tpu'"),
    ("evaluate", ["--limit", "-3"], "--limit -3: must not be negative"),
    ("evaluate", ["--device", "tpu"], "invalid choice: 'tpu'"),
])
def test_out_of_range_numbers_are_refused_before_any_work(module, args, message, tmp_path, capsys):
    """Checked up front on the shipped run: one line, exit 2, no output file."""
    import importlib

    cli = importlib.import_module(f"pslmodels.{module}")
    run = REPO / "pslmodels" / "shipped" / "default"
    out = ["--out", str(tmp_path / "a.parquet")] if module == "attribute" else []
    try:
        code = cli.main([str(run), *args, *out])
    except SystemExit as stop:
        code = stop.code
    assert code == 2 and message in one_error_line(capsys) and not (tmp_path / "a.parquet").exists()
    assert not (run / "diagnostics.csv").exists()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_hitrate_killed_at_any_moment_keeps_the_previous_result(index, attributions, tmp_path, sig):
    """kill -9 or Ctrl-C at random moments of a hit-rate run: the previous result stays byte for byte,
    no crash; the next run clears what killed runs left behind."""
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "pslindex.hitrate", str(attributions), "--index", str(index), "--controls", "20",
           "--out", str(out)]
    started = time.time()
    full = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    duration = time.time() - started
    def content(folder):  # DuckDB files differ byte-wise between equal runs: compare what they hold
        import duckdb

        files = snapshot(folder)
        with duckdb.connect(str(folder / "hitrates.duckdb"), read_only=True) as con:
            tables = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                      for t in ("protein_hitrates", "peptides", "matches", "settings")}
        return {**{k: v for k, v in files.items() if k != "hitrates.duckdb"}, **tables}

    before = content(out)
    rng = np.random.default_rng(int(sig))
    for delay in rng.uniform(0.3 * duration, 0.98 * duration, size=3):  # imports, extraction, matching, DuckDB
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, -signal.SIGKILL, -signal.SIGINT, 130), err   # never a crash (-11)
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1].startswith("error: interrupted") and "Traceback" not in err
        # the old result, or (killed after its swap) a complete new one with the same numbers
        assert content(out) == before
    assert subprocess.run(cmd, env=ENV, capture_output=True, text=True).returncode == 0
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("args", [["--window", "0"], ["--k", "nan"], ["--k", "-1"]])
def test_viewer_refuses_window_and_k_out_of_range(args, tmp_path, capsys):
    from pslmodels import view

    out = tmp_path / "page.html"
    assert view.main([str(tmp_path / "never-read.parquet"), "--out", str(out), *args]) == 2
    assert "need a window >= 1 and a finite k >= 0" in one_error_line(capsys) and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--test-proteins", "-5"], "--proteins -5: must be >= 0"),
    (["--ig-steps", "0"], "--ig-steps 0: must be >= 1"),
    (["--max-train", "-1"], "--max-train -1"),
    (["--seed", "-1"], "--seed -1"),
])
def test_demo_checks_every_option_before_building_or_training(args, message, tmp_path, capsys):
    from pslmodels import demo

    run_dir, index = tmp_path / "run", tmp_path / "index"
    assert demo.main(["--run-dir", str(run_dir), "--index", str(index), *args]) == 2
    assert message in one_error_line(capsys) and not run_dir.exists() and not index.exists()


def test_hitrate_refuses_a_negative_seed(tmp_path, capsys):
    from pslindex import hitrate

    out = tmp_path / "out"
    assert hitrate.main([str(tmp_path / "never-read.parquet"), "--seed", "-1", "--out", str(out)]) == 2
    assert "--seed -1: must be 0 or more" in one_error_line(capsys) and not out.exists()
