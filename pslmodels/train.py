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
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main, first_line
from pslindex.files import atomic_output, file_checksum, write_json
from pslmodels.data import (
    DATA_DIR,
    DEEPLOC_FASTA,
    SETHARD_FASTA,
    Protein,
    batches,
    data_path,
    data_ref,
    read_fasta,
    split,
)
from pslmodels.metrics import classification_metrics
from pslmodels.model import ARCHS, PRESETS, ModelConfig, PresetPooled, PslModel

__all__ = ["DATA_DIR", "TrainConfig", "train", "load_model", "predict"]

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
    threads: int = 0                   # torch CPU threads; 0 = torch's default
    quiet: bool = False                # no progress bars
    force: bool = False                # start the run directory over even if it holds another run

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir or f"runs/{self.model}-s{self.seed}")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PslError("--device cuda: no CUDA device is available")
    return torch.device(name)


def _atomic_save(obj: dict, path: Path) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely (``weights_only=True``: tensors and plain Python values only)."""
    if not path.is_file():
        raise PslError(f"{path}: no checkpoint here")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
        message = str(exc)
        if "GLOBAL" in message:  # a pickle that names code to run: refused, whatever torch's advice says
            raise PslError(f"{path}: refused: it holds Python objects besides weights, and loading them could "
                           "run code; use a checkpoint written by pslmodels.train") from None
        if "Weights only load failed" in message:  # torch's first line advises an unsafe retry: not passed on
            raise PslError(f"{path}: not a readable checkpoint (not a torch weights file)") from None
        raise PslError(f"{path}: not a readable checkpoint ({first_line(exc)})") from None


def load_model(run_dir: str | Path, which: str = "best") -> tuple[PslModel | PresetPooled, dict]:
    """Rebuild a trained model from its run directory alone (config + weights in the checkpoint).

    An ``mlp-preset`` run comes back bundled with its teacher run (:class:`PresetPooled`).
    """
    path = Path(run_dir) / f"{which}.pt"
    if which == "best" and not path.is_file() and (Path(run_dir) / "model.pt").is_file():
        path = Path(run_dir) / "model.pt"  # a kept run: weights and configs only
    ckpt = load_checkpoint(path)
    if "model_config" not in ckpt or "model" not in ckpt:
        raise PslError(f"{path}: not a pslmodels checkpoint (no model_config)")
    config = ModelConfig(**ckpt["model_config"])
    model = PslModel(config)
    try:
        missing, unexpected = model.load_state_dict(ckpt["model"], strict=False)
    except RuntimeError as exc:  # same keys, other shapes
        raise PslError(f"{path}: weights do not fit model {config.arch}: "
                       f"{str(exc).splitlines()[1].strip()}") from None
    if missing or unexpected:
        raise PslError(f"{path}: weights do not fit model {config.arch}: missing key(s) {missing[:3]}, "
                       f"unexpected key(s) {unexpected[:3]}")
    if model.pooling == "preset":  # bundle the run whose attention it pools with
        source = ckpt.get("train_config", {}).get("preset_from")
        if not source:
            raise PslError(f"{path}: an mlp-preset checkpoint without preset_from (the run it takes weights from)")
        teacher, _ = load_model(teacher_dir(run_dir, source))
        model = PresetPooled(model, teacher)
    model.eval()
    return model, ckpt


def teacher_dir(run_dir: str | Path, source: str) -> Path:
    """The run an mlp-preset run took its attention from: as recorded, else its namesake beside the run.

    Kept runs are copied together (``reports/study/runs/``), so a sibling of the same name is the same run.
    """
    recorded = Path(source)
    if recorded.is_dir():
        return recorded
    sibling = Path(run_dir).parent / recorded.name
    if sibling.is_dir():
        return sibling
    raise PslError(f"{run_dir}: the run it takes its attention from ({source}) is not there, nor beside it")


def stratified_subset(proteins: list[Protein], n: int, seed: int) -> list[Protein]:
    """Exactly ``n`` proteins, classes in proportion (largest remainder), seeded; all if n <= 0 or n >= len.

    Returned in their input order.
    """
    if n <= 0 or n >= len(proteins):
        return proteins
    rng = np.random.default_rng(seed)
    labels = np.array([p.label for p in proteins])
    classes, sizes = np.unique(labels, return_counts=True)
    exact = n * sizes / len(proteins)
    quota = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quota), kind="stable")[: n - quota.sum()]:
        quota[i] += 1
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
                             for c, q in zip(classes, quota, strict=True)])
    return [proteins[i] for i in np.sort(picked)]


def run_split(ckpt: dict, which: str = "test") -> list[Protein]:
    """The test or validation proteins of the run a checkpoint came from (its data, fraction and seed)."""
    cfg = ckpt["train_config"]
    _, val, test = split(read_fasta(data_path(cfg["data"])), val_fraction=cfg["val_fraction"], seed=cfg["seed"])
    return test if which == "test" else val


@torch.no_grad()
def predict(model: PslModel, proteins: list[Protein], device: torch.device, batch_size: int = 32,
            teacher: PslModel | None = None, method=None) -> np.ndarray:
    """Class probabilities, shape (n, 10), in the order of ``proteins``.

    ``teacher``: the run whose attention an ``mlp-preset`` model pools with. ``method``: an
    :class:`pslmodels.attribute.Attribution` whose probabilities to return instead of the plain
    forward pass (e.g. the prediction with the attention replaced).
    """
    model.eval()
    probs = np.zeros((len(proteins), len(CLASSES)), dtype=np.float32)
    index = {id(p): i for i, p in enumerate(proteins)}
    for batch in batches(proteins, batch_size):
        batch = batch.to(device)
        if method is not None:
            out = method.attribute(model, batch).probs
        else:
            attention = teacher_attention(teacher, batch) if teacher is not None else None
            out = torch.softmax(model(batch.tokens, batch.lengths, attention=attention)[0], dim=1)
        probs[[index[id(p)] for p in batch.proteins]] = out.cpu().numpy()
    return probs


@torch.no_grad()
def teacher_attention(teacher: PslModel, batch) -> torch.Tensor:
    """The per-residue attention of a trained model, used as the preset weights of mlp-preset."""
    teacher.eval()
    _, alpha = teacher(batch.tokens, batch.lengths)
    return alpha


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


def predictions_frame(proteins: list[Protein], probs: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "accession": [p.accession for p in proteins],
        "true_label": [p.label for p in proteins],
        "pred_label": [CLASSES[i] for i in probs.argmax(1)],
        "probs": [row.astype(np.float32).tolist() for row in probs],
    })


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
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = open(run_dir / ".lock", "w")  # noqa: SIM115 - held for the whole training
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise PslError(f"{run_dir}: another training is writing this run directory") from None
    foreign = sorted(p.name for p in run_dir.iterdir()
                     if p.name not in RUN_FILES and p.name != ".lock" and not p.name.startswith("."))
    if foreign and not (run_dir / "config.json").is_file():
        lock.close()
        raise PslError(f"{run_dir}: holds files a training did not write ({', '.join(foreign[:3])}); "
                       "give an empty or new --run-dir")
    recorded = None
    if (run_dir / "last.pt").is_file():
        ckpt = load_checkpoint(run_dir / "last.pt")
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
        lock.close()
        raise PslError(f"{run_dir}: holds a run made with other inputs: {'; '.join(differs[:4])}; "
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
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
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
        print(f"resuming {run_dir} after epoch {state['epoch']}", file=sys.stderr)
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
                                 "seconds": time.time() - started})
        if val_metrics["f1_macro"] > state["best_score"]:
            state["best_score"], state["best_epoch"] = val_metrics["f1_macro"], epoch + 1
            checkpoint(run_dir / "best.pt")
            checkpoint(run_dir / "model.pt", weights_only=True)
        checkpoint(last)
        print(f"epoch {epoch + 1}: train loss {total / max(seen, 1):.4f}, val acc {val_metrics['accuracy']:.3f}, "
              f"val macro-F1 {val_metrics['f1_macro']:.3f}", file=sys.stderr, flush=True)

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
