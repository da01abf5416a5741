"""A run directory: one trained model and everything the stages wrote about it.

A run directory holds ``config.json`` (what it was trained with), ``metrics.json`` (written last
by training: its presence means the training finished), the weights (``best.pt``/``last.pt`` while
training, ``model.pt`` weights only), the predictions, and the outputs of the analysis stages
(``pslmodels.stages``). :class:`RunDir` is the one place that knows these names, reads them with
one-line errors, writes them atomically, and decides whether a stage is already done.

>>> RunDir("runs/bilstm-att-s0").name
'bilstm-att-s0'
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import torch

from pslindex.errors import PslError, first_line
from pslindex.files import atomic_output, write_json
from pslmodels.data import Protein, data_path, read_fasta, split
from pslmodels.model import ModelConfig, PresetPooled, PslModel

STAGES_DIR = ".stages"  # one <stage>.json per finished analysis stage: its options and outputs


def git_commit() -> str:
    """The checkout's commit, recorded in every run ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when there is one), ``cpu`` or ``cuda``; PslError for CUDA without a device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise PslError(f"--device {name!r}: choose auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise PslError("--device cuda: no CUDA device is available")
    return torch.device(name)


def set_threads(threads: int = 0) -> int:
    """Torch CPU threads for this process: ``threads``, else $OMP_NUM_THREADS (what a scheduler gives), else
    torch's default (all cores). Two jobs side by side each given 1 never oversubscribe two cores."""
    if threads < 0:
        raise PslError(f"--threads {threads}: must not be negative")
    if not threads and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely (``weights_only=True``: tensors and plain Python values only)."""
    path = Path(path)
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

    ``which``: ``best`` (falls back to the weights-only ``model.pt`` of a kept run) or ``last``.
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


def run_split(ckpt: dict, which: str = "test") -> list[Protein]:
    """The test or validation proteins of the run a checkpoint came from (its data, fraction and seed)."""
    cfg = ckpt["train_config"]
    _, val, test = split(read_fasta(data_path(cfg["data"])), val_fraction=cfg["val_fraction"], seed=cfg["seed"])
    return test if which == "test" else val


class RunDir:
    """One trained model's directory (see the module docstring for what it holds).

    ``out``: where the analysis stages write (default: the run directory itself). A kept run in the
    repository (weights and small results only) can thus be analysed into a scratch folder.
    """

    def __init__(self, path: str | Path, out: str | Path | None = None):
        self.path = Path(path)
        self.out = Path(out) if out is not None else self.path

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}" + (f", out={str(self.out)!r})" if self.out != self.path else ")")

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """An output of this run's stages (under ``out``)."""
        return self.out / name

    def read_json(self, name: str) -> dict:
        """``config.json``, ``metrics.json``...: a dict, or a one-line PslError naming the file."""
        path = self.path / name
        if not path.is_file():
            raise PslError(f"{path}: missing; is {self.path} a finished training run?")
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise PslError(f"{path}: damaged ({first_line(exc)}); re-run the training into a new run "
                           "directory") from None
        if not isinstance(value, dict):
            raise PslError(f"{path}: damaged (not a JSON object)")
        return value

    @property
    def config(self) -> dict:
        return self.read_json("config.json")

    @property
    def metrics(self) -> dict:
        return self.read_json("metrics.json")

    @property
    def trained(self) -> bool:
        """Training finished: ``metrics.json`` is written last."""
        return (self.path / "metrics.json").is_file()

    def load_model(self, which: str = "best"):
        return load_model(self.path, which)

    def split(self, which: str = "test") -> list[Protein]:
        """The run's own test or validation proteins (its data file, fraction and seed, from config.json)."""
        return run_split({"train_config": self.config["train"]}, which)

    def write_json(self, name: str, value) -> Path:
        path = self.file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, value)
        return path

    def write_frame(self, name: str, frame: pd.DataFrame) -> Path:
        """Parquet or CSV by suffix, atomically."""
        path = self.file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            if path.suffix == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
        return path

    # -- the one "is this stage done" rule -------------------------------------------------------
    def done(self, stage: str, options: dict) -> bool:
        """Stage ``stage`` finished with exactly ``options`` and every output it listed is still there."""
        record = self.file(f"{STAGES_DIR}/{stage}.json")
        try:
            value = json.loads(record.read_text())
        except (OSError, ValueError):
            return False
        return (value.get("options") == json.loads(json.dumps(options))
                and all(self.file(name).exists() for name in value.get("outputs", [])))

    def mark_done(self, stage: str, options: dict, outputs: list[str], started: float) -> None:
        """Record that ``stage`` finished (written last, after its outputs)."""
        self.write_json(f"{STAGES_DIR}/{stage}.json", {"options": options, "outputs": outputs,
                                                     "seconds": round(time.time() - started, 1)})
