"""Real tiny training runs on DeepLoc slices."""

import json

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from conftest import SHARED
from pslindex.errors import PslError
from pslmodels import evaluate as evaluate_cli
from pslmodels import train as train_cli
from pslmodels.data import collate, read_fasta
from pslmodels.model import ARCHS, ModelConfig, PslModel
from pslmodels.runs import load_model
from pslmodels.train import TrainConfig, train

DEEPLOC = SHARED / "data/deeploc/deeploc_data.fasta.gz"


@pytest.fixture(scope="module")
def short_proteins():
    ps = [p for p in read_fasta(DEEPLOC) if len(p.sequence) < 120]
    return ps[::max(1, len(ps) // 16)][:16]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_each_model_learns(arch, short_proteins):
    torch.manual_seed(0)
    model = PslModel(ModelConfig.from_preset(arch, "paper"))
    b = collate(short_proteins)
    preset = torch.rand(b.tokens.shape) if arch == "mlp-preset" else None
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        logits, _ = model(b.tokens, b.lengths, attention=preset)
        loss = F.cross_entropy(logits, b.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def tiny(run_dir, **overrides):
    return TrainConfig(**{**dict(model="bilstm-att", epochs=2, batch_size=10, max_train=30, max_length=300,
                                 max_eval=20, seed=3,
                                 device="cpu", run_dir=str(run_dir), data=str(DEEPLOC), quiet=True), **overrides})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "att"
    metrics = train(tiny(run_dir))
    return run_dir, metrics


def test_run_directory_contents(tiny_run):
    run_dir, metrics = tiny_run
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "best.pt", "last.pt", "metrics.json",
                                                   "test_predictions.parquet"}
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["test"]["n"] == 20 and len(saved["test"]["f1_per_class"]) == 10
    assert 0.0 <= saved["test"]["accuracy"] <= 1.0 and len(saved["test"]["confusion"]) == 10
    assert saved["data_sha256"] and saved["epochs_run"] == 2
    preds = pd.read_parquet(run_dir / "test_predictions.parquet")
    assert len(preds) == 20 and len(preds.probs.iloc[0]) == 10
    model, ckpt = load_model(run_dir)                      # rebuilt from the checkpoint alone
    assert model.config.arch == "bilstm-att" and ckpt["train_config"]["seed"] == 3


def test_same_seed_same_metrics(tiny_run, tmp_path):
    _, metrics = tiny_run
    again = train(tiny(tmp_path / "again"))
    assert again["test"] == metrics["test"] and again["validation"] == metrics["validation"]


def test_resume_equals_uninterrupted(tiny_run, tmp_path):
    run_dir, metrics = tiny_run
    interrupted = tmp_path / "resumed"
    train(tiny(interrupted, epochs=1))                     # "killed" after epoch 1 ...
    resumed = train(tiny(interrupted, epochs=2))           # ... and run again
    assert resumed["test"] == metrics["test"]
    a = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    b = torch.load(interrupted / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_mlp_preset_uses_a_trained_run(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    metrics = train(tiny(tmp_path / "preset", model="mlp-preset", preset_from=str(run_dir), epochs=1))
    assert metrics["test"]["n"] == 20
    # loaded with its teacher, it is diagnosed and attributed like any attention model
    from pslmodels.attribute import make_method
    from pslmodels.diagnose import diagnose
    from pslmodels.runs import run_split

    model, ckpt = load_model(tmp_path / "preset")
    teacher, _ = load_model(run_dir)
    proteins = run_split(ckpt, "test")[:6]
    batch = collate(proteins)
    scores = make_method("attention").attribute(model, batch).scores
    torch.testing.assert_close(scores, teacher(batch.tokens, batch.lengths)[1])
    assert make_method("ig", n_steps=8).attribute(model, batch).scores.shape == batch.tokens.shape
    modes = set(diagnose(model, proteins, seeds=1)["mode"])
    assert modes == {"trained", "uniform", "permuted", "random", "random-logits"}
    with pytest.raises(PslError, match="needs --preset-from"):
        train(tiny(tmp_path / "p2", model="mlp-preset", epochs=1))


def test_checkpoint_from_another_model(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    with pytest.raises(PslError, match="other inputs: model 'bilstm-att' \\(asked 'cnn35'\\)"):
        train(tiny(run_dir, model="cnn35"))
    # weights of one architecture do not load into another
    ckpt = torch.load(run_dir / "best.pt", weights_only=True)
    ckpt["model_config"]["arch"] = "cnn35-att"
    bad = tmp_path / "bad"
    bad.mkdir()
    torch.save(ckpt, bad / "best.pt")
    with pytest.raises(PslError, match="weights do not fit model cnn35-att: .*size mismatch|missing key"):
        load_model(bad)
    (bad / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PslError, match="not a readable checkpoint"):
        load_model(bad)


def test_cli_refuses_unknown_keys_and_bad_values(capsys):
    with pytest.raises(SystemExit):
        train_cli.build_parser().parse_args(["--unknown_key", "1"])
    with pytest.raises(SystemExit):
        train_cli.build_parser().parse_args(["--epochs", "many"])
    assert "invalid int value" in capsys.readouterr().err


def test_evaluate_on_another_fasta(tiny_run, tmp_path, capsys):
    run_dir, _ = tiny_run
    hard = SHARED / "data/deeploc/setHARD.fasta.gz"
    assert evaluate_cli.main([str(run_dir), "--fasta", str(hard), "--limit", "25"]) == 0
    out = capsys.readouterr().out
    assert "setHARD.fasta.gz: 25 proteins" in out and "accuracy" in out
    unlabelled = tmp_path / "q.fasta"
    unlabelled.write_text(">Q1\nMKVLAAGIVALLLAAGCSS\n")
    assert evaluate_cli.main([str(run_dir), "--fasta", str(unlabelled), "--out", str(tmp_path / "p.parquet")]) == 0
    assert pd.read_parquet(tmp_path / "p.parquet").accession.tolist() == ["Q1"]
    assert evaluate_cli.main([str(tmp_path / "nothing"), "--fasta", str(unlabelled)]) == 2
    assert "no checkpoint here" in capsys.readouterr().err


def test_training_seconds_add_up_over_resumed_sessions():
    from pslmodels.train import training_seconds

    history = [{"seconds": 10.0}, {"seconds": 20.0}, {"seconds": 5.0}, {"seconds": 12.0}]  # resumed after 2 epochs
    assert training_seconds(history) == 32.0
    assert training_seconds([]) == 0.0


def test_rerun_with_other_inputs_refuses_and_changes_nothing(tiny_run):
    run_dir, _ = tiny_run
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    for change in (dict(seed=4), dict(lr=0.01), dict(max_train=31), dict(batch_size=5)):
        with pytest.raises(PslError, match="holds a run made with other inputs.*--force"):
            train(tiny(run_dir, **change))
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_force_starts_over(tmp_path):
    run_dir = tmp_path / "run"
    train(tiny(run_dir, epochs=1, max_train=12, max_eval=10))
    metrics = train(tiny(run_dir, epochs=1, max_train=12, max_eval=10, seed=4, force=True))
    assert metrics["seed"] == 4 and len(metrics["history"]) == 1
    assert json.loads((run_dir / "config.json").read_text())["train"]["seed"] == 4
    assert json.loads((run_dir / "config.json").read_text())["data"] == "deeploc/deeploc_data.fasta.gz"


def test_foreign_or_locked_run_dir_refused(tmp_path):
    import fcntl

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    with pytest.raises(PslError, match="files a training did not write \\(notes.txt\\)"):
        train(tiny(foreign, epochs=1))
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"] or (foreign / ".lock").exists()
    assert (foreign / "notes.txt").read_text() == "my notes"
    busy = tmp_path / "busy"
    busy.mkdir()
    with open(busy / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(PslError, match="another training is writing"):
            train(tiny(busy, epochs=1))


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=0), "--batch-size 0: must be at least 1"),
    (dict(lr=-1.0), "--lr -1.0: must be a positive"),
    (dict(val_fraction=1.5), "--val-fraction 1.5"),
    (dict(device="tpu"), "--device 'tpu'"),
    (dict(max_train=-3), "--max-train -3"),
    (dict(data="no/such.fasta"), "no such file"),
])
def test_bad_options_refused_before_anything_is_written(tmp_path, change, message):
    run_dir = tmp_path / "new"
    with pytest.raises(PslError, match=message):
        train(tiny(run_dir, **change))
    assert not run_dir.exists()


def test_cli_takes_hyphens_and_old_underscores():
    parser = train_cli.build_parser()
    assert parser.parse_args(["--run-dir", "a", "--batch-size", "3"]).run_dir == "a"
    assert parser.parse_args(["--run_dir", "b"]).run_dir == "b"
    assert "--run_dir" not in parser.format_help()


def test_command_line_shows_each_epoch_on_stderr(tmp_path):
    """`python -m pslmodels.train` logs an epoch line per epoch (the module runs as __main__: its logger
    must still be one the command shows)."""
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "pslmodels.train", "--model", "bilstm-att", "--epochs", "2",
                          "--max-train", "10", "--max-eval", "10", "--sethard", "", "--device", "cpu", "--quiet",
                          "--run-dir", str(run)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "epoch 1: train loss" in out.stderr and "epoch 2: train loss" in out.stderr
    assert "bilstm-att (paper, seed 0): best epoch" in out.stdout
