"""``attributions.parquet`` (SPEC 5): one schema, one writer, one validating reader.

One row per (run, model, method, protein): the protein's sequence, its true label (null for a
user's own protein), the model's prediction, class probabilities (10 floats, SPEC 1 order) and one
score per residue in full-sequence coordinates (NaN where the model did not look). Every producer
(``pslmodels.attribute``, ``psl predict``) writes through :func:`write_attributions`; every
consumer (hit rate, plausibility, viewer) reads through :func:`read_attributions`, so a damaged
or foreign file is refused in one line naming the file and the row.

>>> [f.name for f in SCHEMA][:4]
['run_id', 'model', 'method', 'accession']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pslindex.classes import ALPHABET, CLASSES
from pslindex.errors import PslError
from pslindex.files import atomic_output, read_parquet_columns

SCHEMA = pa.schema([
    ("run_id", pa.string()), ("model", pa.string()), ("method", pa.string()), ("accession", pa.string()),
    ("sequence", pa.string()), ("true_label", pa.string()), ("pred_label", pa.string()),
    ("probs", pa.list_(pa.float32())), ("scores", pa.list_(pa.float32())),
    ("ig_delta", pa.float64()),  # Integrated Gradients' convergence delta (logits); null for other methods
])
REQUIRED = ("run_id", "model", "method", "accession", "sequence", "true_label", "pred_label", "probs", "scores")
KEY = ("run_id", "model", "method", "accession")  # one row per key

# The paper's groups of proteins: (name, label the hit rate is judged against). "correct" rows have
# true == pred, the wrong ones true != pred; rows without a true label (a user's own proteins) form
# their own group, judged against the prediction.
GROUPS = (
    ("correct", "true"),
    ("wrong, vs predicted", "pred"),
    ("wrong, vs true", "true"),
)
UNLABELLED = ("unlabelled, vs predicted", "pred")


def to_table(rows: list[dict] | pd.DataFrame) -> pa.Table:
    """SPEC 5 rows (dicts or a frame with the schema's columns; ``ig_delta`` optional) as an Arrow table."""
    if isinstance(rows, pd.DataFrame):
        frame = rows if "ig_delta" in rows else rows.assign(ig_delta=None)
        return pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    return pa.Table.from_pylist([{"ig_delta": None, **r} for r in rows], schema=SCHEMA)


def write_attributions(rows: list[dict] | pd.DataFrame, path: str | Path) -> Path:
    """Write SPEC 5 rows to ``path`` atomically (temp file, then rename). Returns ``path``."""
    import pyarrow.parquet as pq

    table = to_table(rows)
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def read_attributions(path: str | Path, columns=REQUIRED, *, purpose: str = "this step") -> pd.DataFrame:
    """Read ``columns`` of an attributions file and validate every row; PslError (one line) on the first bad one.

    Checked where read: labels among the ten classes (true_label may be null), sequences of the 20
    amino acids (SPEC 3), one finite-or-NaN score per residue, no missing accession, no key twice.
    ``run_id`` and ``ig_delta`` come along when the file has them.
    """
    path = Path(path)
    columns = tuple(columns)
    frame = read_parquet_columns(path, columns, optional=tuple(c for c in ("run_id", "ig_delta") if c not in columns),
                                 purpose=purpose)
    validate(frame, path)
    return frame


def validate(frame: pd.DataFrame, path: str | Path = "attributions") -> None:
    """Raise PslError naming ``path`` and the first row that breaks SPEC 5 (see :func:`read_attributions`)."""
    known, letters = set(CLASSES), set(ALPHABET)
    if "accession" in frame and frame.accession.isna().any():
        raise PslError(f"{path}: row {int(np.flatnonzero(frame.accession.isna())[0])}: no accession")
    for i, row in enumerate(frame.to_dict("records")):
        where = f"{path}: row {i} ({row.get('accession')}, {row.get('method')})"
        if "pred_label" in row and row["pred_label"] not in known:
            raise PslError(f"{where}: pred_label {row['pred_label']!r} is not one of the ten classes")
        true = row.get("true_label")
        if "true_label" in row and not (true in known or true is None or true != true):  # null: a user's protein
            raise PslError(f"{where}: true_label {true!r} is not one of the ten classes (or null)")
        sequence = row.get("sequence")
        if "sequence" in row:
            if not isinstance(sequence, str) or not sequence:
                raise PslError(f"{where}: empty sequence")
            if set(sequence) - letters:
                raise PslError(f"{where}: sequence has letters outside {ALPHABET}: "
                               f"{''.join(sorted(set(sequence) - letters))}")
        if "scores" in row:
            scores = row["scores"]
            n = 0 if scores is None or np.ndim(scores) != 1 else len(scores)
            if sequence is not None and n != len(sequence):
                raise PslError(f"{where}: {n} scores for a sequence of length {len(sequence)}")
            if n and np.isinf(np.asarray(scores, dtype=np.float64)).any():
                raise PslError(f"{where}: infinite scores (only finite numbers, or NaN for unseen residues)")
    key = [c for c in KEY if c in frame]
    if len(key) == len(KEY):
        dup = frame.duplicated(key)
        if dup.any():
            first = frame[dup].iloc[0]
            raise PslError(f"{path}: row {int(np.flatnonzero(dup)[0])} ({first.accession}, {first.method}): the "
                           "same (run_id, model, method, accession) twice; it would be counted twice")


def protein_groups(proteins: pd.DataFrame, labels: str = "both"):
    """The paper's groups (:data:`GROUPS`) of one (model, method) slice of per-protein hit rates.

    ``proteins`` has columns ``true_label, pred_label, hitrate_true, hitrate_pred``. Yields
    ``(group name, label judged against, rows of the group, defined hit rates as an array)``;
    ``labels`` "true" or "pred" keeps only the wrong-prediction group judged against that label.
    """
    labelled = proteins.true_label.notna().to_numpy()
    correct = labelled & (proteins.true_label == proteins.pred_label).to_numpy()
    for name, label in GROUPS:
        if labels != "both" and label != labels and name != "correct":
            continue
        rows = proteins[correct] if name == "correct" else proteins[labelled & ~correct]
        if labelled.any():  # a file of unlabelled proteins only has the unlabelled group
            yield name, label, rows, rows[f"hitrate_{label}"].dropna().to_numpy()
    if not labelled.all():
        rows = proteins[~labelled]
        yield UNLABELLED[0], UNLABELLED[1], rows, rows["hitrate_pred"].dropna().to_numpy()
