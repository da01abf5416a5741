"""Per-residue attributions behind one interface, exported to ``attributions.parquet`` (SPEC 5).

``python -m pslmodels.attribute RUN_DIR --methods attention ig permuted random uniform [--split test]``

Every method is an :class:`Attribution` with a ``name`` (the ``method`` column) and
``attribute(model, batch) -> AttributionResult``: scores of shape (B, L) over the residues the
model saw, plus the class probabilities the model gives *under that method* (for the attention
replacements, the prediction with the replaced weights, so the confidence change is visible).
Scores are mapped back to full-sequence coordinates in one place (:func:`rows_for_batch`), NaN
where the model never saw a residue.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output, check_output_file
from pslmodels.data import Batch, batches, stratified_subset, to_full_coordinates
from pslmodels.model import PslModel, replace_attention
from pslmodels.runs import load_model, pick_device, run_split, set_threads


@dataclass
class AttributionResult:
    scores: torch.Tensor            # (B, L), 0 on padding
    probs: torch.Tensor             # (B, n_classes)
    delta: torch.Tensor | None = None  # (B,) IG convergence delta, else None


class Attribution:
    """Base class: subclasses set ``name`` and implement ``_attribute``."""

    name = "base"
    needs_attention = False

    def check(self, model: PslModel) -> None:
        """Raise PslError if this method cannot explain ``model``."""
        if self.needs_attention and not model.has_attention:
            raise PslError(f"method {self.name!r} needs a model that pools with attention; "
                           f"{model.config.arch} does not")

    def attribute(self, model: PslModel, batch: Batch) -> AttributionResult:
        self.check(model)
        model.eval()
        return self._attribute(model, batch)

    def _attribute(self, model, batch) -> AttributionResult:
        raise NotImplementedError


class TrainedAttention(Attribution):
    """The model's own attention weights alpha."""

    name = "attention"
    needs_attention = True

    @torch.no_grad()
    def _attribute(self, model, batch):
        logits, alpha = model(batch.tokens, batch.lengths)
        return AttributionResult(alpha, torch.softmax(logits, 1))


class ReplacedAttention(Attribution):
    """Uniform, permuted, shifted or random weights in place of the trained attention (at inference)."""

    needs_attention = True

    def __init__(self, mode: str, seed: int = 0):
        self.name = mode
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def _attribute(self, model, batch):
        _, alpha = model(batch.tokens, batch.lengths)
        weights = replace_attention(alpha, batch.lengths, self.name, self.generator)
        logits, used = model(batch.tokens, batch.lengths, attention=weights)
        return AttributionResult(used, torch.softmax(logits, 1))


class IntegratedGradients(Attribution):
    """Captum's LayerIntegratedGradients on the embedding layer, summed over embedding dimensions.

    Baseline: all-padding tokens (a zero embedding); target: the predicted class. Rows whose
    convergence delta exceeds ``tolerance`` (in logit units) are recomputed with twice the steps,
    up to ``max_steps``; the delta actually reached is returned.
    """

    name = "ig"

    def __init__(self, n_steps: int = 32, internal_batch_size: int = 64, tolerance: float = 0.05,
                 max_steps: int = 256):
        self.n_steps, self.internal_batch_size = n_steps, internal_batch_size
        self.tolerance, self.max_steps = tolerance, max_steps

    def _attribute(self, model, batch):
        from captum.attr import LayerIntegratedGradients

        def forward(tokens, lengths):
            return model(tokens, lengths)[0]

        with torch.no_grad():
            probs = torch.softmax(forward(batch.tokens, batch.lengths), 1)
        target = probs.argmax(1)
        lig = LayerIntegratedGradients(forward, model.embed)
        # cuDNN refuses RNN backward passes in eval mode; the plain CUDA kernels do not.
        with torch.backends.cudnn.flags(enabled=False):
            scores, delta = self._run(lig, batch, target, self.n_steps)
            steps = self.n_steps
            while (delta.abs() > self.tolerance).any() and steps * 2 <= self.max_steps:
                steps *= 2
                redo = torch.nonzero(delta.abs() > self.tolerance, as_tuple=True)[0]
                sub = Batch(batch.tokens[redo], batch.lengths[redo], batch.labels[redo], [])
                s2, d2 = self._run(lig, sub, target[redo], steps)
                scores[redo, :s2.shape[1]], delta[redo] = s2, d2
        positions = torch.arange(batch.tokens.shape[1], device=scores.device)[None]
        mask = positions < batch.lengths.to(scores.device)[:, None]
        return AttributionResult(scores * mask, probs, delta)

    def _run(self, lig, batch, target, n_steps):
        attributions, delta = lig.attribute(
            batch.tokens, baselines=torch.zeros_like(batch.tokens), target=target,
            additional_forward_args=(batch.lengths,), n_steps=n_steps,
            internal_batch_size=self.internal_batch_size, return_convergence_delta=True)
        return attributions.sum(-1).detach(), delta.detach()


REPLACEMENTS = ("uniform", "permuted", "shifted", "random", "random-logits")


def make_method(name: str, seed: int = 0, **ig_options) -> Attribution:
    """The attribution method called ``name`` (attention, ig, or one of :data:`REPLACEMENTS`)."""
    if name == "attention":
        return TrainedAttention()
    if name in REPLACEMENTS:
        return ReplacedAttention(name, seed)
    if name == "ig":
        return IntegratedGradients(**ig_options)
    raise PslError(f"unknown attribution method {name!r}; "
                   f"choose from attention, ig, {', '.join(REPLACEMENTS)}")


def rows_for_batch(batch: Batch, result: AttributionResult, *, run_id: str, model_name: str, method: str) -> list[dict]:
    """SPEC 5 rows for one batch: scores in full-sequence coordinates, NaN where unseen."""
    scores = result.scores.detach().cpu().numpy()
    probs = result.probs.detach().cpu().numpy()
    rows = []
    for i, protein in enumerate(batch.proteins):
        n = int(batch.lengths[i])
        row = {"run_id": run_id, "model": model_name, "method": method, "accession": protein.accession,
               "sequence": protein.sequence, "true_label": protein.label,
               "pred_label": CLASSES[int(probs[i].argmax())], "probs": probs[i].astype(np.float32).tolist(),
               "scores": to_full_coordinates(scores[i, :n], len(protein.sequence)).tolist()}
        row["ig_delta"] = float(result.delta[i]) if result.delta is not None else None
        rows.append(row)
    return rows


def attribute_proteins(model: PslModel, proteins, methods: list[Attribution], *, run_id: str,
                       batch_size: int = 16, device: torch.device | str = "cpu", progress: bool = True
                       ) -> pd.DataFrame:
    """Run every method over ``proteins``; one row per (protein, method)."""
    model.to(device)
    rows = []
    for method in methods:
        total = (len(proteins) + batch_size - 1) // batch_size
        for batch in tqdm(batches(proteins, batch_size), total=total, desc=method.name, disable=not progress):
            batch = batch.to(device)
            rows.extend(rows_for_batch(batch, method.attribute(model, batch), run_id=run_id,
                                       model_name=model.config.arch, method=method.name))
    frame = pd.DataFrame(rows)
    frame["probs"] = frame["probs"].map(lambda v: np.asarray(v, dtype=np.float32))
    frame["scores"] = frame["scores"].map(lambda v: np.asarray(v, dtype=np.float32))
    return frame


def kendall_tau(frame: pd.DataFrame, a: str = "attention", b: str = "ig") -> pd.DataFrame:
    """Kendall tau between two methods' scores per protein, over the residues both scored."""
    from scipy.stats import kendalltau

    left = frame[frame.method == a].set_index("accession").scores
    right = frame[frame.method == b].set_index("accession").scores
    out = []
    for acc in left.index.intersection(right.index):
        x, y = np.asarray(left[acc]), np.asarray(right[acc])
        seen = ~(np.isnan(x) | np.isnan(y))
        out.append({"accession": acc, "tau": float(kendalltau(x[seen], y[seen]).statistic)})
    return pd.DataFrame(out, columns=["accession", "tau"])


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.attribute", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--methods", nargs="+", default=["attention", "ig", "permuted", "random", "uniform"],
                        metavar="METHOD", help=f"one or more of attention, ig, {', '.join(REPLACEMENTS)} "
                                               "(e.g. --methods attention ig); default: attention ig permuted random "
                                               "uniform")
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--limit", type=int, default=0, help="a seeded, stratified subset of N proteins")
    parser.add_argument("--signals-only", action="store_true",
                        help="only proteins with annotated sorting signals (for pslmodels.plausibility)")
    parser.add_argument("--seed", type=int, default=0, help="for permuted/random weights and --limit")
    parser.add_argument("--ig-steps", type=int, default=32)
    parser.add_argument("--ig-tolerance", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/attributions.parquet")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args.threads)
    if args.ig_steps < 1 or args.batch_size < 1 or args.limit < 0 or not 0 <= args.ig_tolerance < float("inf"):
        raise PslError(f"--ig-steps {args.ig_steps}, --batch-size {args.batch_size}, --limit {args.limit}, "
                       f"--ig-tolerance {args.ig_tolerance}: need steps and batch size >= 1, a limit >= 0 and a "
                       "finite tolerance >= 0")
    # the comma-separated spelling of earlier releases still works: --methods attention,ig
    names = [m.strip() for arg in args.methods for m in arg.split(",") if m.strip()]
    if not names:
        raise PslError(f"--methods {' '.join(args.methods)!r}: name at least one method")
    out = check_output_file(args.out or Path(args.run_dir) / "attributions.parquet")  # before the work
    model, ckpt = load_model(args.run_dir)
    methods = [make_method(m, args.seed, n_steps=args.ig_steps, tolerance=args.ig_tolerance) for m in names]
    for m in methods:  # before any work, not after the first batch
        m.check(model)
    proteins = run_split(ckpt, args.split)
    if args.signals_only:
        from pslmodels.signals import signal_accessions

        annotated = signal_accessions()
        proteins = [p for p in proteins if p.accession in annotated]
    proteins = stratified_subset(proteins, args.limit, args.seed)
    run_id = f"{Path(args.run_dir).name}"
    frame = attribute_proteins(model, proteins, methods, run_id=run_id, batch_size=args.batch_size,
                               device=pick_device(args.device), progress=not args.quiet)
    with atomic_output(out) as tmp:
        frame.to_parquet(tmp, index=False)
    print(f"{len(frame)} rows ({len(proteins)} proteins x {len(methods)} methods) -> {out}")
    if {"attention", "ig"} <= {m.name for m in methods}:
        tau = kendall_tau(frame)
        tau.to_parquet(out.with_name("kendall_tau.parquet"), index=False)
        print(f"Kendall tau attention vs IG per protein: median {tau.tau.median():.3f} "
              f"(IQR {tau.tau.quantile(0.25):.3f} to {tau.tau.quantile(0.75):.3f})")
    if "ig" in {m.name for m in methods}:
        deltas = frame[frame.method == "ig"].ig_delta.abs()
        print(f"IG convergence |delta|: median {deltas.median():.4f}, max {deltas.max():.4f} (logit units)")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
