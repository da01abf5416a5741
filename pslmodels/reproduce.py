"""``make reproduce`` / ``python -m pslmodels.reproduce``: the whole study, every model, several seeds.

For each seed, in this order (so a run cut short still holds complete seeds): train every model of
Table 1 (plus the MLP diagnostic trio, ``mlp-preset`` taking the weights of the same seed's
``bilstm-att``); then, for every model that pools with trained attention: the diagnostics (trained
vs uniform, permuted and random weights), attributions of test proteins (attention, shifted,
permuted, random, uniform; Integrated Gradients on a subset), Kendall tau attention vs IG, the hit
rates, and the plausibility against annotated sorting signals (attention and IG of every test
protein that has them, ``pslmodels.plausibility``). After every finished model the report
(``pslmodels.report``) is rebuilt from the run directories.

Re-running resumes: finished trainings and analyses are skipped, an interrupted training continues
from its ``last.pt``. The full schedule (50 epochs, all training proteins) takes hours per model on
CPU; ``--epochs``/``--max-train`` give a smaller, documented budget (the report states it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from pslindex import hitrate
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output
from pslindex.store import DEFAULT_INDEX_DIR, index_file
from pslmodels.attribute import attribute_proteins, kendall_tau, make_method
from pslmodels.diagnose import diagnose
from pslmodels.model import ARCHS
from pslmodels.plausibility import DEFAULT_SIGNALS, per_protein, read_signals
from pslmodels.train import TrainConfig, load_model, pick_device, run_split, stratified_subset, train

# Table 1 of the study, then the token-level MLP diagnostic (Experiment II).
STUDY_MODELS = ("bilstm", "bilstm-att", "bilstm-uniform", "cnn35", "cnn35-att", "cnn3-5-7-11",
                "cnn3-5-7-11-att", "mlp-uniform", "mlp-trained", "mlp-preset")
TEACHER = "bilstm-att"  # whose attention mlp-preset pools with
ANALYSIS_METHODS = ("attention", "shifted", "permuted", "random", "random-logits", "uniform")


def analyse_run(run_dir: Path, *, index: Path, test_proteins: int = 1000, ig_proteins: int = 100,
                ig_steps: int = 32, diag_seeds: int = 3, seed: int = 0, device: str = "auto",
                progress: bool = False) -> dict:
    """Diagnostics, attributions and hit rates of one trained run that pools with attention.

    Writes ``diagnostics.csv``, ``attributions.parquet``, ``kendall_tau.parquet`` and ``hitrate/``
    into ``run_dir``; ``analysis.json`` records the options, so a second call with the same options
    does nothing. ``test_proteins`` / ``ig_proteins``: seeded, stratified subsets of the test
    partition (0 = all). Returns the options dict.
    """
    run_dir = Path(run_dir)
    options = {"test_proteins": test_proteins, "ig_proteins": ig_proteins, "ig_steps": ig_steps,
               "diag_seeds": diag_seeds, "seed": seed}
    done_file = run_dir / "analysis.json"
    if done_file.is_file() and json.loads(done_file.read_text()).get("options") == options:
        return options
    started = time.time()
    model, ckpt = load_model(run_dir)
    dev = pick_device(device)
    proteins = stratified_subset(run_split(ckpt, "test"), test_proteins, seed)
    ig_set = stratified_subset(proteins, ig_proteins, seed)

    diagnose(model, proteins, seeds=diag_seeds, device=dev).to_csv(run_dir / "diagnostics.csv", index=False)
    run_id = run_dir.name
    frames = [attribute_proteins(model, proteins, [make_method(m, seed) for m in ANALYSIS_METHODS],
                                 run_id=run_id, device=dev, progress=progress)]
    frames.append(attribute_proteins(model, ig_set, [make_method("ig", n_steps=ig_steps, max_steps=2 * ig_steps)],
                                     run_id=run_id, device=dev, progress=progress))
    attributions = pd.concat(frames, ignore_index=True)
    attr_file = run_dir / "attributions.parquet"
    with atomic_output(attr_file) as tmp:
        attributions.to_parquet(tmp, index=False)
    kendall_tau(attributions).to_parquet(run_dir / "kendall_tau.parquet", index=False)
    if hitrate.main([str(attr_file), "--index", str(index), "--out", str(run_dir / "hitrate")]) != 0:
        raise PslError(f"{run_dir}: hit rate failed; see above")
    done_file.write_text(json.dumps({"options": options, "seconds": round(time.time() - started, 1)}, indent=1))
    return options


def analyse_signals(run_dir: Path, *, methods=("attention", "ig"), limit: int = 0, ig_steps: int = 32,
                    seed: int = 0, device: str = "auto", signals: Path = DEFAULT_SIGNALS, progress: bool = False
                    ) -> Path:
    """Plausibility of one run: attribute every test protein with annotated sorting signals, score it.

    ``limit`` > 0: a seeded, stratified subset of them. Writes ``attributions_signals.parquet`` and
    ``plausibility_proteins.parquet`` (one row per protein, method or baseline, and signal type; see
    :mod:`pslmodels.plausibility`) into ``run_dir``; does nothing if the latter exists. Returns its path.
    """
    run_dir = Path(run_dir)
    out = run_dir / "plausibility_proteins.parquet"
    if out.is_file():
        return out
    table = read_signals(signals)
    model, ckpt = load_model(run_dir)
    annotated = set(table.accession)
    proteins = [p for p in run_split(ckpt, "test") if p.accession in annotated]
    proteins = stratified_subset(proteins, limit, seed)
    frame = attribute_proteins(model, proteins, [make_method(m, seed, n_steps=ig_steps, max_steps=2 * ig_steps)
                                                 for m in methods],
                               run_id=run_dir.name, device=pick_device(device), progress=progress)
    frame.to_parquet(run_dir / "attributions_signals.parquet", index=False)
    with atomic_output(out) as tmp:
        per_protein(frame, table, seed=seed).to_parquet(tmp, index=False)
    return out


def trained(cfg: TrainConfig) -> bool:
    """Whether ``cfg``'s run directory holds a finished training with exactly this configuration."""
    run_dir = cfg.resolved_run_dir()
    config_file, metrics_file = run_dir / "config.json", run_dir / "metrics.json"
    if not (config_file.is_file() and metrics_file.is_file()):
        return False
    return json.loads(config_file.read_text()).get("train") == asdict(cfg)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/study"), help="one run directory per model and seed")
    parser.add_argument("--report", type=Path, default=Path("reports/study.md"))
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR)
    parser.add_argument("--models", default=",".join(STUDY_MODELS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--max-train", type=int, default=0, help="stratified subset of training proteins (0 = all)")
    parser.add_argument("--test-proteins", type=int, default=0, help="test proteins to diagnose/attribute (0 = all)")
    parser.add_argument("--ig-proteins", type=int, default=200, help="of which Integrated Gradients")
    parser.add_argument("--ig-steps", type=int, default=32)
    parser.add_argument("--signal-proteins", type=int, default=0,
                        help="test proteins with annotated signals to score for plausibility (0 = all, 189)")
    parser.add_argument("--max-eval", type=int, default=0,
                        help="stratified subsets of validation and test while training (tests only; 0 = all)")
    parser.add_argument("--no-signals", action="store_true",
                        help="skip the plausibility step (attention and IG of test proteins with annotated signals)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--device", default="auto")
    return parser


def run(argv=None) -> int:
    from pslmodels.report import write_report

    args = build_parser().parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in ARCHS]
    if unknown:
        raise PslError(f"--models: unknown model(s) {', '.join(unknown)}; choose from {', '.join(ARCHS)}")
    if "mlp-preset" in models and TEACHER not in models:
        raise PslError(f"--models: mlp-preset needs {TEACHER} (its teacher) in the list")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise PslError(f"--seeds {args.seeds!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not index_file(args.index).is_file():
        raise PslError(f"{args.index}: no Swiss-Prot index here; run `make index` first")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.root.mkdir(parents=True, exist_ok=True)
    plan = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (args.root / "study.json").write_text(json.dumps(plan, indent=1))
    started = time.time()
    for seed in seeds:
        for model in models:
            run_dir = args.root / f"{model}-s{seed}"
            cfg = TrainConfig(model=model, preset=args.preset, epochs=args.epochs, patience=args.patience,
                              max_train=args.max_train, max_eval=args.max_eval, seed=seed, device=args.device,
                              run_dir=str(run_dir),
                              threads=args.threads, quiet=True,
                              preset_from=str(args.root / f"{TEACHER}-s{seed}") if model == "mlp-preset" else "")
            print(f"[{(time.time() - started) / 60:6.1f} min] {model}, seed {seed}", flush=True)
            if not trained(cfg):
                train(cfg)
            if ARCHS[model]["pooling"] == "attention":
                analyse_run(run_dir, index=args.index, test_proteins=args.test_proteins,
                            ig_proteins=args.ig_proteins, ig_steps=args.ig_steps, seed=seed, device=args.device)
                if not args.no_signals:
                    analyse_signals(run_dir, limit=args.signal_proteins, ig_steps=args.ig_steps, seed=seed,
                                    device=args.device)
            write_report([args.root], args.report)
    print(f"study finished in {(time.time() - started) / 60:.1f} min; report: {args.report}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
