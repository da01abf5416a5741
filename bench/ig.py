"""Attribution throughput, old Integrated Gradients against new, and occlusion, in one run.

    python bench/ig.py [--run reports/study/runs/bilstm-att-s0] [--proteins 6] [--threads 1 2] [--device cpu]

The same stratified test proteins of a kept full-data run through:
- ``old IG``: the implementation before the completeness work (32 steps, internal batches of 64
  interpolated inputs, rows above 0.05 logits redone with doubled steps up to 256, cuDNN off);
- ``new IG``: 32 steps, one retry with 64 where the relative completeness error exceeds 0.05,
  batches of 512 interpolated inputs, cuDNN on (RNNs in training mode, dropout off);
- ``occlusion``: one exact forward pass per residue, chunks of 131,072 residues.
Prints proteins/s of each and the ratio new/old, per thread count (and on CUDA with --device cuda).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from pslmodels.attribute import Attribution, AttributionResult, IntegratedGradients, attribute_proteins, make_method
from pslmodels.data import Batch, stratified_subset
from pslmodels.runs import load_model, run_split


class OldIntegratedGradients(Attribution):
    """Integrated Gradients as it was before (commit 1ab3b41), kept here only to be timed against."""

    name = "ig"

    def __init__(self, n_steps=32, internal_batch_size=64, tolerance=0.05, max_steps=256):
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
        with torch.backends.cudnn.flags(enabled=False):
            scores, delta = self._run(lig, batch, target, self.n_steps)
            steps = self.n_steps
            while (delta.abs() > self.tolerance).any() and steps * 2 <= self.max_steps:
                steps *= 2
                redo = torch.nonzero(delta.abs() > self.tolerance, as_tuple=True)[0].cpu()
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
        return attributions.sum(-1).detach(), delta.detach().cpu()


def rate(model, proteins, method, device) -> float:
    start = time.perf_counter()
    attribute_proteins(model, proteins, [method], run_id="bench", device=device, progress=False)
    if device == "cuda":
        torch.cuda.synchronize()
    return len(proteins) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("reports/study/runs/bilstm-att-s0"))
    parser.add_argument("--proteins", type=int, default=6)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    model, ckpt = load_model(args.run)
    proteins = stratified_subset(run_split(ckpt, "test"), args.proteins, 0)
    mean_len = sum(min(len(p.sequence), 1000) for p in proteins) / len(proteins)
    print(f"{args.run.name}: {len(proteins)} stratified test proteins, mean {mean_len:.0f} residues seen; "
          f"device {args.device}")
    for threads in args.threads if args.device == "cpu" else [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        old = rate(model, proteins, OldIntegratedGradients(), args.device)
        new = rate(model, proteins, IntegratedGradients(n_steps=32, retry_steps=64), args.device)
        occ = rate(model, proteins, make_method("occlusion"), args.device)
        print(f"threads {threads}: old IG {old:.3f} proteins/s, new IG {new:.3f} proteins/s (x{new / old:.1f}), "
              f"occlusion {occ:.3f} proteins/s (x{occ / old:.1f} old IG); the 2,773 test proteins would take "
              f"{2773 / old / 60:.0f} min old IG, {2773 / new / 60:.0f} min new IG, {2773 / occ / 60:.0f} min "
              "occlusion", flush=True)


if __name__ == "__main__":
    main()
