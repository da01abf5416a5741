"""``make demo`` / ``python -m pslmodels.demo``: the whole study in small, on real data, in ~15 minutes on CPU.

1. the Swiss-Prot location index (built if absent: ``make index``);
2. train ``bilstm-att`` (paper preset) for a few epochs on a stratified part of the DeepLoc
   training set;
3. diagnostics: trained attention against uniform, permuted and random weights;
4. attributions of test proteins: attention, permuted, random, uniform, and Integrated Gradients
   on a smaller subset;
5. hit rates of the extracted peptides against Swiss-Prot;
6. the tables, and where every file is.

Everything is seeded; running it again reuses what is already there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from build_index import __main__ as build_index_cli
from pslindex import hitrate
from pslindex.errors import PslError, cli_main
from pslindex.store import DEFAULT_INDEX_DIR, index_file
from pslmodels.attribute import attribute_proteins, kendall_tau, make_method
from pslmodels.diagnose import diagnose, summarize
from pslmodels.train import TrainConfig, load_model, pick_device, run_split, stratified_subset, train

PAPER_TABLE1 = {"bilstm-att": (0.673, 0.568)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pslmodels.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo-bilstm-att"))
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-train", type=int, default=3000, help="training proteins (stratified subset)")
    parser.add_argument("--test-proteins", type=int, default=1000, help="test proteins to attribute")
    parser.add_argument("--ig-proteins", type=int, default=100, help="of which Integrated Gradients")
    parser.add_argument("--ig-steps", type=int, default=32, help="IG steps; doubled once where the delta is large")
    parser.add_argument("--max-eval", type=int, default=0, help="validation/test subset while training (tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    return parser


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.time()
    if not index_file(args.index).is_file():
        step("Swiss-Prot location index (absent: building it)")
        if build_index_cli.main(["--out", str(args.index), "--quiet"]) != 0:
            raise PslError("building the index failed; see above")

    step(f"training bilstm-att (paper preset, {args.epochs} epochs, {args.max_train} training proteins)")
    cfg = TrainConfig(model="bilstm-att", preset="paper", epochs=args.epochs, max_train=args.max_train,
                      max_eval=args.max_eval, seed=args.seed, device=args.device, run_dir=str(args.run_dir),
                      quiet=True)
    metrics_file = args.run_dir / "metrics.json"
    metrics = None
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("epochs_run") != args.epochs or metrics.get("n_train") != args.max_train:
            metrics = None
    metrics = metrics or train(cfg)

    model, ckpt = load_model(args.run_dir)
    device = pick_device(args.device)
    proteins = stratified_subset(run_split(ckpt, "test"), args.test_proteins, args.seed)
    ig_proteins = stratified_subset(proteins, args.ig_proteins, args.seed)

    step(f"diagnostics on {len(proteins)} test proteins (Experiments I and III)")
    diag = diagnose(model, proteins, seeds=3, device=device)
    diag.to_csv(args.run_dir / "diagnostics.csv", index=False)

    step(f"attributions: attention, permuted, random, uniform on {len(proteins)} test proteins; "
         f"IG on {len(ig_proteins)}")
    run_id = args.run_dir.name
    frames = [attribute_proteins(model, proteins, [make_method(m, args.seed) for m in
                                                   ("attention", "permuted", "random", "uniform")],
                                 run_id=run_id, device=device, progress=False),
              attribute_proteins(model, ig_proteins, [make_method("ig", n_steps=args.ig_steps,
                                                                  max_steps=2 * args.ig_steps)],
                                 run_id=run_id, device=device, progress=False)]
    attributions = pd.concat(frames, ignore_index=True)
    attr_file = args.run_dir / "attributions.parquet"
    attributions.to_parquet(attr_file, index=False)
    tau = kendall_tau(attributions)

    step("hit rates against Swiss-Prot")
    out = args.run_dir / "hitrate"
    if hitrate.main([str(attr_file), "--index", str(args.index), "--out", str(out)]) != 0:
        raise PslError("hit rate failed; see above")

    step("results")
    t = metrics["test"]
    paper = PAPER_TABLE1["bilstm-att"]
    print(f"Table 1 (official DeepLoc test partition, n={t['n']}): bilstm-att accuracy {t['accuracy']:.3f}, "
          f"macro-F1 {t['f1_macro']:.3f}, MCC {t['mcc']:.3f}  (paper, full training, random split: "
          f"{paper[0]:.3f} / {paper[1]:.3f}; this demo trained {metrics['epochs_run']} epochs on "
          f"{metrics['n_train']} proteins)")
    print("\nAttention diagnostics (mean ± sd over 3 seeds; JSD/TVD against the trained-attention output):")
    print(summarize(diag).to_string())
    deltas = attributions[attributions.method == "ig"].ig_delta.abs()
    print(f"\nKendall tau, attention vs IG, {len(tau)} proteins: median {tau.tau.median():.3f}; "
          f"IG |convergence delta| median {deltas.median():.3f}, max {deltas.max():.3f} (logits)")
    print(f"\nfiles: {args.run_dir}/metrics.json, diagnostics.csv, {attr_file.name}, "
          f"hitrate/hitrates.duckdb, hitrate/hitrates.parquet")
    print(f"demo finished in {(time.time() - started) / 60:.1f} min")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
