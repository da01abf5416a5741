"""``python -m pslmodels.diagnose RUN_DIR [--seeds 3] [--split test]``: does the trained attention matter?

Experiments I and III of the study, at inference: the trained attention against uniform,
permuted and random weights (permuted and random with several seeds). For each mode: F1 micro and
macro, the change of the output distribution against the model's own prediction (mean Jensen-Shannon
divergence, base 2, and mean total variation distance), and how often the predicted label flips.
Writes ``RUN_DIR/diagnostics.csv`` and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output
from pslmodels.attribute import ReplacedAttention, TrainedAttention
from pslmodels.data import stratified_subset
from pslmodels.inference import predict
from pslmodels.metrics import classification_metrics
from pslmodels.runs import load_model, pick_device, run_split, set_threads


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen-Shannon divergence in bits, shapes (n, k) -> (n,)."""
    m = (p + q) / 2

    def kl(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log2(a / b), 0.0).sum(1)

    return (kl(p, m) + kl(q, m)) / 2


def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise total variation distance, shapes (n, k) -> (n,)."""
    return np.abs(p - q).sum(1) / 2


def diagnose(model, proteins, *, seeds: int = 3, device="cpu") -> pd.DataFrame:
    """One row per mode (and seed): f1_micro, f1_macro, jsd, tvd, flip_rate."""
    if not model.has_attention:
        raise PslError(f"{model.config.arch} pools without attention: nothing to diagnose")
    model.to(device)
    y = np.array([p.y for p in proteins])
    base = predict(model, proteins, device, method=TrainedAttention())
    modes = [("trained", None, TrainedAttention())] + [("uniform", None, ReplacedAttention("uniform"))]
    modes += [(m, s, ReplacedAttention(m, s)) for m in ("permuted", "random", "random-logits") for s in range(seeds)]
    rows = []
    for mode, seed, method in modes:
        probs = base if mode == "trained" else predict(model, proteins, device, method=method)
        m = classification_metrics(y, probs.argmax(1))
        rows.append({"mode": mode, "seed": seed, "f1_micro": m["f1_micro"], "f1_macro": m["f1_macro"],
                     "jsd": float(jensen_shannon(base, probs).mean()),
                     "tvd": float(total_variation(base, probs).mean()),
                     "flip_rate": float((probs.argmax(1) != base.argmax(1)).mean())})
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean +- sd over seeds per mode."""
    agg = table.groupby("mode", sort=False)[["f1_micro", "f1_macro", "jsd", "tvd", "flip_rate"]]
    mean, sd = agg.mean(), agg.std(ddof=1).fillna(0.0)
    return pd.DataFrame({c: [f"{a:.3f} ± {b:.3f}" if b else f"{a:.3f}" for a, b in zip(mean[c], sd[c], strict=True)]
                         for c in mean.columns}, index=mean.index)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.diagnose", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--seeds", type=int, default=3, help="seeds for permuted and random weights")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args.threads)
    if args.seeds < 1 or args.limit < 0:  # before any work
        raise PslError(f"--seeds {args.seeds}, --limit {args.limit}: need at least 1 seed and a limit >= 0")
    model, ckpt = load_model(args.run_dir)
    proteins = stratified_subset(run_split(ckpt, args.split), args.limit, ckpt["train_config"]["seed"])
    table = diagnose(model, proteins, seeds=args.seeds, device=pick_device(args.device))
    with atomic_output(Path(args.run_dir) / "diagnostics.csv") as tmp:
        table.to_csv(tmp, index=False)
    print(f"{model.config.arch} from {args.run_dir}, {args.split} split, {len(proteins)} proteins")
    print(summarize(table).to_string())
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
