"""Faithfulness (SPEC 12): does an explanation matter to the model?

``python -m pslmodels.faithfulness RUN_DIR [--attributions FILE] [--perturbations blosum x] [--limit N]``

For each protein and each explanation (attention, IG where it adds up, occlusion, ... from the run's
``attributions.parquet``), its top-k residues (k = 1, 2, 5, 10, 20 % of the residues the model saw;
ties broken by position) are perturbed and the model run again:

- deletion (comprehensiveness): perturb the top-k; drop = p(y^) before - after, y^ the original
  prediction; insertion (sufficiency): perturb every residue but the top-k, drop likewise;
  AOPC = the mean drop over the k values;
- perturbations that keep the sequence a protein: ``x`` (the residue becomes X) and ``blosum`` (a
  residue drawn, seeded, from BLOSUM62's substitution probabilities of the original one, itself
  excluded; :func:`blosum_probabilities`); the report uses ``blosum``;
- baselines ranked and perturbed the same way: ``random-k`` (seeded, 5 repeats, averaged), the
  positional ``n-ramp`` and ``c-ramp``, and ``<method> rotated`` (the method's own scores rotated by a
  seeded random offset: same values, other places).

Writes ``faithfulness.parquet``: one row per (accession, method, perturbation, mode) with the drop
at each k and the AOPC. :func:`matters_table` turns it into the verdict "matters to the model":
deletion AOPC minus the best baseline, paired on proteins, with its 95 % protein-level interval.
All perturbed copies of a protein go through the model as one batch.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pslindex.attributions import EXPLANATIONS, drop_unsound_ig, read_attributions
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import atomic_output, check_output_file
from pslindex.stats import bootstrap_ci
from pslmodels.data import TOKEN, encode, truncate
from pslmodels.runs import load_model, pick_device, set_threads

KS = (0.01, 0.02, 0.05, 0.10, 0.20)      # shares of the residues the model saw
PERTURBATIONS = ("blosum", "x")
BASELINES = ("random-k", "n-ramp", "c-ramp")
RANDOM_REPEATS = 5
STANDARD = "ARNDCQEGHILKMFPSTWYV"
# BLOSUM62's background frequencies (Henikoff & Henikoff 1992, the marginals of its target frequencies)
BACKGROUND = dict(zip(STANDARD, (0.0740, 0.0516, 0.0446, 0.0536, 0.0250, 0.0343, 0.0540, 0.0740, 0.0262, 0.0679,
                                 0.0989, 0.0580, 0.0250, 0.0470, 0.0387, 0.0573, 0.0507, 0.0134, 0.0321, 0.0728),
                      strict=True))


@cache
def blosum_probabilities() -> dict[str, np.ndarray]:
    """Per original residue, the probability of each of the 20 standard residues replacing it.

    BLOSUM62's scores are s(a, b) = 2 log2(q_ab / (p_a p_b)), so P(b | a) = q_ab / p_a is proportional
    to p_b 2^(s(a, b) / 2); b = a is excluded (a substitution must change the residue). Residues
    outside the 20 (X, B, Z, U, O) are replaced from the background frequencies.

    >>> p = blosum_probabilities()
    >>> round(float(p["W"].sum()), 6), float(p["W"][STANDARD.index("W")])
    (1.0, 0.0)
    """
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    background = np.array([BACKGROUND[b] for b in STANDARD])
    out = {}
    for a in STANDARD:
        weights = background * np.exp2(np.array([matrix[a][b] for b in STANDARD]) / 2)
        weights[STANDARD.index(a)] = 0.0
        out[a] = weights / weights.sum()
    for a in set(TOKEN) - set(STANDARD):
        out[a] = background / background.sum()
    return out


def blosum_substitute(residues: str, rng: np.random.Generator) -> str:
    """Each residue replaced by one drawn from :func:`blosum_probabilities` (never itself)."""
    probs = blosum_probabilities()
    return "".join(STANDARD[rng.choice(20, p=probs[r])] for r in residues)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, ties broken by position (the earlier first).

    >>> top_k(np.array([0.1, 0.5, 0.5, 0.2]), 2).tolist()
    [1, 2]
    """
    return np.lexsort((np.arange(len(scores)), -scores))[:k]


def rankings(scores: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every ranking scored for one protein: each method, its rotation, and the baselines (n residues seen)."""
    out = {}
    for method, s in scores.items():
        out[method] = s
        out[f"{method} rotated"] = np.roll(s, int(rng.integers(1, n)) if n > 1 else 0)
    out["n-ramp"] = np.arange(n, 0, -1, dtype=np.float64)
    out["c-ramp"] = np.arange(1, n + 1, dtype=np.float64)
    for r in range(RANDOM_REPEATS):
        out[f"random-k {r}"] = rng.permutation(n).astype(np.float64)
    return out


def protein_drops(model, sequence: str, scores: dict[str, np.ndarray], *, perturbations=PERTURBATIONS, ks=KS,
                  seed: int = 0, device="cpu", max_tokens: int = 1 << 17) -> pd.DataFrame:
    """Drops of p(y^) for one protein: rows (method, perturbation, mode, k, drop).

    ``scores``: method -> scores over the residues the model saw (length n, NaN-free). One batch of
    perturbed copies (in chunks of ``max_tokens`` residues).
    """
    seen, _ = truncate(sequence)
    n = len(seen)
    rng = np.random.default_rng(seed)
    ranks = rankings(scores, n, rng)
    base_tokens = encode(seen)
    variants = {"x": "X" * n}
    if "blosum" in perturbations:
        variants["blosum"] = blosum_substitute(seen, rng)
    keys, copies = [], []
    for perturbation in perturbations:
        replacement = encode(variants[perturbation])
        for method, s in ranks.items():
            for k in ks:
                top = top_k(s, max(1, int(round(k * n))))
                for mode in ("deletion", "insertion"):
                    t = base_tokens.clone() if mode == "deletion" else replacement.clone()
                    t[top] = replacement[top] if mode == "deletion" else base_tokens[top]
                    keys.append((method, perturbation, mode, k))
                    copies.append(t)
    with torch.no_grad():
        lengths = torch.tensor([n])
        probs = torch.softmax(model(base_tokens[None].to(device), lengths)[0], 1)[0]
        target = int(probs.argmax())
        before = float(probs[target])
        after = []
        step = max(1, max_tokens // n)
        for i in range(0, len(copies), step):
            batch = torch.stack(copies[i:i + step]).to(device)
            out = model(batch, torch.full((len(batch),), n, dtype=torch.long))[0]
            after.append(torch.softmax(out, 1)[:, target].cpu())
    after = torch.cat(after).numpy()
    frame = pd.DataFrame(keys, columns=["method", "perturbation", "mode", "k"]).assign(drop=before - after)
    is_random = frame.method.str.startswith("random-k ")
    random = frame[is_random].groupby(["perturbation", "mode", "k"], as_index=False).drop.mean().assign(
        method="random-k")
    return pd.concat([frame[~is_random], random], ignore_index=True)


def faithfulness(model, attributions: pd.DataFrame, *, perturbations=PERTURBATIONS, seed: int = 0, device="cpu",
                 progress: bool = False) -> pd.DataFrame:
    """Drops and AOPC of every explanation in ``attributions`` (SPEC 5 rows of one run) and of the baselines.

    Returns one row per (accession, method, perturbation, mode): ``drop_<k>`` for each k and ``aopc``.
    IG rows that do not add up are left out.
    """
    attributions, _ = drop_unsound_ig(attributions[attributions.method.isin(EXPLANATIONS)])
    model.to(device).eval()
    frames = []
    for i, (accession, part) in enumerate(tqdm(attributions.groupby("accession", sort=True), disable=not progress,
                                               desc="faithfulness", unit=" proteins")):
        sequence = part.sequence.iloc[0]
        _, positions = truncate(sequence)
        scores = {r.method: np.nan_to_num(np.asarray(r.scores, dtype=np.float64)[positions])
                  for r in part.itertuples()}
        drops = protein_drops(model, sequence, scores, perturbations=perturbations, seed=seed + i, device=device)
        frames.append(drops.assign(accession=accession))
    if not frames:
        raise PslError("no protein to score: the attributions hold no explanation rows")
    long = pd.concat(frames, ignore_index=True)
    wide = long.pivot_table(index=["accession", "method", "perturbation", "mode"], columns="k", values="drop")
    wide.columns = [f"drop_{k:g}" for k in wide.columns]
    wide["aopc"] = wide.mean(axis=1)
    return wide.reset_index()


def matters_table(faith: pd.DataFrame, perturbation: str = "blosum") -> pd.DataFrame:
    """Per explanation: deletion AOPC minus the best baseline (highest mean deletion AOPC among random-k,
    the ramps and its own rotations), paired on proteins, with its 95 % interval; "matters" where above 0."""
    part = faith[(faith.perturbation == perturbation) & (faith["mode"] == "deletion")]
    table = part.pivot_table(index="accession", columns="method", values="aopc")
    out = []
    for method in [m for m in EXPLANATIONS if m in table]:
        candidates = [b for b in (*BASELINES, f"{method} rotated") if b in table]
        best = max(candidates, key=lambda b: table[b].mean())
        both = table[[method, best]].dropna()
        diff = both[method] - both[best]
        lo, hi = bootstrap_ci(diff.to_numpy(), both.index.to_numpy())
        out.append({"method": method, "proteins": len(both), "deletion AOPC": f"{both[method].mean():.3f}",
                    "best baseline": best, "baseline AOPC": f"{both[best].mean():.3f}",
                    "difference [95% CI]": f"{diff.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]",
                    "matters to the model": "yes" if lo > 0 else "no" if hi < 0 else "undecided"})
    return pd.DataFrame(out)


def study_table(faith: pd.DataFrame, perturbation: str = "blosum") -> pd.DataFrame:
    """:func:`matters_table` per model of ``faith`` (rows of several runs with a ``model`` label; seeds pooled)."""
    frames = [matters_table(part, perturbation).assign(model=model)
              for model, part in faith.groupby("model", sort=False)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table[["model", *[c for c in table.columns if c != "model"]]] if not table.empty else table


def figure_deletion(faith: pd.DataFrame, path: Path, perturbation: str = "blosum") -> None:
    """Deletion curves per model: mean drop of p(y^) against k for each explanation and the baselines,
    with 95 % protein-level intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = faith[(faith.perturbation == perturbation) & (faith["mode"] == "deletion")]
    models = list(dict.fromkeys(part.model))
    columns = [c for c in part.columns if c.startswith("drop_")]
    ks = [float(c.removeprefix("drop_")) * 100 for c in columns]
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models, strict=True):
        rows = part[part.model == model]
        shown = [m for m in (*EXPLANATIONS, *BASELINES, *(f"{e} rotated" for e in EXPLANATIONS))
                 if m in set(rows.method)]
        for method in shown:
            r = rows[rows.method == method]
            means = r[columns].mean().to_numpy()
            bounds = np.array([bootstrap_ci(r[c].to_numpy(), r.accession.to_numpy(), n_boot=500) for c in columns])
            style = "-o" if method in EXPLANATIONS else ":" if "rotated" in method else "--"
            ax.plot(ks, means, style, ms=3, label=method)
            ax.fill_between(ks, bounds[:, 0], bounds[:, 1], alpha=0.15)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("residues perturbed (% of those seen, top-k)")
        ax.set_xscale("log")
    axes[0, 0].set_ylabel(f"drop of p(predicted class), {perturbation}")
    axes[0, -1].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.faithfulness", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a trained run")
    parser.add_argument("--attributions", type=Path, default=None, help="default: RUN_DIR/attributions.parquet")
    parser.add_argument("--perturbations", nargs="+", choices=PERTURBATIONS, default=list(PERTURBATIONS))
    parser.add_argument("--limit", type=int, default=0, help="the first N proteins (sorted by accession); 0: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: $OMP_NUM_THREADS, else all)")
    parser.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/faithfulness.parquet")
    parser.add_argument("--quiet", action="store_true")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.limit < 0 or args.seed < 0:
        raise PslError(f"--limit {args.limit}, --seed {args.seed}: must not be negative")
    out = check_output_file(args.out or args.run_dir / "faithfulness.parquet")
    set_threads(args.threads)
    model, _ = load_model(args.run_dir)
    attributions = read_attributions(args.attributions or args.run_dir / "attributions.parquet",
                                     purpose="faithfulness")
    if args.limit:
        keep = sorted(attributions.accession.unique())[:args.limit]
        attributions = attributions[attributions.accession.isin(keep)]
    faith = faithfulness(model, attributions, perturbations=tuple(args.perturbations), seed=args.seed,
                         device=pick_device(args.device), progress=not args.quiet)
    with atomic_output(out) as tmp:
        faith.to_parquet(tmp, index=False)
    print(f"{faith.accession.nunique()} proteins -> {out}")
    for perturbation in args.perturbations:
        print(f"\n{perturbation}:")
        print(matters_table(faith, perturbation).to_string(index=False))
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
