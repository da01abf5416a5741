"""The bad-input contract swept over every ``psl`` subcommand, as a hostile user would try it.

Each case is one command line run in-process through ``psl`` (the same ``main`` the console script
calls) from an empty working directory, against a "world" of real files: the Debian-fixture index,
a copy of the shipped run, DeepLoc records and damaged variants of each. Every case must end with
exit status 2 and exactly one stderr line ``error: ...`` (no traceback, no usage block), write
nothing into the working directory and change nothing in the world or the index. ``expect`` is a
piece of the message that tells the user what is wrong (the file, the record, the option).

Run alone for an audit table: ``python tests/test_fault_sweep.py`` prints one line per case.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from conftest import DEBIAN_FIXTURE, REPO, SHARED, make_attributions, read_deeploc, snapshot

SHIPPED = REPO / "pslmodels" / "shipped" / "default"

# (case id, psl argv with {W} = world folder and {I} = index folder, piece of the expected message)
CASES = [
    # psl predict
    ("predict/missing", ["predict", "{W}/missing.fasta"], "missing.fasta"),
    ("predict/no-header", ["predict", "{W}/noheader.fasta"], "noheader.fasta"),
    ("predict/letters", ["predict", "{W}/letters.fasta"], "letters.fasta"),
    ("predict/empty", ["predict", "{W}/empty.fasta"], "empty.fasta"),
    ("predict/truncated-gz", ["predict", "{W}/truncated.fasta.gz"], "truncated.fasta.gz"),
    ("predict/binary", ["predict", "{W}/binary.fasta"], "binary.fasta"),
    ("predict/zero-byte-model", ["predict", "{W}/good.fasta", "--model", "{W}/run_zero"], "model.pt"),
    ("predict/no-model", ["predict", "{W}/good.fasta", "--model", "{W}/nothing"], "nothing"),
        ("predict/bad-method", ["predict", "{W}/good.fasta", "--explain", "bogus"], "bogus"),
    ("predict/no-index", ["predict", "{W}/good.fasta", "--hitrate", "--index", "{W}/nothing"], "nothing"),
    ("predict/controls", ["predict", "{W}/good.fasta", "--hitrate", "--index", "{I}", "--controls", "-1"],
     "--controls -1"),
    ("predict/out-someones-folder", ["predict", "{W}/good.fasta", "--out", "{W}/thesis"], "thesis"),
    ("predict/out-file", ["predict", "{W}/good.fasta", "--out", "{W}/afile.txt"], "afile.txt"),
    ("predict/out-under-a-file", ["predict", "{W}/good.fasta", "--out", "{W}/afile.txt/p"], "afile.txt"),
    ("predict/batch-size", ["predict", "{W}/good.fasta", "--batch-size", "0"], "--batch-size 0"),
    ("predict/chunk", ["predict", "{W}/good.fasta", "--chunk", "-1"], "--chunk -1"),
    ("predict/ig-steps", ["predict", "{W}/good.fasta", "--ig-steps", "0"], "--ig-steps 0"),
    ("predict/threads", ["predict", "{W}/good.fasta", "--threads", "-2"], "--threads -2"),
    ("predict/device", ["predict", "{W}/good.fasta", "--device", "tpu"], "tpu"),
    # psl index (build_index)
    ("index/missing-source", ["index", "--source", "{W}/missing.dat", "--out", "idx"], "missing.dat"),
    ("index/empty-source", ["index", "--source", "{W}/empty.fasta", "--out", "idx"], "empty.fasta"),
    ("index/binary-source", ["index", "--source", "{W}/binary.fasta", "--out", "idx"], "binary.fasta"),
    ("index/out-someones-folder", ["index", "--source", str(DEBIAN_FIXTURE), "--out", "{W}/thesis"], "thesis"),
    ("index/out-file", ["index", "--source", str(DEBIAN_FIXTURE), "--out", "{W}/afile.txt"], "afile.txt"),
    ("index/out-run", ["index", "--source", str(DEBIAN_FIXTURE), "--out", "{W}/run"], "run"),
    ("index/out-under-a-file", ["index", "--source", str(DEBIAN_FIXTURE), "--out", "{W}/afile.txt/i"], "afile.txt"),
    # psl index-info, psl matcher
    ("index-info/missing", ["index-info", "{W}/nothing"], "nothing"),
    ("index-info/truncated", ["index-info", "{W}/index_cut"], "index_cut"),
    ("index-info/a-file", ["index-info", "{W}/afile.txt"], "afile.txt"),
    ("matcher/missing-index", ["matcher", "--index", "{W}/nothing", "MKVLA"], "nothing"),
    ("matcher/truncated-index", ["matcher", "--index", "{W}/index_cut", "MKVLA"], "index_cut"),
    ("matcher/letters", ["matcher", "--index", "{I}", "MK1LA"], "MK1LA"),
    ("matcher/empty-peptide", ["matcher", "--index", "{I}", ""], "peptide"),
    # psl train: refused before the run directory is made
    ("train/data-no-header", ["train", "--model", "bilstm", "--data", "{W}/noheader.fasta", "--run-dir", "r"],
     "noheader.fasta"),
    ("train/data-letters", ["train", "--model", "bilstm", "--data", "{W}/letters.fasta", "--run-dir", "r"],
     "letters.fasta"),
    ("train/data-unlabelled", ["train", "--model", "bilstm", "--data", "{W}/unlabelled.fasta", "--run-dir", "r"],
     "unlabelled.fasta"),
    ("train/data-missing", ["train", "--model", "bilstm", "--data", "{W}/missing.fasta", "--run-dir", "r"],
     "missing.fasta"),
    ("train/epochs", ["train", "--model", "bilstm", "--epochs", "0", "--run-dir", "r"], "--epochs 0"),
    ("train/batch-size", ["train", "--model", "bilstm", "--batch-size", "0", "--run-dir", "r"], "--batch-size 0"),
    ("train/lr", ["train", "--model", "bilstm", "--lr", "-1", "--run-dir", "r"], "--lr"),
    ("train/lr-nan", ["train", "--model", "bilstm", "--lr", "nan", "--run-dir", "r"], "--lr"),
    ("train/val-fraction", ["train", "--model", "bilstm", "--val-fraction", "1.5", "--run-dir", "r"],
     "--val-fraction"),
    ("train/patience", ["train", "--model", "bilstm", "--patience", "-1", "--run-dir", "r"], "--patience -1"),
    ("train/max-train", ["train", "--model", "bilstm", "--max-train", "-5", "--run-dir", "r"], "--max-train -5"),
    ("train/device", ["train", "--model", "bilstm", "--device", "tpu", "--run-dir", "r"], "tpu"),
    ("train/threads", ["train", "--model", "bilstm", "--threads", "-1", "--run-dir", "r"], "--threads -1"),
    ("train/model", ["train", "--model", "transformer"], "transformer"),
    ("train/other-model-in-run", ["train", "--model", "bilstm", "--run-dir", "{W}/run"], "run"),
    ("train/other-seed-in-run", ["train", "--model", "bilstm-att", "--seed", "5", "--run-dir", "{W}/run"], "seed"),
    ("train/into-someones-folder", ["train", "--model", "bilstm", "--run-dir", "{W}/thesis"], "thesis"),
    ("train/into-a-file", ["train", "--model", "bilstm", "--run-dir", "{W}/afile.txt"], "afile.txt"),
    ("train/under-a-file", ["train", "--model", "bilstm", "--run-dir", "{W}/afile.txt/r"], "afile.txt"),
    ("train/preset-from-missing", ["train", "--model", "mlp-preset", "--preset-from", "{W}/nothing",
                                   "--run-dir", "r"], "nothing"),
    # psl evaluate, attribute, diagnose
    ("evaluate/no-run", ["evaluate", "{W}/nothing"], "nothing"),
    ("evaluate/zero-byte-model", ["evaluate", "{W}/run_zero"], "model.pt"),
        ("evaluate/letters", ["evaluate", "{W}/run", "--fasta", "{W}/letters.fasta"], "letters.fasta"),
        ("evaluate/out-folder", ["evaluate", "{W}/run", "--fasta", "{W}/good.fasta", "--out", "{W}/thesis"], "thesis"),
    ("attribute/no-run", ["attribute", "{W}/nothing", "--out", "a.parquet"], "nothing"),
    ("attribute/zero-byte-model", ["attribute", "{W}/run_zero", "--out", "a.parquet"], "model.pt"),
    ("attribute/bad-method", ["attribute", "{W}/run", "--methods", "bogus", "--out", "a.parquet"], "bogus"),
    ("attribute/limit", ["attribute", "{W}/run", "--limit", "-1", "--out", "a.parquet"], "--limit -1"),
    ("attribute/out-folder", ["attribute", "{W}/run", "--limit", "2", "--out", "{W}/thesis"], "thesis"),
    ("attribute/out-under-a-file", ["attribute", "{W}/run", "--limit", "2", "--out", "{W}/afile.txt/a.parquet"],
     "afile.txt"),
    ("attribute/split", ["attribute", "{W}/run", "--split", "train", "--out", "a.parquet"], "train"),
    ("diagnose/no-run", ["diagnose", "{W}/nothing"], "nothing"),
        ("diagnose/seeds", ["diagnose", "{W}/run", "--seeds", "-1"], "--seeds -1"),
    # psl hitrate
    ("hitrate/missing", ["hitrate", "{W}/missing.parquet", "--index", "{I}", "--out", "o"], "missing.parquet"),
    ("hitrate/not-parquet", ["hitrate", "{W}/afile.txt", "--index", "{I}", "--out", "o"], "afile.txt"),
    ("hitrate/no-rows", ["hitrate", "{W}/norows.parquet", "--index", "{I}", "--out", "o"], "norows.parquet"),
    ("hitrate/wrong-schema", ["hitrate", "{W}/noscores.parquet", "--index", "{I}", "--out", "o"], "scores"),
    ("hitrate/length", ["hitrate", "{W}/badlen.parquet", "--index", "{I}", "--out", "o"], "badlen.parquet"),
    ("hitrate/inf", ["hitrate", "{W}/inf.parquet", "--index", "{I}", "--out", "o"], "inf.parquet"),
    ("hitrate/null-accession", ["hitrate", "{W}/nullacc.parquet", "--index", "{I}", "--out", "o"], "nullacc.parquet"),
    ("hitrate/duplicates", ["hitrate", "{W}/dup.parquet", "--index", "{I}", "--out", "o"], "dup.parquet"),
    ("hitrate/unknown-class", ["hitrate", "{W}/badclass.parquet", "--index", "{I}", "--out", "o"], "badclass.parquet"),
    ("hitrate/letters", ["hitrate", "{W}/badletters.parquet", "--index", "{I}", "--out", "o"], "badletters.parquet"),
    ("hitrate/no-index", ["hitrate", "{W}/att.parquet", "--index", "{W}/nothing", "--out", "o"], "nothing"),
    ("hitrate/truncated-index", ["hitrate", "{W}/att.parquet", "--index", "{W}/index_cut", "--out", "o"], "index_cut"),
    ("hitrate/window", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--window", "0", "--out", "o"], "--window 0"),
    ("hitrate/k-nan", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--k", "nan", "--out", "o"], "--k nan"),
    ("hitrate/controls", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--controls", "-1", "--out", "o"],
     "--controls -1"),
    ("hitrate/seed", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--seed", "-1", "--out", "o"], "--seed -1"),
    ("hitrate/label", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--label", "bogus", "--out", "o"], "bogus"),
    ("hitrate/out-someones-folder", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--out", "{W}/thesis"],
     "thesis"),
    ("hitrate/out-run", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--out", "{W}/run"], "run"),
    ("hitrate/out-file", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--out", "{W}/afile.txt"], "afile.txt"),
        ("hitrate/out-under-a-file", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--out", "{W}/afile.txt/o"],
     "afile.txt"),
    ("hitrate/out-index", ["hitrate", "{W}/att.parquet", "--index", "{I}", "--out", "{I}"], "index"),
    # psl plausibility
    ("plausibility/missing", ["plausibility", "{W}/missing.parquet", "--out", "p.csv"], "missing.parquet"),
    ("plausibility/length", ["plausibility", "{W}/badlen.parquet", "--out", "p.csv"], "badlen.parquet"),
    ("plausibility/inf", ["plausibility", "{W}/inf.parquet", "--out", "p.csv"], "inf.parquet"),
    ("plausibility/signals-missing", ["plausibility", "{W}/att.parquet", "--signals", "{W}/missing.tsv",
                                      "--out", "p.csv"], "missing.tsv"),
    ("plausibility/signals-garbage", ["plausibility", "{W}/att.parquet", "--signals", "{W}/binary.fasta",
                                      "--out", "p.csv"], "binary.fasta"),
    ("plausibility/window", ["plausibility", "{W}/att.parquet", "--window", "0", "--out", "p.csv"], "--window 0"),
    ("plausibility/k-nan", ["plausibility", "{W}/att.parquet", "--k", "nan", "--out", "p.csv"], "--k nan"),
    ("plausibility/run-missing", ["plausibility", "{W}/att.parquet", "--run", "{W}/nothing", "--out", "p.csv"],
     "nothing"),
    ("plausibility/prior-proteins", ["plausibility", "{W}/att.parquet", "--run", "{W}/run", "--prior-proteins",
                                     "-1", "--out", "p.csv"], "--prior-proteins -1"),
    ("plausibility/out-folder", ["plausibility", "{W}/att.parquet", "--out", "{W}/thesis"], "thesis"),
    # psl view
    ("view/missing", ["view", "{W}/missing.parquet", "--out", "v.html"], "missing.parquet"),
    ("view/length", ["view", "{W}/badlen.parquet", "--out", "v.html"], "badlen.parquet"),
    ("view/inf", ["view", "{W}/inf.parquet", "--out", "v.html"], "inf.parquet"),
    ("view/accession", ["view", "{W}/att.parquet", "--accession", "NOPE", "--out", "v.html"], "NOPE"),
    ("view/method", ["view", "{W}/att.parquet", "--methods", "bogus", "--out", "v.html"], "bogus"),
    ("view/window", ["view", "{W}/att.parquet", "--window", "0", "--out", "v.html"], "--window 0"),
    ("view/k-nan", ["view", "{W}/att.parquet", "--k", "nan", "--out", "v.html"], "--k nan"),
    ("view/suffix", ["view", "{W}/att.parquet", "--out", "v.pdf"], "v.pdf"),
    ("view/hitrates-garbage", ["view", "{W}/att.parquet", "--hitrates", "{W}/afile.txt", "--out", "v.html"],
     "afile.txt"),
    ("view/out-under-a-file", ["view", "{W}/att.parquet", "--out", "{W}/afile.txt/v.html"], "afile.txt"),
    ("view/out-folder", ["view", "{W}/att.parquet", "--out", "{W}/thesis"], "thesis"),
    # psl report, demo, stage, psl itself
    ("report/missing-root", ["report", "{W}/nothing", "--out", "r.md"], "nothing"),
    ("report/no-runs", ["report", "{W}/thesis", "--out", "r.md"], "thesis"),
    ("report/damaged-run", ["report", "{W}/runs", "--out", "r.md"], "metrics.json"),
    ("report/out-folder", ["report", "{W}/runs", "--out", "{W}/thesis"], "thesis"),
    ("demo/epochs", ["demo", "--epochs", "0", "--run-dir", "d", "--index", "{I}"], "--epochs 0"),
    ("demo/index-file", ["demo", "--run-dir", "d", "--index", "{W}/afile.txt"], "afile.txt"),
    ("demo/run-dir-someones-folder", ["demo", "--run-dir", "{W}/thesis", "--index", "{I}"], "thesis"),
    ("stage/unknown", ["stage", "bogus"], "bogus"),
    ("stage/no-run", ["stage", "diagnose", "{W}/nothing"], "nothing"),
    ("stage/zero-byte-model", ["stage", "attribute", "{W}/run_zero"], "model.pt"),
    ("psl/unknown", ["bogus"], "bogus"),
]


def _fasta(path: Path, records) -> None:
    path.write_text("".join(f">{header}\n{seq}\n" for header, seq in records))


def make_world(world: Path) -> Path:
    """The files the cases point at: good ones, and each one damaged in one way."""
    rows = read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", limit=6, test_only=True)
    rng = np.random.default_rng(0)
    att = make_attributions(rows, "attention", lambda i, s: rng.random(len(s)))
    att.to_parquet(world / "att.parquet", index=False)
    att.iloc[:0].to_parquet(world / "norows.parquet", index=False)
    att.drop(columns=["scores"]).to_parquet(world / "noscores.parquet", index=False)
    att.assign(scores=[s[:-1] for s in att.scores]).to_parquet(world / "badlen.parquet", index=False)
    att.assign(scores=[[np.inf, *s[1:]] for s in att.scores]).to_parquet(world / "inf.parquet", index=False)
    att.assign(accession=[None, *att.accession[1:]]).to_parquet(world / "nullacc.parquet", index=False)
    att.iloc[[0, 0, 1]].to_parquet(world / "dup.parquet", index=False)
    att.assign(true_label=["Mars", *att.true_label[1:]]).to_parquet(world / "badclass.parquet", index=False)
    att.assign(sequence=["M1" + att.sequence[0][2:], *att.sequence[1:]]).to_parquet(world / "badletters.parquet",
                                                                                     index=False)
    good = [(f"{acc} {label}-U test", seq) for acc, label, seq in rows[:3]]
    _fasta(world / "good.fasta", good)
    _fasta(world / "unlabelled.fasta", [(f"sp|{acc}|X_HUMAN Alpha-beta hydrolase", seq) for acc, _, seq in rows[:3]])
    (world / "noheader.fasta").write_text("MKVLAAGIVG\n" + (world / "good.fasta").read_text())
    _fasta(world / "letters.fasta", [good[0], (good[1][0], good[1][1][:10] + "12*" + good[1][1][10:])])
    (world / "empty.fasta").write_text("")
    (world / "binary.fasta").write_bytes(bytes(range(256)) * 4)
    gz = gzip.compress((world / "good.fasta").read_bytes())
    (world / "truncated.fasta.gz").write_bytes(gz[: len(gz) // 2])
    (world / "afile.txt").write_text("someone's notes\n")
    (world / "thesis").mkdir()
    (world / "thesis" / "chapter1.tex").write_text("\\chapter{Results}\n")
    shutil.copytree(SHIPPED, world / "run")
    shutil.copytree(SHIPPED, world / "run_zero")
    (world / "run_zero" / "model.pt").write_bytes(b"")
    runs = world / "runs"
    runs.mkdir()
    shutil.copytree(SHIPPED, runs / "bilstm-att-s0")
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    (runs / "bilstm-att-s0" / "metrics.json").write_text(json.dumps(metrics)[:50])
    return world


def make_cut_index(index: Path, out: Path) -> Path:
    """A copy of ``index`` whose sprot.duckdb lost its second half (an interrupted copy)."""
    shutil.copytree(index, out, ignore=shutil.ignore_patterns("homologs"))
    db = out / "sprot.duckdb"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    return out


def run_case(argv: list[str], world: Path, index: Path) -> tuple[int, str, str]:
    """Run ``psl ARGV`` in-process; (exit status, stdout, stderr)."""
    from pslmodels import cli

    args = [a.replace("{W}", str(world)).replace("{I}", str(index)) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as stop:
            code = stop.code
        except BaseException as exc:  # noqa: BLE001 - the sweep reports it as the failure it is
            import traceback

            traceback.print_exc(file=err)
            code = f"raised {type(exc).__name__}"
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory, debian_index):
    w = make_world(tmp_path_factory.mktemp("world"))
    make_cut_index(debian_index, w / "index_cut")
    return w


@pytest.mark.parametrize("argv, expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(argv, expect, world, debian_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before, index_before = snapshot(world), snapshot(debian_index)
    code, out, err = run_case(argv, world, debian_index)
    lines = err.strip().splitlines()
    assert "Traceback" not in err + out, err
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert expect in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == [], "a refused command wrote into the working directory"
    assert snapshot(world) == before and snapshot(debian_index) == index_before


if __name__ == "__main__":  # the audit table
    import os
    import tempfile

    sys.path.insert(0, str(REPO))
    from build_index import __main__ as build_cli

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        index = tmp / "index"
        build_cli.main(["--source", str(DEBIAN_FIXTURE), "--out", str(index), "--quiet"])
        (tmp / "world").mkdir()
        world = make_world(tmp / "world")
        make_cut_index(index, world / "index_cut")
        held = 0
        for name, argv, expect in CASES:
            work = tmp / "cwd" / name.replace("/", "_")
            work.mkdir(parents=True)
            os.chdir(work)
            before = snapshot(world)
            code, out, err = run_case(argv, world, index)
            lines = err.strip().splitlines()
            ok = (code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0]
                  and "Traceback" not in err and not any(work.iterdir()) and snapshot(world) == before)
            held += ok
            print(f"{'ok  ' if ok else 'FAIL'} {name:32} {code!s:>4}  {(lines[-1] if lines else '')[:150]}")
        print(f"{held} of {len(CASES)} hold")
