"""``make demo`` / ``python -m pslmodels.demo``: the whole study in small, on real data, in ~15 minutes on CPU.

1. the Swiss-Prot location index (built if absent: ``make index``);
2. train ``bilstm-att`` (paper preset) for a few epochs on a stratified part of the DeepLoc
   training set;
3. diagnostics: trained attention against uniform, permuted and random weights;
4. attributions of test proteins: attention, shifted, permuted, random, uniform, and Integrated
   Gradients on a smaller subset;
5. hit rates of the extracted peptides against Swiss-Prot;
6. plausibility against annotated sorting signals, and the HTML viewer of every attributed protein;
7. the tables, and where every file is.

Everything is seeded; running it again reuses what is already there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

from build_index.build import build
from pslindex.attributions import EXPLANATIONS, drop_unsound_ig, ig_summary
from pslindex.errors import ArgumentParser, cli_main
from pslindex.hitrate import format_groups
from pslindex.store import DEFAULT_INDEX_DIR, index_file
from pslmodels.diagnose import summarize
from pslmodels.paper import published_table1
from pslmodels.plausibility import format_margins, format_table, learn_priors, per_protein, positional_margins
from pslmodels.plausibility import summarize as summarize_plausibility
from pslmodels.signals import DEFAULT_SIGNALS, read_signals
from pslmodels.stages import (
    AttributeOptions,
    DiagnoseOptions,
    HitRateStageOptions,
    attribute_stage,
    diagnose_stage,
    hitrate_dir,
    hitrate_stage,
    train_stage,
)
from pslmodels.train import TrainConfig, check_config
from pslmodels.view import write_viewer


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo-bilstm-att"))
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-train", type=int, default=3000, help="training proteins (stratified subset)")
    parser.add_argument("--test-proteins", type=int, default=1000, help="test proteins to attribute")
    parser.add_argument("--ig-proteins", type=int, default=100, help="of which Integrated Gradients and occlusion")
    parser.add_argument("--ig-steps", type=int, default=32, help="IG steps; doubled once where the delta is large")
    parser.add_argument("--max-eval", type=int, default=0, help="validation/test subset while training (tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    return parser


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # every option checked before the index is built or a model trained
    diagnose_options = DiagnoseOptions(proteins=args.test_proteins, seeds=3, seed=args.seed, device=args.device)
    attribute_options = AttributeOptions(proteins=args.test_proteins, ig_proteins=args.ig_proteins,
                                         ig_steps=args.ig_steps, occlusion_proteins=args.ig_proteins, seed=args.seed,
                                         device=args.device)
    for options in (diagnose_options, attribute_options, HitRateStageOptions(index=str(args.index), seed=args.seed)):
        options.check()
    cfg = TrainConfig(model="bilstm-att", preset="paper", epochs=args.epochs, max_train=args.max_train,
                      max_eval=args.max_eval, seed=args.seed, device=args.device, run_dir=str(args.run_dir),
                      quiet=True)
    check_config(cfg)
    started = time.time()
    if not index_file(args.index).is_file():
        step("Swiss-Prot location index (absent: building it)")
        build(args.index, progress=False)

    step(f"training bilstm-att (paper preset, {args.epochs} epochs, {args.max_train} training proteins)")
    run = train_stage(cfg)
    metrics = run.metrics

    step(f"diagnostics, attributions (attention, shifted, permuted, random, uniform on {args.test_proteins} "
         f"test proteins; IG and occlusion on {args.ig_proteins}) and hit rates against Swiss-Prot")
    diagnose_stage(run, diagnose_options)
    attribute_stage(run, attribute_options)
    hitrate_stage(run, HitRateStageOptions(index=str(args.index), seed=args.seed))
    attributions = pd.read_parquet(args.run_dir / "attributions.parquet")

    excluded = args.run_dir / hitrate_dir("spec", exclude_homologs=True)
    if shutil.which("mmseqs"):
        step("hit rates again, each protein's homologs left out (MMseqs2 search, cached beside the index)")
        hitrate_stage(run, HitRateStageOptions(index=str(args.index), exclude_homologs=True, seed=args.seed))
    else:
        print("mmseqs not installed: the homolog-excluded hit rate is skipped (make setup installs it as root)")

    step("plausibility against annotated sorting signals, with positional baselines, and the viewer")
    signals = read_signals(DEFAULT_SIGNALS)
    priors = {(args.run_dir.name, m): p for m, p in
              learn_priors(args.run_dir, ["attention"], proteins=300, seed=args.seed).items()}
    sound, _ = drop_unsound_ig(attributions[attributions.method.isin(EXPLANATIONS)])
    per = per_protein(sound, signals, seed=args.seed, priors=priors)
    html_file = args.run_dir / "attributions.html"
    records = write_viewer(attributions, html_file, hitrates=args.run_dir / "hitrate", signals=signals,
                           title="attributions.parquet: attributions",
                           source=str(args.run_dir / "attributions.parquet"))
    print(f"{len(records)} protein(s) -> {html_file}")

    step("results")
    t = metrics["test"]
    paper = published_table1("bilstm-att") or (float("nan"), float("nan"))
    print(f"Table 1 (official DeepLoc test partition, n={t['n']}): bilstm-att accuracy {t['accuracy']:.3f}, "
          f"macro-F1 {t['f1_macro']:.3f}, MCC {t['mcc']:.3f}  (paper, full training, random split: "
          f"{paper[0]:.3f} / {paper[1]:.3f}; this demo trained {metrics['epochs_run']} epochs on "
          f"{metrics['n_train']} proteins)")
    diag = pd.read_csv(args.run_dir / "diagnostics.csv")
    print("\nAttention diagnostics (mean ± sd over 3 seeds; JSD/TVD against the trained-attention output):")
    print(summarize(diag).to_string())
    taus = pd.read_parquet(args.run_dir / "kendall_tau.parquet")
    print()
    for versus, tau in taus.groupby("versus"):
        print(f"Kendall tau, attention vs {versus}, {len(tau)} proteins: median {tau.tau.median():.3f}")
    print(ig_summary(attributions))
    with duckdb.connect(str(args.run_dir / "hitrate" / "hitrates.duckdb"), read_only=True) as con:
        groups = con.execute("SELECT * FROM groups").df()
    print("\nHit rates (Tables 2-3), each beside its chance control (20 rotations of the protein's own scores):")
    print(format_groups(groups))
    if (excluded / "hitrates.duckdb").is_file():
        with duckdb.connect(str(excluded / "hitrates.duckdb"), read_only=True) as con:
            print("\nThe same with every protein's homologs left out (SPEC 9.1):")
            print(format_groups(con.execute("SELECT * FROM groups").df()))
    if not per.empty:
        table = format_table(summarize_plausibility(per), signals=("any",))
        print(f"\nPlausibility, {per.accession.nunique()} test proteins with annotated sorting signals (any type):")
        print(table.drop(columns=["model", "signal"]).to_string(index=False))
        margins = positional_margins(per, n_boot=2000, seed=args.seed)
        shown = margins[margins.metric == "auprc"]
        print("\nAUPRC margin over the best positional baseline, per signal type (SPEC 9.3):")
        print(format_margins(shown).drop(columns=["model", "metric"]).to_string(index=False))
    print(f"\nfiles: {args.run_dir}/metrics.json, diagnostics.csv, attributions.parquet, "
          f"hitrate/hitrates.duckdb, hitrate/hitrates.parquet; viewer: {html_file} (open it in a browser)")
    print(f"demo finished in {(time.time() - started) / 60:.1f} min")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
