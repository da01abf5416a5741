"""The sorting-signal annotations (SPEC 2): per-residue signal codes of Swiss-Prot proteins.

``signals/SortingSignalsSwissprot.csv.gz`` in the data directory: accession, sequence, kingdom and
one digit per residue (0 none, 1-9 :data:`SIGNAL_TYPES`). Read by the plausibility check, the
attribution stage (proteins with signals) and the viewer (signals underlined).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pslindex.errors import PslError, first_line
from pslmodels.data import DATA_DIR

DEFAULT_SIGNALS = DATA_DIR / "signals" / "SortingSignalsSwissprot.csv.gz"
SIGNAL_TYPES = {1: "SP", 2: "TM", 3: "MT", 4: "CH", 5: "TH", 6: "NLS", 7: "NES", 8: "PTS", 9: "GPI"}
SIGNAL_NAMES = {"SP": "signal peptide", "TM": "transmembrane", "MT": "mitochondrial transit peptide",
                "CH": "chloroplast transit peptide", "TH": "thylakoid luminal transit peptide",
                "NLS": "nuclear localization signal", "NES": "nuclear export signal",
                "PTS": "peroxisomal targeting signal", "GPI": "GPI anchor"}


def read_signals(path: str | Path = DEFAULT_SIGNALS) -> pd.DataFrame:
    """The sorting-signal annotations: accession, sequence, kingdom, codes (uint8 array, one per residue).

    Raises PslError naming the file (and the record) when it is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise PslError(f"{path}: no sorting-signal file here (SPEC 2: signals/SortingSignalsSwissprot.csv.gz; "
                       "set --signals or PSL_DATA_DIR)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # gzip, csv and unicode errors alike
        raise PslError(f"{path}: not a readable CSV ({first_line(exc)})") from None
    missing = [c for c in ("ACC", "AnnotEncoded", "Sequence") if c not in table.columns]
    if missing:
        raise PslError(f"{path}: missing column(s) {', '.join(missing)}")
    codes = []
    for i, (acc, annot, seq) in enumerate(zip(table.ACC, table.AnnotEncoded, table.Sequence, strict=True)):
        if len(annot) != len(seq) or not annot.isdigit():
            raise PslError(f"{path}: record {i + 1} ({acc}): AnnotEncoded must be one digit per residue "
                           f"({len(annot)} characters for {len(seq)} residues)")
        codes.append(np.frombuffer(annot.encode("ascii"), np.uint8) - ord("0"))
    return pd.DataFrame({"accession": table.ACC, "sequence": table.Sequence,
                         "kingdom": table.get("Kingdom", ""), "codes": codes})


def signal_accessions(path: str | Path = DEFAULT_SIGNALS) -> set[str]:
    """Accessions with sorting-signal annotations."""
    return set(read_signals(path).accession)


# SPEC 11.1's positive control: the attribution a method would have to match to find real biology.
ORACLE = "oracle-signal"


def oracle_rows(attributions: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """``oracle-signal`` rows (SPEC 11.1) for the proteins of ``attributions`` with annotated sorting signals.

    For each (run, protein) whose accession and sequence match an annotation of ``signals``
    (:func:`read_signals`), one row scoring 1 on its signal residues and 0 elsewhere, NaN where the model
    did not look; the prediction (``pred_label``, ``probs``) is copied from the protein's first explanation
    row (attention, IG or occlusion: the model's own prediction, not one under replaced weights).
    Proteins without an annotation get no row, so the oracle has no peptides there. Same columns as
    ``attributions``. Under SPEC 6 (residues above mean + 2 sd) a 0/1 score yields peptides only where
    signals cover under 20 % of the residues seen: long transmembrane or GPI-anchored stretches give none.

    >>> signals = pd.DataFrame({"accession": ["P1"], "sequence": ["MKLV"],
    ...                         "codes": [np.array([1, 1, 0, 0], np.uint8)]})
    >>> rows = pd.DataFrame({"run_id": "r", "model": "m", "method": ["attention", "attention"],
    ...                      "accession": ["P1", "P2"], "sequence": ["MKLV", "MKLA"], "true_label": "Nucleus",
    ...                      "pred_label": "Nucleus", "probs": None,
    ...                      "scores": [np.array([.1, .2, .3, np.nan]), np.zeros(4)]})
    >>> oracle_rows(rows, signals)[["method", "accession", "scores"]].to_dict("records")
    [{'method': 'oracle-signal', 'accession': 'P1', 'scores': array([ 1.,  1.,  0., nan], dtype=float32)}]
    """
    from pslindex.attributions import EXPLANATIONS

    known = dict(zip(signals.accession, zip(signals.sequence, signals.codes, strict=True), strict=True))
    explained = attributions[attributions.method.isin(EXPLANATIONS) & attributions.accession.isin(known)]
    first = explained.drop_duplicates([c for c in ("run_id", "model", "accession") if c in explained])
    first = first[np.array([known[a][0] == s for a, s in zip(first.accession, first.sequence, strict=True)],
                           dtype=bool)]

    def scores(accession, seen):
        values = (known[accession][1] != 0).astype(np.float32)
        values[np.isnan(np.asarray(seen, dtype=np.float64))] = np.nan
        return values

    out = first.assign(method=ORACLE, scores=[scores(a, s) for a, s in zip(first.accession, first.scores,
                                                                               strict=True)])
    for column in ("ig_delta", "ig_change"):
        if column in out:
            out[column] = None
    return out.reset_index(drop=True)
