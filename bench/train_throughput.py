"""Training throughput of the paper preset: length-bucketed batches against fixed 1000 padding.

    python bench/train_throughput.py [--model bilstm-att] [--proteins 160] [--batch-size 5] [--threads 1]
    python bench/train_throughput.py --parallel [--proteins 160]

Times training steps (forward, backward, Adam) over the same seeded slice of the training set,
both ways, in the same run: every batch padded to 1000 and run as if it were all residues (the
naive way), against length-bucketed batches run with each protein's exact length (pslmodels'
BiLSTM: padding only follows real residues, no PackedSequence). Prints sequences/s, the ratio
(target >= 1.8x) and the estimated time of one full epoch (9,960 training proteins) for each.

``--parallel``: how to spend the cores on many trainings (the workflow's choice): one process with
all cores' threads against one single-thread process per core side by side, the same bucketed
training steps; prints the total sequences/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from pslmodels.data import DATA_DIR, MAX_LEN, batches, read_fasta, split, stratified_subset
from pslmodels.model import ModelConfig, PslModel


def steps_per_second(model, proteins, batch_size, bucketed, pad_to=None, seed=0) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for batch in batches(proteins, batch_size, seed=seed if bucketed else None, bucketed=bucketed, pad_to=pad_to):
        lengths = batch.lengths if pad_to is None else torch.full_like(batch.lengths, pad_to)
        logits, _ = model(batch.tokens, lengths)
        loss = F.cross_entropy(logits, batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return len(proteins) / (time.perf_counter() - start)


def bench_proteins(n: int):
    train, _, _ = split(read_fasta(DATA_DIR / "deeploc" / "deeploc_data.fasta.gz"), seed=0)
    return stratified_subset(train, n, seed=0)


def worker(args) -> None:
    """One bucketed training pass; prints its sequences/s (a child process of --parallel)."""
    proteins = bench_proteins(args.proteins)
    torch.manual_seed(args.seed)
    model = PslModel(ModelConfig.from_preset(args.model, "paper"))
    print(steps_per_second(model, proteins, args.batch_size, bucketed=True, seed=args.seed), flush=True)


def parallel(args) -> None:
    cores = os.cpu_count() or 1
    base = [sys.executable, __file__, "--worker", "--model", args.model, "--proteins", str(args.proteins),
            "--batch-size", str(args.batch_size)]

    def launch(n_procs: int, threads: int) -> float:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        procs = [subprocess.Popen([*base, "--threads", str(threads), "--seed", str(i)], env=env,
                                  stdout=subprocess.PIPE, text=True) for i in range(n_procs)]
        for p in procs:
            p.communicate()
        return n_procs * args.proteins / (time.perf_counter() - start)  # startup and data loading included

    print(f"{args.model}, paper preset, batch {args.batch_size}, {args.proteins} training proteins per process, "
          f"{cores} cores; wall time includes process start and reading the data")
    one = launch(1, cores)
    print(f"1 process x {cores} threads   {one:7.2f} sequences/s")
    many = launch(cores, 1)
    print(f"{cores} processes x 1 thread  {many:7.2f} sequences/s (total)")
    print(f"ratio {cores} x 1 / 1 x {cores}: {many / one:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bilstm-att")
    parser.add_argument("--proteins", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", action="store_true", help="1 process x all cores vs 1 process per core")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        return worker(args)
    if args.parallel:
        return parallel(args)
    proteins = bench_proteins(args.proteins)
    mean_len = sum(min(len(p.sequence), MAX_LEN) for p in proteins) / len(proteins)
    print(f"{args.model}, paper preset, batch {args.batch_size}, {len(proteins)} training proteins "
          f"(mean length {mean_len:.0f}), {args.threads} thread(s)")
    results = {}
    for name, kwargs in (("fixed 1000 padding (baseline)", dict(bucketed=False, pad_to=MAX_LEN)),
                         ("bucketed, exact lengths (ours)", dict(bucketed=True))):
        torch.manual_seed(0)
        model = PslModel(ModelConfig.from_preset(args.model, "paper"))
        rate = steps_per_second(model, proteins, args.batch_size, **kwargs)
        results[name] = rate
        print(f"{name:<32} {rate:7.2f} sequences/s   full epoch (9,960) ~ {9960 / rate / 60:6.1f} min")
    base, ours = results.values()
    print(f"ratio ours/baseline: {ours / base:.2f}x (target >= 1.8x)")


if __name__ == "__main__":
    main()
