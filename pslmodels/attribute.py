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
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pslindex.attributions import (
    IG_TOLERANCE,
    drop_unsound_ig,
    ig_error,
    ig_summary,
    pack_scores,
    write_attributions,
)
from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output, check_output_file, file_checksum
from pslmodels.data import TOKEN, Batch, batches, stratified_subset, to_full_coordinates
from pslmodels.model import PslModel, replace_attention
from pslmodels.runs import load_model, pick_device, run_split, set_threads

X_TOKEN = TOKEN["X"]  # the unknown amino acid: what occlusion puts in a residue's place


@dataclass
class AttributionResult:
    scores: torch.Tensor            # (B, L), 0 on padding
    probs: torch.Tensor             # (B, n_classes)
    delta: torch.Tensor | None = None   # (B,) IG convergence delta (logits), else None
    change: torch.Tensor | None = None  # (B,) f(x) - f(baseline) that IG must add up to, else None


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


# Integrated Gradients' completeness check (SPEC 5's ``ig_delta``): a protein's IG is sound when its
# convergence delta (sum of attributions minus f(x) - f(baseline)) is within IG_TOLERANCE of the change
# it has to account for, |f(x) - f(baseline)|, or of 1 logit where that change is smaller.
# The one definition lives in pslindex.attributions (ig_error, IG_TOLERANCE); every table uses it.


@contextmanager
def recurrent_train_mode(model: torch.nn.Module):
    """Put only the recurrent modules in training mode while gradients flow through them.

    cuDNN computes an LSTM's backward pass only in training mode; our LSTMs have no dropout of their
    own (dropout sits in separate ``nn.Dropout`` modules, which stay in eval mode), so the function
    computed is unchanged, and cuDNN stays on (switching it off made IG several times slower on a GPU).
    """
    rnns = [m for m in model.modules() if isinstance(m, torch.nn.RNNBase)]
    modes = [m.training for m in rnns]
    assert all(m.dropout == 0 for m in rnns), "an RNN with internal dropout would be changed by train mode"
    for m in rnns:
        m.train()
    try:
        yield
    finally:
        for m, mode in zip(rnns, modes, strict=True):
            m.train(mode)


class IntegratedGradients(Attribution):
    """Captum's LayerIntegratedGradients on the embedding layer, summed over embedding dimensions.

    Baseline: all-padding tokens (a zero embedding); target: the predicted class. Every row gets its
    convergence delta (logits) and the change f(x) - f(baseline) it must add up to; rows whose
    relative error (:func:`pslindex.attributions.ig_error`) exceeds ``tolerance`` are recomputed
    once with ``retry_steps`` (bounded: on the trained BiLSTMs more steps do not converge, see
    README "Integrated Gradients on recurrent models"). Consumers drop the rows still above it.
    """

    name = "ig"

    def __init__(self, n_steps: int = 32, internal_batch_size: int = 512, tolerance: float = IG_TOLERANCE,
                 retry_steps: int | None = None, max_steps: int | None = None):
        self.n_steps, self.internal_batch_size, self.tolerance = n_steps, internal_batch_size, tolerance
        # max_steps: the older name of the one retry's step count
        self.retry_steps = retry_steps if retry_steps is not None else (max_steps or 2 * n_steps)
        self.retried = 0    # rows recomputed with retry_steps, over this method's lifetime

    def _attribute(self, model, batch):
        from captum.attr import LayerIntegratedGradients

        def forward(tokens, lengths):
            return model(tokens, lengths)[0]

        baselines = torch.zeros_like(batch.tokens)
        with torch.no_grad():
            logits = forward(batch.tokens, batch.lengths)
            target = logits.argmax(1)
            rows = torch.arange(len(target), device=logits.device)
            change = (logits - forward(baselines, batch.lengths))[rows, target]
        lig = LayerIntegratedGradients(forward, model.embed)
        with recurrent_train_mode(model):
            scores, delta = self._run(lig, batch.tokens, batch.lengths, target, self.n_steps)
            bad = ig_error(delta, change) > self.tolerance
            if bad.any() and self.retry_steps > self.n_steps:
                redo = torch.nonzero(bad, as_tuple=True)[0]
                s2, d2 = self._run(lig, batch.tokens[redo], batch.lengths[redo.cpu()], target[redo],
                                   self.retry_steps)
                scores[redo, :s2.shape[1]], delta[redo] = s2, d2
                self.retried += len(redo)
        positions = torch.arange(batch.tokens.shape[1], device=scores.device)[None]
        mask = positions < batch.lengths.to(scores.device)[:, None]
        return AttributionResult(scores * mask, torch.softmax(logits, 1), delta, change)

    def _run(self, lig, tokens, lengths, target, n_steps):
        attributions, delta = lig.attribute(
            tokens, baselines=torch.zeros_like(tokens), target=target,
            additional_forward_args=(lengths,), n_steps=n_steps,
            internal_batch_size=max(self.internal_batch_size, len(tokens)), return_convergence_delta=True)
        return attributions.sum(-1).detach(), delta.detach().to(tokens.device)


class Occlusion(Attribution):
    """Occlusion (in-silico mutagenesis to X): score_i = f_t(x) - f_t(x with residue i replaced by X).

    f_t is the logit of the predicted class t; X is the unknown amino acid, so every perturbed copy is
    still a protein (SPEC 12's ``x`` perturbation). Each score is one exact forward pass: nothing is
    approximated and nothing has to converge, which is why it stands beside IG on the models where
    IG's path integral does not add up. The copies of a protein run in chunks of at most
    ``max_tokens`` residues. Cost: one forward pass per residue seen.
    """

    name = "occlusion"

    def __init__(self, max_tokens: int = 1 << 17):
        self.max_tokens = max_tokens

    @torch.no_grad()
    def _attribute(self, model, batch):
        logits, _ = model(batch.tokens, batch.lengths)
        target = logits.argmax(1)
        scores = torch.zeros(batch.tokens.shape, dtype=logits.dtype, device=logits.device)
        for i in range(len(target)):
            n = int(batch.lengths[i])
            tokens = batch.tokens[i, :n]
            base = logits[i, target[i]]
            step = max(1, self.max_tokens // n)
            for start in range(0, n, step):
                where = torch.arange(start, min(start + step, n), device=tokens.device)
                copies = tokens.repeat(len(where), 1)
                copies[torch.arange(len(where), device=tokens.device), where] = X_TOKEN
                out, _ = model(copies, torch.full((len(where),), n, dtype=torch.long))
                scores[i, where] = base - out[:, target[i]]
        return AttributionResult(scores, torch.softmax(logits, 1))


REPLACEMENTS = ("uniform", "permuted", "shifted", "random", "random-logits")


def make_method(name: str, seed: int = 0, *, occlusion_tokens: int = 1 << 17, **ig_options) -> Attribution:
    """The attribution method called ``name`` (attention, ig, occlusion, or one of :data:`REPLACEMENTS`)."""
    if name == "attention":
        return TrainedAttention()
    if name in REPLACEMENTS:
        return ReplacedAttention(name, seed)
    if name == "ig":
        return IntegratedGradients(**ig_options)
    if name == "occlusion":
        return Occlusion(max_tokens=occlusion_tokens)
    raise PslError(f"unknown attribution method {name!r}; "
                   f"choose from attention, ig, occlusion, {', '.join(REPLACEMENTS)}")


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
        row["ig_change"] = float(result.change[i]) if result.change is not None else None
        rows.append(row)
    return rows


def attribute_proteins(model: PslModel, proteins, methods: list[Attribution], *, run_id: str,
                       batch_size: int = 16, device: torch.device | str = "cpu", progress: bool = True,
                       max_seconds: float = 0) -> pd.DataFrame:
    """Run every method over ``proteins``; one row per (protein, method).

    Batches are length-bucketed. ``max_seconds`` > 0: stop starting new batches after that long and
    return the rows done (batches then come in a seeded random order, so a partial result is a
    random sample of the proteins rather than the shortest ones).
    """
    model.to(device)
    rows = []
    stop = time.monotonic() + max_seconds if max_seconds > 0 else float("inf")
    for method in methods:
        total = (len(proteins) + batch_size - 1) // batch_size
        order = batches(proteins, batch_size, seed=0) if max_seconds > 0 else batches(proteins, batch_size)
        for batch in tqdm(order, total=total, desc=method.name, disable=not progress):
            if time.monotonic() > stop:
                break
            batch = batch.to(device)
            rows.extend(rows_for_batch(batch, method.attribute(model, batch), run_id=run_id,
                                       model_name=model.config.arch, method=method.name))
    frame = pd.DataFrame(rows)
    frame["probs"] = frame["probs"].map(lambda v: np.asarray(v, dtype=np.float32))
    frame["scores"] = frame["scores"].map(lambda v: np.asarray(v, dtype=np.float32))
    return frame


def kendall_tau(frame: pd.DataFrame, a: str = "attention", b: str | tuple[str, ...] = ("ig", "occlusion")
                ) -> pd.DataFrame:
    """Kendall tau between method ``a``'s scores and each of ``b``'s per protein, over the residues both scored.

    Columns ``accession, versus, tau``; IG rows that do not add up are left out.
    """
    from scipy.stats import kendalltau

    frame, _ = drop_unsound_ig(frame)
    left = frame[frame.method == a].set_index("accession").scores
    out = []
    for other in (b,) if isinstance(b, str) else b:
        right = frame[frame.method == other].set_index("accession").scores
        for acc in left.index.intersection(right.index):
            x, y = np.asarray(left[acc]), np.asarray(right[acc])
            seen = ~(np.isnan(x) | np.isnan(y))
            out.append({"accession": acc, "versus": other, "tau": float(kendalltau(x[seen], y[seen]).statistic)})
    return pd.DataFrame(out, columns=["accession", "versus", "tau"])


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
    parser.add_argument("--ig-steps", type=int, default=32, help="Integrated Gradients' steps (default 32)")
    parser.add_argument("--ig-retry-steps", type=int, default=0,
                        help="steps of the one retry of rows whose completeness error exceeds the tolerance "
                             "(default: twice --ig-steps; at most --ig-steps turns the retry off)")
    parser.add_argument("--ig-tolerance", type=float, default=IG_TOLERANCE,
                        help="completeness tolerance: |delta| <= TOL * max(|f(x) - f(baseline)|, 1) (default 0.05)")
    parser.add_argument("--ig-batch", type=int, default=512,
                        help="interpolated inputs per IG forward pass (larger on a GPU; default 512)")
    parser.add_argument("--occlusion-tokens", type=int, default=1 << 17,
                        help="residues per occlusion forward pass (larger on a GPU; default 131072)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--pack", type=Path, default=None,
                        help="also write the scores as a compact .npz (float16) for moving between machines "
                             "(pslindex.attributions.pack_scores)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/attributions.parquet")
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop starting new batches after this long and write the proteins done (a seeded "
                             "random sample of them); 0: no limit")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    set_threads(args.threads)
    for flag, value, ok, must in (("--ig-steps", args.ig_steps, args.ig_steps >= 1, ">= 1"),
                                  ("--ig-retry-steps", args.ig_retry_steps, args.ig_retry_steps >= 0, ">= 0"),
                                  ("--ig-batch", args.ig_batch, args.ig_batch >= 1, ">= 1"),
                                  ("--occlusion-tokens", args.occlusion_tokens, args.occlusion_tokens >= 1, ">= 1"),
                                  ("--batch-size", args.batch_size, args.batch_size >= 1, ">= 1"),
                                  ("--limit", args.limit, args.limit >= 0, ">= 0"),
                                  ("--ig-tolerance", args.ig_tolerance, 0 <= args.ig_tolerance < float("inf"),
                                   "a finite number >= 0")):
        if not ok:
            raise PslError(f"{flag} {value}: must be {must}")
    # the comma-separated spelling of earlier releases still works: --methods attention,ig
    names = [m.strip() for arg in args.methods for m in arg.split(",") if m.strip()]
    if not names:
        raise PslError(f"--methods {' '.join(args.methods)!r}: name at least one method")
    out = check_output_file(args.out or Path(args.run_dir) / "attributions.parquet")  # before the work
    model, ckpt = load_model(args.run_dir)
    methods = [make_method(m, args.seed, n_steps=args.ig_steps, tolerance=args.ig_tolerance,
                           retry_steps=args.ig_retry_steps or 2 * args.ig_steps, internal_batch_size=args.ig_batch,
                           occlusion_tokens=args.occlusion_tokens)
               for m in names]
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
                               device=pick_device(args.device), progress=not args.quiet,
                               max_seconds=args.max_seconds)
    write_attributions(frame, out)
    done = frame.accession.nunique()
    if done < len(proteins):
        print(f"stopped after --max-seconds {args.max_seconds:g}: {done} of {len(proteins)} proteins attributed")
    if args.pack:
        weights = Path(args.run_dir) / "model.pt"
        pack_scores(frame, args.pack, weights_sha256=file_checksum(weights) if weights.is_file() else "")
    print(f"{len(frame)} rows ({len(proteins)} proteins x {len(methods)} methods) -> {out}")
    if "attention" in {m.name for m in methods} and {"ig", "occlusion"} & {m.name for m in methods}:
        taus = kendall_tau(frame)
        with atomic_output(out.with_name("kendall_tau.parquet")) as tmp:
            taus.to_parquet(tmp, index=False)
        for versus, tau in taus.groupby("versus"):
            print(f"Kendall tau attention vs {versus} per protein: median {tau.tau.median():.3f} "
                  f"(IQR {tau.tau.quantile(0.25):.3f} to {tau.tau.quantile(0.75):.3f}, {len(tau)} proteins)")
    for m in methods:
        if m.name == "ig":
            print(ig_summary(frame[frame.method == "ig"], m.tolerance) + f"; {m.retried} rows retried with "
                  f"{m.retry_steps} steps")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
