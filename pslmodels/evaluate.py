"""``python -m pslmodels.evaluate RUN_DIR [--fasta FILE] [--out predictions.parquet]``

Re-scores a trained run on any DeepLoc-style FASTA (default: the run's own test partition), e.g.
setHARD. With labels it prints the metrics (SPEC 8); without, it writes predictions only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output, check_output_file
from pslmodels.data import read_fasta
from pslmodels.inference import predict, predictions_frame
from pslmodels.metrics import classification_metrics
from pslmodels.runs import load_model, pick_device, run_split, set_threads


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--fasta", type=Path, default=None, help="default: the test partition of the run's data")
    parser.add_argument("--out", type=Path, default=None, help="write predictions here (Parquet)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N proteins")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args.threads)
    if args.limit < 0:  # proteins[:-3] would silently drop the last three
        raise PslError(f"--limit {args.limit}: must not be negative (0 = all)")
    if args.out:
        check_output_file(args.out)  # before the work
    model, ckpt = load_model(args.run_dir)
    device = pick_device(args.device)
    model.to(device)
    if args.fasta is None:
        proteins = run_split(ckpt, "test")
        source = Path(ckpt["train_config"]["data"])
    else:
        proteins = read_fasta(args.fasta, require_labels=False)
        source = args.fasta
    if args.limit:
        proteins = proteins[:args.limit]
    probs = predict(model, proteins, device)  # an mlp-preset model comes with its teacher (load_model)
    if args.out:
        with atomic_output(args.out) as tmp:
            predictions_frame(proteins, probs).to_parquet(tmp, index=False)
    print(f"{source.name}: {len(proteins)} proteins, model {model.config.arch} from {args.run_dir}")
    labelled = [i for i, p in enumerate(proteins) if p.label is not None]
    if labelled:
        m = classification_metrics([proteins[i].y for i in labelled], probs[labelled].argmax(1))
        print(json.dumps({k: m[k] for k in ("n", "accuracy", "f1_micro", "f1_macro", "mcc")}, indent=1))
    else:
        print(f"no labels: predictions only ({np.bincount(probs.argmax(1), minlength=10).tolist()} per class)")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
