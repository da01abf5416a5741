"""Throughput of ``psl predict`` with the shipped model: predictions alone, with attention, with IG.

    python bench/predict.py [--fasta deeploc/setHARD.fasta.gz] [--threads 2] [--ig-proteins 40]

All on the same real proteins (setHARD, 490), in one run, through :func:`pslmodels.predict.predict`
(FASTA read, model, files written; no viewer). The baseline is what a user had before: the
attribution stage's way, a prediction pass (``train.predict``, batch 32) and a separate attention
pass (``attribute_proteins``, batch 16); ours takes both from one forward pass at batch 64. Prints
proteins/s for each and the ratio. Target: predictions and attention >= 200 proteins/s on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from pslmodels.attribute import TrainedAttention, attribute_proteins
from pslmodels.data import data_path, read_fasta
from pslmodels.inference import predict as predict_probs
from pslmodels.predict import DEFAULT_MODEL, PredictOptions, predict
from pslmodels.runs import load_model


def ours(fasta: Path, explain: tuple[str, ...], threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        summary = predict(fasta, Path(tmp) / "out", PredictOptions(explain=explain, view_limit=0, progress=False,
                                                                    threads=threads))
    return summary["proteins"] / summary["seconds"]


def baseline(fasta: Path) -> float:
    start = time.perf_counter()
    proteins = read_fasta(fasta, require_labels=False)
    model, _ = load_model(DEFAULT_MODEL)
    predict_probs(model, proteins, torch.device("cpu"))
    attribute_proteins(model, proteins, [TrainedAttention()], run_id="default", progress=False)
    return len(proteins) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fasta", default="deeploc/setHARD.fasta.gz")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ig-proteins", type=int, default=40, help="IG is slow: time it on the first N proteins")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fasta = data_path(args.fasta)
    print(f"{fasta.name}, {args.threads} torch thread(s), shipped model {DEFAULT_MODEL.name}")
    ours((fasta), ("attention",), args.threads)  # warm-up: imports, first allocations
    rates = {"predictions only": ours(fasta, (), args.threads),
             "with attention": ours(fasta, ("attention",), args.threads)}
    base = baseline(fasta)
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.fasta"
        proteins = read_fasta(fasta, require_labels=False)[:args.ig_proteins]
        subset.write_text("".join(f">{p.accession}\n{p.sequence}\n" for p in proteins))
        rates[f"with IG ({len(proteins)} proteins)"] = ours(subset, ("attention", "ig"), args.threads)
    for name, rate in rates.items():
        print(f"{name:<26} {rate:8.1f} proteins/s")
    print(f"{'baseline (2 passes)':<26} {base:8.1f} proteins/s; predict with attention is "
          f"{rates['with attention'] / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
