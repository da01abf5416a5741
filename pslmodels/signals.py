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
