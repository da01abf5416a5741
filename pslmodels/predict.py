"""Predict and explain a user's own proteins: ``psl predict FASTA [--out DIR]``.

``python -m pslmodels.predict FASTA [--model default|RUN_DIR] [--explain attention ig ...] [--hitrate]
[--index data/index] [--out DIR]``

No training and no index needed: ``--model default`` is the study's full-data bilstm-att (seed 0),
shipped inside the package with its model card (``pslmodels/shipped/default/MODEL_CARD.md``);
``--model RUN_DIR`` takes any trained run. Writes into DIR (default ``predictions/``):

* ``predictions.csv`` and ``predictions.parquet``: one row per record, in input order: ``record``
  (1-based), ``accession`` (UniProt ``sp|P12345|NAME`` headers give P12345; repeated accessions get
  ``~2``, ``~3``...), ``header`` as given, ``length``, ``true_label`` (only a DeepLoc-style
  ``Location-M|S|U`` header has one), ``pred_label``, ``confidence`` and one probability column
  per class (``p_Nucleus`` ...);
* ``attributions.parquet`` (SPEC 5; ``true_label`` null for unlabelled proteins) for the
  ``--explain`` methods;
* with ``--hitrate``: ``hitrate/`` as ``python -m pslindex.hitrate`` writes it (chance control on;
  homologs left out when MMseqs2 is installed), judged against the predicted label;
* ``viewer.html``: the offline viewer for the first ``--view-limit`` proteins.

Sequences are read and explained in chunks, so memory stays flat for long inputs (the hit rate,
when asked for, reads every row back at the end). Example::

    psl predict ../shared/data/deeploc/setHARD.fasta.gz --out my_predictions
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from pslindex.attributions import EXPLANATIONS, IG_TOLERANCE, unsound_ig
from pslindex.attributions import to_table as attribution_table
from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main
from pslindex.files import output_folder
from pslindex.store import DEFAULT_INDEX_DIR
from pslmodels.attribute import REPLACEMENTS, AttributionResult, make_method, rows_for_batch
from pslmodels.data import MAX_LEN, Protein, batches, iter_fasta, truncate
from pslmodels.runs import load_model, pick_device, set_threads

COMMAND = "pslmodels.predict"
# A record whose letters are at least this share A, C, G, T, U or N is refused as a nucleotide sequence:
# all five are amino-acid letters too, so DNA would otherwise be "predicted" (insulin cDNA came out
# Extracellular 0.985). Real proteins stay far below it (the DeepLoc set's highest share is measured in
# tests/test_predict.py).
NUCLEOTIDE_LIKE = 0.9


def nucleotide_share(sequence: str) -> float:
    """The share of a sequence's letters that are A, C, G, T, U or N.

    >>> nucleotide_share("ATGGCCCTGTGGATGCGC"), nucleotide_share("MALWMRLLPLLALLALWG")
    (1.0, 0.2222222222222222)
    """
    return sum(sequence.count(c) for c in "ACGTUN") / max(len(sequence), 1)
DEFAULT_MODEL = Path(__file__).resolve().parent / "shipped" / "default"
METHODS = (*EXPLANATIONS, *REPLACEMENTS)
PREDICTION_COLUMNS = ["record", "accession", "header", "length", "seen_residues", "truncated", "true_label",
                      "pred_label", "confidence", "margin", "call", "class_reliability",
                      *(f"p_{c}" for c in CLASSES)]

@dataclass
class PredictOptions:
    """What ``predict`` does; the CLI's flags one to one."""

    model: str = "default"                  # "default" (the shipped model) or a run directory
    explain: tuple[str, ...] | None = None  # attribution methods; () none; None: attention if the model has it
    hitrate: bool = False
    index: Path = DEFAULT_INDEX_DIR
    controls: int = 20                      # chance-control rotations of the hit rate
    batch_size: int = 64
    chunk: int = 2048                       # proteins read, predicted and written at a time
    view_limit: int = 500                   # proteins in viewer.html (0: no viewer)
    skip_invalid: bool = False
    allow_nucleotide_like: bool = False     # predict records that look like DNA/RNA (refused by default)
    device: str = "auto"
    threads: int = 0                        # torch CPU threads; 0: $OMP_NUM_THREADS, else all cores
    ig_steps: int = 32
    seed: int = 0                           # for the random/permuted methods and the controls
    progress: bool = True

    def check(self) -> None:
        for name in ("batch_size", "chunk"):
            if getattr(self, name) < 1:
                raise PslError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        for name in ("view_limit", "controls", "threads", "seed"):
            if getattr(self, name) < 0:
                raise PslError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be 0 or more")
        if self.ig_steps < 1:
            raise PslError(f"--ig-steps {self.ig_steps}: must be at least 1")
        unknown = [m for m in (self.explain or ()) if m not in METHODS]
        if unknown:
            raise PslError(f"--explain {unknown[0]!r}: choose from {', '.join(METHODS)}")
        if self.hitrate and self.explain == ():
            raise PslError("--hitrate needs at least one --explain method (its peptides come from the scores)")


def model_dir(name: str) -> Path:
    """The run directory ``--model`` names: ``default`` is the shipped model."""
    path = DEFAULT_MODEL if name == "default" else Path(name)
    if not path.is_dir():
        raise PslError(f"--model {name}: no such run directory (give 'default' or a folder written by "
                       "python -m pslmodels.train)")
    return path


def unique_accessions(proteins: Iterator[Protein], seen: Counter) -> Iterator[Protein]:
    """Repeated accessions get ``~2``, ``~3``... so every row stays addressable; ``seen`` counts them."""
    for p in proteins:
        seen[p.accession] += 1
        if seen[p.accession] > 1:
            p = Protein(f"{p.accession}~{seen[p.accession]}", p.sequence, p.label, p.membrane, p.is_test, p.header)
        yield p


def chunks(items: Iterator, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# A prediction whose top class is less than this ahead of the second is called "uncertain". On the shipped
# model's test partition, 11 % of the proteins fall below it, and 38 % of those are right (69 % above it).
UNCERTAIN_MARGIN = 0.2


def class_reliability(run_path: Path) -> dict[str, float]:
    """The model's test F1 of each class (its metrics.json), the ``class_reliability`` column; {} if unknown."""
    try:
        return dict(json.loads((run_path / "metrics.json").read_text())["test"]["f1_per_class"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The text cells a spreadsheet would run as a formula (starting with = + - @, tab or CR; from FASTA
    headers a user did not write) prefixed with an apostrophe, as spreadsheet tools expect. For the CSV
    only: the Parquet file keeps the text as read.

    >>> spreadsheet_safe(pd.DataFrame({"header": ["=HYPERLINK(1)", "P1 kinase"]})).header.tolist()
    ["'=HYPERLINK(1)", 'P1 kinase']
    """
    out = frame.copy()
    for column in ("accession", "header"):
        if column in out:
            out[column] = [f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in out[column]]
    return out


def unseen_range(sequence: str) -> str:
    """The 1-based residues the model never reads ("" when it reads them all), e.g. "501-710".

    >>> unseen_range("M" * 1210), unseen_range("M" * 1000)
    ('501-710', '')
    """
    _, kept = truncate(sequence)
    if len(kept) == len(sequence):
        return ""
    return f"{MAX_LEN // 2 + 1}-{len(sequence) - (MAX_LEN - MAX_LEN // 2)}"


def predictions_rows(proteins: list[Protein], probs: np.ndarray, first_record: int,
                     reliability: dict[str, float] | None = None) -> pd.DataFrame:
    top2 = np.sort(probs, axis=1)[:, -2:] if probs.shape[1] > 1 else np.zeros((len(probs), 2))
    margin = (top2[:, 1] - top2[:, 0]).astype(np.float64)
    predicted = [CLASSES[i] for i in probs.argmax(1)]
    frame = pd.DataFrame({
        "record": np.arange(first_record, first_record + len(proteins), dtype=np.int64),
        "accession": [p.accession for p in proteins], "header": [p.header for p in proteins],
        "length": np.array([len(p.sequence) for p in proteins], dtype=np.int64),
        # SPEC 3: a longer protein is read as its first and last 500 residues; the middle is never seen
        "seen_residues": np.array([min(len(p.sequence), MAX_LEN) for p in proteins], dtype=np.int64),
        "truncated": [unseen_range(p.sequence) for p in proteins],
        "true_label": pd.Series([p.label for p in proteins], dtype=object),
        "pred_label": predicted,
        "confidence": probs.max(1).astype(np.float64),
        "margin": margin,
        "call": ["uncertain" if m < UNCERTAIN_MARGIN else c for m, c in zip(margin, predicted, strict=True)],
        "class_reliability": [float((reliability or {}).get(c, np.nan)) for c in predicted],
    })
    for j, name in enumerate(CLASSES):
        frame[f"p_{name}"] = probs[:, j].astype(np.float64)
    return frame[PREDICTION_COLUMNS]


def explain_chunk(model, proteins: list[Protein], options: PredictOptions, methods: list, *, run_id: str,
                  device) -> tuple[np.ndarray, list[dict]]:
    """Probabilities (n, 10) in the order of ``proteins`` and SPEC 5 rows for every method.

    The attention rows come from the same forward pass as the predictions (no second pass).
    """
    probs = np.zeros((len(proteins), len(CLASSES)), dtype=np.float32)
    index = {id(p): i for i, p in enumerate(proteins)}
    rows: dict[str, list[tuple[int, dict]]] = {m.name: [] for m in methods}
    for batch in batches(proteins, options.batch_size):
        batch = batch.to(device)
        positions = [index[id(p)] for p in batch.proteins]
        with torch.no_grad():
            logits, alpha = model(batch.tokens, batch.lengths)
            batch_probs = torch.softmax(logits, 1)
        probs[positions] = batch_probs.cpu().numpy()
        for method in methods:
            result = (AttributionResult(alpha, batch_probs) if method.name == "attention"
                      else method.attribute(model, batch))
            made = rows_for_batch(batch, result, run_id=run_id, model_name=model.config.arch, method=method.name)
            rows[method.name].extend(zip(positions, made, strict=True))
    # per method, in input order
    return probs, [row for m in methods for _, row in sorted(rows[m.name], key=lambda pair: pair[0])]


def predict(fasta: Path, out: Path, options: PredictOptions | None = None) -> dict:
    """Predict (and explain) every record of ``fasta`` into the folder ``out``; returns a summary.

    ``out`` is replaced only if absent or an earlier result of this command (nothing is deleted
    that this command did not write); everything is written in a private folder first.
    """
    options = options or PredictOptions()
    options.check()
    run_path = model_dir(options.model)
    model, ckpt = load_model(run_path)
    explain = options.explain if options.explain is not None else ("attention",) if model.has_attention else ()
    if options.hitrate and not explain:
        raise PslError(f"--hitrate: {model.config.arch} has no attention to explain with; add --explain ig")
    methods = [make_method(m, options.seed, n_steps=options.ig_steps) for m in explain]
    for m in methods:
        m.check(model)
    if options.hitrate:
        from pslindex.store import open_index

        with open_index(options.index):  # a missing index fails now, not after the predictions
            pass
    set_threads(options.threads)
    device = pick_device(options.device)
    model.to(device)
    run_id = "default" if options.model == "default" else run_path.name
    reliability = class_reliability(run_path)
    seen: Counter = Counter()
    skipped: list[str] = []
    started = time.time()
    n = ig_rows = ig_unsound = 0
    truncated: list[tuple[str, str]] = []
    # A first pass reads the whole file (seconds, against minutes of inference): a bad record deep in
    # it is one line now, before any work or progress output, and the bar knows its total.
    invalid: list[str] = []
    total = 0
    for protein in iter_fasta(fasta, require_labels=False, skip_invalid=options.skip_invalid, on_skip=invalid.append):
        total += 1
        share = nucleotide_share(protein.sequence)
        if share >= NUCLEOTIDE_LIKE and not options.allow_nucleotide_like:
            raise PslError(f"{fasta}: record {total} ({protein.accession}): {share:.0%} of its letters are A, C, G, "
                           "T, U or N: it looks like DNA or RNA, not a protein (translate it first, or pass "
                           "--allow-nucleotide-like to predict it anyway)")
    if total == 0:
        raise PslError(f"{fasta}: no FASTA records" + (" left after --skip-invalid" if invalid else ""))
    with output_folder(out, COMMAND) as tmp:
        records = unique_accessions(iter_fasta(fasta, require_labels=False, skip_invalid=options.skip_invalid,
                                               on_skip=skipped.append), seen)
        writers = {}
        bar = tqdm(desc="predict", total=total, unit=" proteins", disable=not options.progress)
        try:
            for chunk in chunks(records, options.chunk):
                probs, rows = explain_chunk(model, chunk, options, methods, run_id=run_id, device=device)
                frame = predictions_rows(chunk, probs, n + 1, reliability)
                truncated += [(r.accession, r.truncated) for r in frame.itertuples() if r.truncated]
                _append(writers, "predictions.parquet", tmp, pa.Table.from_pandas(frame, preserve_index=False))
                spreadsheet_safe(frame).to_csv(tmp / "predictions.csv", mode="a", index=False, header=n == 0,
                                               float_format="%.4f")
                if rows:
                    table = attribution_table(rows)
                    _append(writers, "attributions.parquet", tmp, table)
                    ig = table.select(["method", "ig_delta", "ig_change"]).to_pandas()
                    ig_rows += int((ig.method == "ig").sum())
                    ig_unsound += int(unsound_ig(ig).sum())
                n += len(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
            for writer in writers.values():
                writer.close()
        seconds = time.time() - started
        hitrate_summary = None
        if options.hitrate:
            hitrate_summary = _hitrate(tmp, options)
        viewer = None
        if options.view_limit and methods:
            viewer = _viewer(tmp, options.view_limit)
    duplicates = {acc: k for acc, k in seen.items() if k > 1}
    return {**labelled_scores(out / "predictions.parquet"), "proteins": n, "seconds": seconds, "skipped": skipped,
            "duplicates": duplicates,
            "methods": [m.name for m in methods], "model": str(run_path), "hitrate": hitrate_summary,
            "ig_rows": ig_rows, "ig_unsound": ig_unsound, "truncated": truncated,
            "viewer": viewer}


def labelled_scores(path: Path) -> dict:
    """Accuracy and macro-F1 over the records whose header carries a DeepLoc label (none: zeros)."""
    from sklearn.metrics import f1_score

    frame = pd.read_parquet(path, columns=["true_label", "pred_label"]).dropna()
    if frame.empty:
        return {"labelled": 0}
    return {"labelled": len(frame), "accuracy": float((frame.true_label == frame.pred_label).mean()),
            "f1_macro": float(f1_score(frame.true_label, frame.pred_label, average="macro"))}


def _append(writers: dict, name: str, folder: Path, table: pa.Table) -> None:
    if name not in writers:
        writers[name] = pq.ParquetWriter(folder / name, table.schema)
    writers[name].write_table(table)


def _hitrate(folder: Path, options: PredictOptions) -> pd.DataFrame:
    """The hit rate of the batch's attributions, into ``folder/hitrate`` (as pslindex.hitrate writes it)."""
    from pslindex.hitrate import HitRateOptions, hitrate_folder
    from pslindex.homologs import mmseqs_available

    exclude = mmseqs_available()
    hit_options = HitRateOptions(controls=options.controls, seed=options.seed, exclude_homologs=exclude)
    groups, _, _ = hitrate_folder(folder / "attributions.parquet", options.index, folder / "hitrate", hit_options,
                                  progress=options.progress)
    return groups.assign(homologs="excluded" if exclude else "kept (MMseqs2 not installed)")


def _viewer(folder: Path, limit: int) -> str:
    from pslmodels.view import write_viewer

    frame = pq.read_table(folder / "attributions.parquet").to_pandas()
    keep = list(dict.fromkeys(frame.accession))[:limit]
    frame = frame[frame.accession.isin(keep)]
    hits = folder / "hitrate" if (folder / "hitrate" / "hitrates.duckdb").is_file() else None
    records = write_viewer(frame, folder / "viewer.html", hitrates=hits, title="psl predict",
                           source="attributions.parquet")
    return f"{len(records)} of {frame.accession.nunique() if len(keep) < limit else len(keep)} proteins"


def build_parser() -> argparse.ArgumentParser:
    d = PredictOptions()
    parser = ArgumentParser(prog="psl predict", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fasta", type=Path, help="FASTA file, plain or gzipped, any header style")
    parser.add_argument("--model", default=d.model, help="'default' (shipped bilstm-att) or a run directory")
    parser.add_argument("--explain", nargs="*", choices=(*METHODS, "none"), default=None, metavar="METHOD",
                        help=f"attribution methods ({', '.join(METHODS)}; default, and --explain alone: attention "
                             "when the model has it; --explain none: predictions only)")
    parser.add_argument("--hitrate", action="store_true", help="hit rate of the explanations against --index")
    parser.add_argument("--index", type=Path, default=d.index, help="index folder for --hitrate (default data/index)")
    parser.add_argument("--controls", type=int, default=d.controls, help="hit-rate chance-control rotations")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="leave out records with letters outside the alphabet instead of stopping")
    parser.add_argument("--allow-nucleotide-like", action="store_true",
                        help=f"predict records that are at least {NUCLEOTIDE_LIKE * 100:.0f} percent A/C/G/T/U/N "
                             "(refused by default: they look like DNA or RNA)")
    parser.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default predictions/)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--chunk", type=int, default=d.chunk, help="proteins held in memory at a time")
    parser.add_argument("--view-limit", type=int, default=d.view_limit, help="proteins in viewer.html (0: none)")
    parser.add_argument("--ig-steps", type=int, default=d.ig_steps)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device)
    parser.add_argument("--threads", type=int, default=d.threads,
                        help="torch CPU threads (0 = $OMP_NUM_THREADS, else all cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # --explain alone: attention; --explain none: predictions only
    explain = (None if args.explain is None or not args.explain else
               () if args.explain == ["none"] else tuple(dict.fromkeys(args.explain)))
    if "none" in (explain or ()):
        raise PslError(f"--explain {' '.join(args.explain)}: 'none' stands alone (predictions only)")
    options = PredictOptions(model=args.model, explain=explain, hitrate=args.hitrate,
                             index=args.index, controls=args.controls, batch_size=args.batch_size, chunk=args.chunk,
                             view_limit=args.view_limit, skip_invalid=args.skip_invalid, device=args.device,
                             allow_nucleotide_like=args.allow_nucleotide_like,
                             threads=args.threads, ig_steps=args.ig_steps, seed=args.seed, progress=not args.quiet)
    summary = predict(args.fasta, args.out, options)
    for message in summary["skipped"][:5]:
        print(f"skipped: {message}", file=sys.stderr)
    if len(summary["skipped"]) > 5:
        print(f"skipped: ... {len(summary['skipped']) - 5} more", file=sys.stderr)
    if summary["duplicates"]:
        listed = ", ".join(f"{a} x{k}" for a, k in list(summary["duplicates"].items())[:5])
        print(f"warning: repeated accession(s) {listed}; later copies are named ACCESSION~2, ~3, ...",
              file=sys.stderr)
    out = args.out
    rate = summary["proteins"] / max(summary["seconds"], 1e-9)
    model = ("default (the study's bilstm-att, seed 0; model card: "
             f"{DEFAULT_MODEL / 'MODEL_CARD.md'})" if args.model == "default" else summary["model"])
    print(f"{summary['proteins']} proteins in {summary['seconds']:.1f} s ({rate:.0f}/s), model {model}"
          + (f", {len(summary['skipped'])} skipped" if summary["skipped"] else ""))
    if summary["labelled"]:
        print(f"{summary['labelled']} records carry a DeepLoc label: accuracy {summary['accuracy']:.3f}, "
              f"macro-F1 {summary['f1_macro']:.3f}")
    print(f"predictions: {out / 'predictions.csv'} and {out / 'predictions.parquet'}")
    if summary["methods"]:
        print(f"explanations ({', '.join(summary['methods'])}): {out / 'attributions.parquet'}")
    if summary["truncated"]:
        listed = ", ".join(f"{a} ({r})" for a, r in summary["truncated"][:5])
        more = f" and {len(summary['truncated']) - 5} more" if len(summary["truncated"]) > 5 else ""
        print(f"warning: {len(summary['truncated'])} protein(s) longer than {MAX_LEN} residues: the model reads "
              f"only their first and last {MAX_LEN // 2}, not residues {listed}{more} (column 'truncated')",
              file=sys.stderr)
    if summary["ig_unsound"]:
        print(f"warning: IG does not add up for {summary['ig_unsound']} of {summary['ig_rows']} proteins (its "
              f"convergence delta exceeds {IG_TOLERANCE:g} of |f(x) - f(baseline)|; usual on recurrent models): "
              "their IG scores are shown but left out of the hit rate; --explain occlusion gives each residue's "
              "exact effect", file=sys.stderr)
    if summary["hitrate"] is not None:
        from pslindex.hitrate import format_groups

        groups = summary["hitrate"]
        print(f"hit rate (homologs {groups.homologs.iloc[0]}): {out / 'hitrate' / 'hitrates.duckdb'}")
        print(format_groups(groups))
    if summary["viewer"]:
        print(f"viewer ({summary['viewer']}): {out / 'viewer.html'}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
