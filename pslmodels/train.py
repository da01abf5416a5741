"""``python -m pslmodels.train --model bilstm-att [--preset paper] [--epochs 50] [--seed 0] ...``

Trains one model of the study on DeepLoc (SPEC 2-3): train = the non-test proteins minus a seeded,
stratified 10 % validation split; early stopping on validation macro-F1; test = the official
partition. A run directory holds ``config.json``, ``best.pt`` and ``last.pt`` (weights, both
configs, optimizer and RNG state, history), ``metrics.json`` (validation and test) and
``test_predictions.parquet``. Running the same command again resumes from ``last.pt``; with the
same seed the result is the same as an uninterrupted run (on CPU).

Every option below is ``--name value``; unknown names are refused.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output, check_parent_folder, file_checksum, write_json
from pslmodels.data import (
    DEEPLOC_FASTA,
    SETHARD_FASTA,
    batches,
    data_path,
    data_ref,
    read_fasta,
    split,
    stratified_subset,
)
from pslmodels.inference import predict, predictions_frame, teacher_attention
from pslmodels.metrics import classification_metrics
from pslmodels.model import ARCHS, PRESETS, ModelConfig, PslModel
from pslmodels.runs import git_commit, load_checkpoint, load_model, pick_device, set_threads

__all__ = ["TrainConfig", "train"]

logger = logging.getLogger("pslmodels.train")  # not __name__: it is "__main__" under python -m

# What a run is made of: resuming with any of these changed would mix two experiments in one directory.
TRAINING_INPUTS = ("model", "preset", "batch_size", "lr", "seed", "val_fraction", "max_train", "max_length",
                   "max_eval", "preset_from")
# Files a training run writes into its directory (and --force may replace).
RUN_FILES = ("config.json", "best.pt", "last.pt", "model.pt", "metrics.json", "test_predictions.parquet",
             "sethard_predictions.parquet")


@dataclass
class TrainConfig:
    model: str = "bilstm-att"          # one of ARCHS
    preset: str = "paper"              # paper (the authors' sizes) | deeploc (bigger, for a GPU)
    epochs: int = 50                   # the authors trained 50 epochs
    batch_size: int = 5                # the authors' batch size
    lr: float = 1e-3                   # Adam
    seed: int = 0                      # fixes the validation split, init, batch order, dropout
    device: str = "auto"               # auto | cpu | cuda
    run_dir: str = ""                  # default runs/<model>-s<seed>
    data: str = DEEPLOC_FASTA          # a path, or a name inside the data directory ($PSL_DATA_DIR)
    sethard: str = SETHARD_FASTA       # scored beside the test partition at the end ("" = skip)
    val_fraction: float = 0.1
    patience: int = 10                 # early stopping: epochs without a better validation macro-F1
    max_train: int = 0                 # >0: a seeded, stratified subset of the training set (demos, tests)
    max_length: int = 0                # >0: train only on proteins up to this length (demos, tests)
    max_eval: int = 0                  # >0: seeded, stratified subsets of validation and test (demos, tests)
    preset_from: str = ""              # mlp-preset: run directory of a trained model whose attention to use
    threads: int = 0                   # torch CPU threads; 0 = $OMP_NUM_THREADS, else torch's default
    quiet: bool = False                # no progress bars
    force: bool = False                # start the run directory over even if it holds another run

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir or f"runs/{self.model}-s{self.seed}")


def _atomic_save(obj: dict, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def evaluate(model, proteins, device, teacher=None) -> tuple[dict, np.ndarray]:
    probs = predict(model, proteins, device, teacher=teacher)
    y = np.array([p.y for p in proteins])
    return classification_metrics(y, probs.argmax(1)), probs


def training_seconds(history: list[dict]) -> float:
    """Total training time over every session of a run: ``seconds`` restarts from 0 when a run resumes."""
    total, last = 0.0, 0.0
    for entry in history:
        if entry["seconds"] < last:  # a new session began
            total += last
        last = entry["seconds"]
    return total + last


def check_config(cfg: TrainConfig) -> None:
    """Refuse options out of range before anything is read or written (one-line PslError)."""
    if cfg.model not in ARCHS:
        raise PslError(f"--model {cfg.model!r}: choose one of {', '.join(ARCHS)}")
    if cfg.preset not in PRESETS:
        raise PslError(f"--preset {cfg.preset!r}: choose one of {', '.join(PRESETS)}")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise PslError(f"--device {cfg.device!r}: choose auto, cpu or cuda")
    for name in ("epochs", "batch_size"):
        if getattr(cfg, name) < 1:
            raise PslError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be at least 1")
    for name in ("patience", "max_train", "max_length", "max_eval", "threads", "seed"):
        if getattr(cfg, name) < 0:
            raise PslError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must not be negative")
    if not cfg.lr > 0 or cfg.lr == float("inf"):
        raise PslError(f"--lr {cfg.lr}: must be a positive number")
    if not 0 < cfg.val_fraction < 1:
        raise PslError(f"--val-fraction {cfg.val_fraction}: must be between 0 and 1")
    if cfg.model == "mlp-preset" and not cfg.preset_from:
        raise PslError("--model mlp-preset needs --preset-from RUN_DIR (a trained model with attention)")


def claim_run_dir(run_dir: Path, cfg: TrainConfig, data_sha256: str):
    """Lock ``run_dir`` for this training and make sure it holds nothing but this run's own files.

    Returns the open lock file (keep it open while training). Refuses, with one line, a directory
    another training holds, a directory with files a training did not write, and a run made with
    other training inputs (unless ``--force``, which deletes only the files a training writes).
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise PslError(f"{run_dir}: exists and is not a folder; give a new --run-dir")
    check_parent_folder(run_dir)
    if run_dir.is_dir():  # looked at before anything is written into it
        foreign = sorted(p.name for p in run_dir.iterdir()
                         if p.name not in RUN_FILES and p.name != ".lock" and not p.name.startswith("."))
        if foreign and not (run_dir / "config.json").is_file():
            raise PslError(f"{run_dir}: holds files a training did not write ({', '.join(foreign[:3])}); "
                           "give an empty or new --run-dir")
    # the topmost folder this call creates (None if run_dir exists), and whether the lock file is new
    made_dir = next((p for p in reversed([run_dir, *run_dir.parents]) if not p.exists()), None)
    made_lock = not (run_dir / ".lock").exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = open(run_dir / ".lock", "w")  # noqa: SIM115 - held for the whole training
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise PslError(f"{run_dir}: another training is writing this run directory") from None

    def refuse(message: str) -> PslError:
        # a refused training leaves the directory as it found it: only what it just made goes
        if made_lock:
            (run_dir / ".lock").unlink(missing_ok=True)
        lock.close()
        if made_dir is not None:
            for folder in [run_dir, *run_dir.parents]:
                folder.rmdir()
                if folder == made_dir:
                    break
        return PslError(message)

    recorded = None
    if (run_dir / "last.pt").is_file():
        try:
            ckpt = load_checkpoint(run_dir / "last.pt")
        except PslError as exc:
            raise refuse(str(exc)) from None
        recorded = {**ckpt.get("train_config", {}), "data_sha256": ckpt.get("data_sha256")}
    elif (run_dir / "config.json").is_file():
        try:
            config = json.loads((run_dir / "config.json").read_text())
            recorded = {**config["train"], "data_sha256": config.get("data_sha256")}
        except (ValueError, KeyError, TypeError):
            recorded = {"config.json": "unreadable"}
    if recorded is None:
        return lock
    wanted = {**asdict(cfg), "data_sha256": data_sha256}
    differs = [f"{k} {recorded.get(k)!r} (asked {wanted.get(k)!r})" for k in (*TRAINING_INPUTS, "data_sha256")
               if recorded.get(k) != wanted.get(k)]
    if differs and not cfg.force:
        raise refuse(f"{run_dir}: holds a run made with other inputs: {'; '.join(differs[:4])}; "
                     "use a new --run-dir, or --force to start it over")
    if differs:  # --force: start over, deleting only what a training writes
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
    return lock


def train(cfg: TrainConfig) -> dict:
    """Train (or resume) one run; returns the final metrics dict (also written to metrics.json).

    Everything is checked before the run directory is touched; the directory is locked while
    training, and a run of other inputs in it is refused (see :func:`claim_run_dir`).
    """
    check_config(cfg)
    set_threads(cfg.threads)
    device = pick_device(cfg.device)
    run_dir = cfg.resolved_run_dir()
    teacher = None
    if cfg.model == "mlp-preset":
        teacher, _ = load_model(cfg.preset_from)
        if not teacher.has_attention:
            raise PslError(f"{cfg.preset_from}: model {teacher.config.arch} has no attention to preset")
        teacher.to(device)

    proteins = read_fasta(cfg.data)
    sethard = read_fasta(cfg.sethard) if cfg.sethard and data_path(cfg.sethard).is_file() else []
    train_set, val_set, test_set = split(proteins, val_fraction=cfg.val_fraction, seed=cfg.seed)
    if cfg.max_length:
        train_set = [p for p in train_set if len(p.sequence) <= cfg.max_length]
    train_set = stratified_subset(train_set, cfg.max_train, cfg.seed)
    if cfg.max_eval:
        val_set = stratified_subset(val_set, cfg.max_eval, cfg.seed)
        test_set = stratified_subset(test_set, cfg.max_eval, cfg.seed)
        sethard = stratified_subset(sethard, cfg.max_eval, cfg.seed)
    data_sha256 = file_checksum(data_path(cfg.data))
    lock = claim_run_dir(run_dir, cfg, data_sha256)

    torch.manual_seed(cfg.seed)
    model_config = ModelConfig.from_preset(cfg.model, cfg.preset)
    model = PslModel(model_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state = {"epoch": 0, "best_score": -1.0, "best_epoch": -1, "history": []}
    last = run_dir / "last.pt"
    if last.is_file():
        ckpt = load_checkpoint(last)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["torch_rng"])
        state = {k: ckpt[k] for k in state}
        logger.info("resuming %s after epoch %d", run_dir, state["epoch"])
    meta = {"data": data_ref(cfg.data), "data_sha256": data_sha256, "commit": git_commit(),
            "n_train": len(train_set), "n_val": len(val_set), "n_test": len(test_set), "device": str(device)}
    recorded_cfg = {**asdict(cfg), "data": data_ref(cfg.data),
                    "sethard": data_ref(cfg.sethard) if cfg.sethard else ""}
    write_json(run_dir / "config.json", {"train": recorded_cfg, "model": model_config.to_dict(), **meta})

    def checkpoint(path: Path, *, weights_only: bool = False) -> None:
        saved = {"model": model.state_dict(), "model_config": model_config.to_dict(), "train_config": recorded_cfg,
                 **meta}
        if not weights_only:
            saved.update(optimizer=optimizer.state_dict(), torch_rng=torch.get_rng_state(), **state)
        _atomic_save(saved, path)

    started = time.time()
    for epoch in range(state["epoch"], cfg.epochs):
        if epoch - state["best_epoch"] > cfg.patience and state["best_epoch"] >= 0:
            break
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(batches(train_set, cfg.batch_size, seed=cfg.seed * 1000 + epoch), disable=cfg.quiet,
                   total=(len(train_set) + cfg.batch_size - 1) // cfg.batch_size, desc=f"epoch {epoch + 1}",
                   unit="batch", mininterval=2.0)
        for batch in bar:
            batch = batch.to(device)
            attention = teacher_attention(teacher, batch) if teacher is not None else None
            logits, _ = model(batch.tokens, batch.lengths, attention=attention)
            loss = F.cross_entropy(logits, batch.labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch.proteins)
            seen += len(batch.proteins)
            bar.set_postfix(loss=f"{total / seen:.3f}", refresh=False)
        val_metrics, _ = evaluate(model, val_set, device, teacher)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "train_loss": total / max(seen, 1),
                                 "val_accuracy": val_metrics["accuracy"], "val_f1_macro": val_metrics["f1_macro"],
                                 "seconds": time.time() - started, "device": str(device)})
        if val_metrics["f1_macro"] > state["best_score"]:
            state["best_score"], state["best_epoch"] = val_metrics["f1_macro"], epoch + 1
            checkpoint(run_dir / "best.pt")
            checkpoint(run_dir / "model.pt", weights_only=True)
        checkpoint(last)
        logger.info("epoch %d: train loss %.4f, val acc %.3f, val macro-F1 %.3f", epoch + 1, total / max(seen, 1),
                    val_metrics["accuracy"], val_metrics["f1_macro"])

    model, _ = load_model(run_dir, "best")
    model.to(device)
    val_metrics, _ = evaluate(model, val_set, device, teacher)
    test_metrics, test_probs = evaluate(model, test_set, device, teacher)
    metrics = {"model": cfg.model, "preset": cfg.preset, "seed": cfg.seed, "best_epoch": state["best_epoch"],
               "epochs_run": state["epoch"], "train_seconds": round(training_seconds(state["history"]), 1),
               "validation": val_metrics, "test": test_metrics}
    if sethard:
        sethard_metrics, sethard_probs = evaluate(model, sethard, device, teacher)
        metrics["sethard"] = sethard_metrics
        with atomic_output(run_dir / "sethard_predictions.parquet") as tmp:
            predictions_frame(sethard, sethard_probs).to_parquet(tmp, index=False)
    metrics.update(meta, history=state["history"], threads=torch.get_num_threads())
    with atomic_output(run_dir / "test_predictions.parquet") as tmp:
        predictions_frame(test_set, test_probs).to_parquet(tmp, index=False)
    write_json(run_dir / "metrics.json", metrics)  # last: its presence means the run is complete
    lock.close()
    return metrics


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.train", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_train_arguments(parser)


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """One ``--flag`` per :class:`TrainConfig` field on ``parser`` (also the workflow's ``stages train``)."""
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        default = getattr(defaults, f.name)
        kwargs = {"default": default, "help": f"default: {default!r}"}
        if f.name == "model":
            kwargs["choices"] = list(ARCHS)
        if f.name == "preset":
            kwargs["choices"] = list(PRESETS)
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action="store_true", help=kwargs["help"])
        else:
            parser.add_argument(flag, dest=f.name, type=type(default), **kwargs)
        if "_" in f.name:  # the underscored spelling of earlier releases, still accepted, not listed
            parser.add_argument(f"--{f.name}", dest=f.name, help=argparse.SUPPRESS, default=default,
                                **({"action": "store_true"} if isinstance(default, bool) else {"type": type(default)}))
    return parser


def run(argv=None) -> int:
    cfg = TrainConfig(**vars(build_parser().parse_args(argv)))
    metrics = train(cfg)
    t = metrics["test"]
    print(f"{cfg.model} ({cfg.preset}, seed {cfg.seed}): best epoch {metrics['best_epoch']}, test accuracy "
          f"{t['accuracy']:.3f}, macro-F1 {t['f1_macro']:.3f}, MCC {t['mcc']:.3f} (n={t['n']}); "
          f"run in {cfg.resolved_run_dir()}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
