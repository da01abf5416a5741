"""``python -m pslmodels.view attributions.parquet [--accession P12345] [--methods ...] [--out FILE.html|FILE.png]``

Look at attributions. Without ``--accession``: one self-contained HTML page for the whole file
(no server, opens offline): search by accession, filters by class and correctness, and for the chosen
protein the residues coloured by score, one aligned row per method, the extracted peptides (SPEC 6)
boxed with their hit rate and number of matching Swiss-Prot entries, the predicted probabilities
per method (so the confidence change under permuted / random attention is visible) and the known
sorting signals underlined. With ``--accession`` and ``--out FILE.png``: the same protein as a
matplotlib figure for papers; with ``--out FILE.html``: a page of that protein alone.

Hit rates come from the hit-rate results (``--hitrates``, default ``hitrate/hitrates.duckdb``
beside the attributions file, as ``make demo`` writes it); without them peptides are extracted here
and shown without hit rates. Sorting signals come from ``--signals`` (SPEC 2).
"""

from __future__ import annotations

import argparse
import difflib
import html
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pslindex.attributions import EXPLANATIONS, read_attributions
from pslindex.classes import CLASSES
from pslindex.errors import ArgumentParser, PslError, cli_main, first_line
from pslindex.extract import PROTOCOLS, extract_by_protocol
from pslindex.files import atomic_output
from pslmodels.signals import DEFAULT_SIGNALS, SIGNAL_NAMES, SIGNAL_TYPES, read_signals

METHOD_ORDER = (*EXPLANATIONS, "shifted", "permuted", "random", "random-logits", "uniform")
# Pooling weights (each row sums to 1): drawn on one common scale per protein, so uniform weights look
# flat and faint instead of saturated.
WEIGHT_METHODS = ("attention", "shifted", "permuted", "random", "random-logits", "uniform")


JSON_IN_SCRIPT = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                  0x2028: "\\u2028", 0x2029: "\\u2029"}

def read_peptide_hits(hitrates: Path | None) -> pd.DataFrame | None:
    """Peptides from a hit-rate results file: run_id, method, accession, start, end, n_matches, hit rates."""
    if hitrates is None:
        return None
    import duckdb

    path = hitrates / "hitrates.duckdb" if hitrates.is_dir() else hitrates
    if not path.is_file():
        raise PslError(f"{path}: no hit-rate results here (python -m pslindex.hitrate writes them)")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            columns = con.execute("SELECT * FROM peptide_hitrates LIMIT 0").df().columns
            observed = "WHERE p.rotation = 0" if "rotation" in columns else ""  # not the chance controls
            return con.execute(f"""
                SELECT a.run_id, a.method, a.accession, p.start, p.start + length(p.peptide) AS "end", p.peptide,
                       p.n_matches, p.hitrate_true, p.hitrate_pred
                FROM peptide_hitrates p JOIN attributions a USING (row_id) {observed}""").df()
    except duckdb.Error as exc:
        raise PslError(f"{path}: not a hit-rate results file ({first_line(exc)})") from None


def pick_methods(frame: pd.DataFrame, methods: list[str] | str | None) -> list[str]:
    """The methods to show, in the viewer's order: ``methods`` (names, or comma-separated) or all in the file."""
    present = list(dict.fromkeys(frame.method))
    if isinstance(methods, str):
        methods = [methods]
    if methods:
        wanted = [m.strip() for arg in methods for m in arg.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in present]
        if unknown:
            raise PslError(f"--methods: {', '.join(unknown)} not in the file (it has {', '.join(present)})")
        return wanted
    return [m for m in METHOD_ORDER if m in present] + [m for m in present if m not in METHOD_ORDER]


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 3)


def max_abs(values) -> float:
    """Largest |score| over the seen residues; 0 when none was seen."""
    values = np.abs(np.asarray(values, dtype=np.float64))
    return float(np.nanmax(values)) if np.isfinite(values).any() else 0.0


def protein_records(frame: pd.DataFrame, methods: list[str], peptide_hits: pd.DataFrame | None,
                    signals: pd.DataFrame | None, *, window: int = 5, k: float = 2.0,
                    protocol: str = "spec") -> list[dict]:
    """One JSON-ready record per protein (first run in the file): scores quantised to -100..100 per method row."""
    frame = frame[frame.method.isin(methods)]
    first_run = frame.run_id.iloc[0]
    frame = frame[frame.run_id == first_run]
    sig = signals.set_index("accession") if signals is not None else None
    hits = {key: part for key, part in peptide_hits[peptide_hits.run_id == first_run]
            .groupby(["accession", "method"])} if peptide_hits is not None else None
    records = []
    for accession, rows in frame.groupby("accession", sort=False):
        rows = rows.set_index("method")
        first = rows.loc[[m for m in methods if m in rows.index][0]]
        true = first.true_label if isinstance(first.true_label, str) else None  # a user's protein: unknown
        record = {"acc": accession, "seq": first.sequence, "true": true, "model": first.model,
                  "pred": first.pred_label, "methods": [], "signals": []}
        if sig is not None and accession in sig.index and sig.loc[accession].sequence == first.sequence:
            codes = sig.loc[accession].codes
            edges = np.flatnonzero(np.diff(np.concatenate([[0], codes, [0]])) != 0)
            record["signals"] = [[int(a), int(b), SIGNAL_TYPES[int(codes[a])]] for a, b in zip(edges[:-1], edges[1:],
                                                                                                 strict=True)
                                 if codes[a]]
        weight_scale = max([max_abs(rows.loc[m].scores) for m in WEIGHT_METHODS if m in rows.index], default=0.0)
        for method in methods:
            if method not in rows.index:
                continue
            row = rows.loc[method]
            scores = np.asarray(row.scores, dtype=np.float64)
            scale = weight_scale if method in WEIGHT_METHODS else max_abs(scores)
            quant = [None if np.isnan(v) else int(round(100 * v / scale)) if scale else 0 for v in scores]
            part = hits.get((accession, method)) if hits is not None else None
            if part is not None:
                peptides = [[int(p.start), int(p.end), int(p.n_matches), _clean(p.hitrate_true),
                             _clean(p.hitrate_pred)] for p in part.sort_values("start").itertuples()]
            else:  # no hit-rate results for this row (none given, or none extracted there): extract here
                peptides = [[p.start, p.end, None, None, None]
                            for p in extract_by_protocol(row.sequence, scores, protocol=protocol, window=window, k=k)]
            record["methods"].append({"name": method, "pred": row.pred_label,
                                      "probs": [round(float(v), 3) for v in row.probs],
                                      "scores": quant, "peptides": peptides})
        records.append(record)
    return records


def close_matches(accession: str, known) -> str:
    near = difflib.get_close_matches(accession.upper(), list(known), n=5, cutoff=0.6)
    return f"; close matches: {', '.join(near)}" if near else ""


def render_html(records: list[dict], *, title: str, source: str) -> str:
    data = json.dumps({"classes": list(CLASSES), "signal_names": SIGNAL_NAMES, "proteins": records},
                      separators=(",", ":"))
    # inside <script>, every HTML-significant character as a JSON escape: no "</script>", "<!--" or
    # entity can end or bend the script, and U+2028/9 cannot end a JavaScript line
    data = data.translate(JSON_IN_SCRIPT)
    page = (Path(__file__).with_name("view_page.html")).read_text(encoding="utf-8")
    # one pass: text that came in (a title, a path, the data) is never searched for placeholders again
    values = {"%TITLE%": html.escape(title), "%SOURCE%": html.escape(source), "%DATA%": data}
    return re.sub("%TITLE%|%SOURCE%|%DATA%", lambda m: values[m.group(0)], page)


def render_png(record: dict, path: Path) -> None:
    """One protein as a figure: a heat strip per method, peptides boxed, signals marked, probabilities beside."""
    from matplotlib.patches import Rectangle

    from pslmodels.plots import pyplot

    plt = pyplot()

    methods = record["methods"]
    n = len(record["seq"])
    fig = plt.figure(figsize=(12, 1.1 + 0.75 * len(methods)))
    grid = fig.add_gridspec(len(methods) + 1, 2, width_ratios=[5, 1], height_ratios=[0.5] + [1] * len(methods))
    top = fig.add_subplot(grid[0, 0])
    for start, end, kind in record["signals"]:
        top.add_patch(Rectangle((start, 0), end - start, 1, color="tab:green", alpha=0.6))
        top.text((start + end) / 2, 0.5, kind, ha="center", va="center", fontsize=7)
    top.set_xlim(0, n)
    top.axis("off")
    known = f"true {record['true']}" if record["true"] else "no known class"
    top.set_title(f"{record['acc']} ({n} residues), {known}; model {record['model']}"
                  + ("; known signals in green" if record["signals"] else ""), fontsize=9, loc="left")
    for i, m in enumerate(methods):
        ax = fig.add_subplot(grid[i + 1, 0])
        values = np.array([np.nan if v is None else v for v in m["scores"]], dtype=float)[None, :]
        ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-100, vmax=100, extent=(0, n, 0, 1),
                  interpolation="nearest")
        for start, end, count, hit_true, _ in m["peptides"]:
            ax.add_patch(Rectangle((start, 0.02), end - start, 0.96, fill=False, lw=1.2, color="black"))
            if hit_true is not None:
                ax.text(start, 1.05, f"{hit_true:.2f} ({count})", fontsize=6)
        ax.set_yticks([])
        ax.set_ylabel(m["name"], rotation=0, ha="right", va="center", fontsize=8)
        ax.set_xlim(0, n)
        if i < len(methods) - 1:
            ax.set_xticklabels([])
        bar = fig.add_subplot(grid[i + 1, 1])
        colors = ["tab:orange" if c == m["pred"] else "tab:gray" for c in CLASSES]
        bar.bar(range(len(CLASSES)), m["probs"], color=colors)
        bar.set_ylim(0, 1)
        bar.set_xticks([])
        bar.tick_params(labelsize=6)
        bar.set_title(f"pred {m['pred']} {max(m['probs']):.2f}", fontsize=7)
    fig.axes[-2].set_xlabel("residue (0-based); boxes: extracted peptides, label: hit rate vs true (matches)")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_viewer(frame: pd.DataFrame, out: Path, *, methods: list[str] | None = None, hitrates: Path | None = None,
                 signals: pd.DataFrame | None = None, window: int = 5, k: float = 2.0, protocol: str = "spec",
                 title: str = "attributions", source: str = "") -> list[dict]:
    """The viewer of the attribution rows ``frame`` (SPEC 5) as ``out``: an HTML page, or a PNG of one protein.

    ``hitrates``: a hit-rate results folder whose peptides and hit rates to show (else peptides are
    extracted here, as ``protocol`` says, without hit rates). Written atomically. Returns the records.
    """
    out = Path(out)
    methods = methods or pick_methods(frame, None)
    records = protein_records(frame, methods, read_peptide_hits(hitrates), signals, window=window, k=k,
                              protocol=protocol)
    with atomic_output(out) as tmp:
        if out.suffix.lower() == ".png":
            render_png(records[0], tmp)
        else:
            tmp.write_text(render_html(records, title=title, source=source), encoding="utf-8")
    return records


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m pslmodels.view", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("attributions", type=Path)
    parser.add_argument("--accession", help="one protein (PNG or single-protein HTML)")
    parser.add_argument("--methods", nargs="+", metavar="METHOD",
                        help="methods to show, e.g. --methods attention ig (default: all in the file)")
    parser.add_argument("--hitrates", type=Path, default=None,
                        help="hit-rate results folder or .duckdb (default: hitrate/ beside the attributions, if there)")
    parser.add_argument("--signals", type=Path, default=None, help=f"sorting signals (default: {DEFAULT_SIGNALS})")
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--k", type=float, default=2.0)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="spec",
                        help="how peptides are extracted when no hit-rate results give them: spec or paper (SPEC 10)")
    parser.add_argument("--out", type=Path, default=None,
                        help="FILE.html or FILE.png (default: an HTML beside the input)")
    return parser


def run(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.window < 1 or not (args.k >= 0 and math.isfinite(args.k)):  # before any reading
        raise PslError(f"--window {args.window}, --k {args.k}: need a window >= 1 and a finite k >= 0")
    frame = read_attributions(args.attributions, purpose="the viewer")
    methods = pick_methods(frame, args.methods)
    if args.accession:
        accession = args.accession.strip()
        if accession not in set(frame.accession):
            near = close_matches(accession, set(frame.accession))
            raise PslError(f"{args.attributions}: no protein {accession!r}{near}")
        frame = frame[frame.accession == accession]
    out = args.out or args.attributions.with_name(
        f"{args.accession}.html" if args.accession else args.attributions.stem + ".html")
    if out.suffix.lower() not in (".html", ".png"):
        raise PslError(f"--out {out}: give a .html or .png file")
    if out.suffix.lower() == ".png" and not args.accession:
        raise PslError("--out FILE.png draws one protein: add --accession")
    hitrates = args.hitrates
    if hitrates is None and (args.attributions.parent / "hitrate" / "hitrates.duckdb").is_file():
        hitrates = args.attributions.parent / "hitrate"
    if args.signals is not None:
        signals = read_signals(args.signals)
    else:
        signals = read_signals(DEFAULT_SIGNALS) if DEFAULT_SIGNALS.is_file() else None
    records = write_viewer(frame, out, methods=methods, hitrates=hitrates, signals=signals, window=args.window,
                           k=args.k, protocol=args.protocol, title=f"{args.attributions.name}: attributions",
                           source=str(args.attributions))
    print(f"{len(records)} protein(s), methods {', '.join(methods)}, peptides as --protocol {args.protocol}"
          f"{', hit rates from ' + str(hitrates) if hitrates else ', no hit rates (none given)'}"
          f"{'' if signals is not None else ', no sorting-signal file'} -> {out}")
    return 0


def main(argv=None) -> int:
    return cli_main(run, argv)


if __name__ == "__main__":
    sys.exit(main())
