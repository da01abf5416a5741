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
    ("ig_delta", pa.float64()),   # Integrated Gradients' convergence delta (logits); null for other methods
    ("ig_change", pa.float64()),  # f(x) - f(baseline) that IG's scores must add up to (logits); null likewise
])
OPTIONAL = ("run_id", "ig_delta", "ig_change")  # read when the file has them (older files lack ig_change)

# Integrated Gradients' completeness (README "Integrated Gradients on recurrent models"): a row is sound
# when |delta| <= IG_TOLERANCE * max(|f(x) - f(baseline)|, 1 logit). Rows above it are left out of every
# table that uses the scores, and counted.
IG_TOLERANCE = 0.05


def ig_error(delta, change):
    """Relative completeness error of IG rows: |delta| / max(|change|, 1); works on arrays and tensors.

    >>> float(ig_error(0.2, 8.0)), float(ig_error(0.2, 0.1))
    (0.025, 0.2)
    """
    if hasattr(delta, "abs") and hasattr(delta, "clamp"):  # torch
        return delta.abs() / change.abs().clamp(min=1.0)
    return np.abs(delta) / np.maximum(np.abs(change), 1.0)


def unsound_ig(frame: pd.DataFrame, tolerance: float = IG_TOLERANCE) -> np.ndarray:
    """Boolean mask of the IG rows of ``frame`` whose completeness error exceeds ``tolerance``.

    A row without a recorded delta counts as unsound (it cannot show that it adds up); a row without
    ``ig_change`` (files written before it existed) is judged on |delta| alone against 1 logit.
    """
    if "method" not in frame:
        return np.zeros(len(frame), dtype=bool)
    ig = (frame["method"] == "ig").to_numpy()
    if not ig.any():
        return ig
    delta = frame["ig_delta"].to_numpy(dtype=np.float64) if "ig_delta" in frame else np.full(len(frame), np.nan)
    change = frame["ig_change"].to_numpy(dtype=np.float64) if "ig_change" in frame else np.zeros(len(frame))
    change = np.where(np.isnan(change), 0.0, change)
    with np.errstate(invalid="ignore"):
        bad = ~(ig_error(delta, change) <= tolerance)
    return ig & bad


def ig_summary(frame: pd.DataFrame, tolerance: float = IG_TOLERANCE) -> str:
    """One line on the IG rows of ``frame``: how many add up within ``tolerance``, |delta| median and max."""
    rows = frame[frame["method"] == "ig"] if "method" in frame else frame
    if rows.empty:
        return "IG: no rows"
    sound = int((~unsound_ig(rows, tolerance)).sum())
    delta = rows["ig_delta"].abs()
    return (f"IG completeness: {sound} of {len(rows)} proteins within {tolerance:g} of |f(x) - f(baseline)| "
            f"({sound / len(rows):.0%}); |delta| median {delta.median():.3g}, max {delta.max():.3g} logits")


def pack_scores(frame: pd.DataFrame, path: str | Path, *, weights_sha256: str = "") -> Path:
    """Write ``frame``'s rows compactly (.npz, scores as float16, unsound IG rows' scores dropped).

    For moving attributions between machines (a GPU host's results come back in a few MB); sequences
    and labels are not stored: :func:`unpack_scores` takes them from the data set again.
    """
    bad = unsound_ig(frame)
    lengths = frame["scores"].map(len).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    # unsound IG rows are void: their scores are kept as NaN (the delta stays, so the row is still counted)
    parts = [np.full(len(s), np.nan, dtype=np.float16) if void else np.asarray(s, dtype=np.float16)
             for s, void in zip(frame["scores"], bad, strict=True)]
    scores = np.concatenate(parts) if parts else np.array([], dtype=np.float16)
    arrays = {c: frame[c].astype(str).to_numpy(dtype=str)
              for c in ("run_id", "model", "method", "accession", "pred_label")}
    arrays.update(scores=scores, offsets=offsets, probs=np.stack(frame["probs"].to_numpy()).astype(np.float32),
                  ig_delta=frame.get("ig_delta", pd.Series(np.nan, index=frame.index)).to_numpy(dtype=np.float64),
                  ig_change=frame.get("ig_change", pd.Series(np.nan, index=frame.index)).to_numpy(dtype=np.float64),
                  weights_sha256=np.array(weights_sha256))
    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


def unpack_scores(path: str | Path, proteins: dict, *, weights_sha256: str = "") -> pd.DataFrame:
    """The rows of a :func:`pack_scores` file as a SPEC 5 frame; ``proteins``: accession -> (sequence, true label).

    Refuses (one line) a pack made from other weights than ``weights_sha256`` (when both are known),
    an unknown accession, or a score count that differs from the sequence.
    """
    try:
        pack = np.load(path, allow_pickle=False)
        arrays = {k: pack[k] for k in pack.files}
    except Exception as exc:  # numpy raises several types for a damaged file
        raise PslError(f"{path}: not a readable scores pack ({type(exc).__name__})") from None
    made_with = str(arrays.get("weights_sha256", ""))
    if weights_sha256 and made_with and made_with != weights_sha256:
        raise PslError(f"{path}: made from other weights ({made_with[:12]}) than the run's ({weights_sha256[:12]}); "
                       "compute it again")
    offsets, rows = arrays["offsets"], []
    for i, accession in enumerate(arrays["accession"]):
        if accession not in proteins:
            raise PslError(f"{path}: row {i}: accession {accession} is not in the data set")
        sequence, label = proteins[accession]
        scores = arrays["scores"][offsets[i]:offsets[i + 1]].astype(np.float32)
        if len(scores) != len(sequence):
            raise PslError(f"{path}: row {i} ({accession}): {len(scores)} scores for {len(sequence)} residues")
        delta, change = arrays["ig_delta"][i], arrays["ig_change"][i]
        rows.append({"run_id": str(arrays["run_id"][i]), "model": str(arrays["model"][i]),
                     "method": str(arrays["method"][i]), "accession": str(accession), "sequence": sequence,
                     "true_label": label, "pred_label": str(arrays["pred_label"][i]), "probs": arrays["probs"][i],
                     "scores": scores, "ig_delta": None if np.isnan(delta) else float(delta),
                     "ig_change": None if np.isnan(change) else float(change)})
    frame = pd.DataFrame(rows)
    validate(frame, path)
    return frame


def drop_unsound_ig(frame: pd.DataFrame, tolerance: float = IG_TOLERANCE) -> tuple[pd.DataFrame, int]:
    """``frame`` without its unsound IG rows (:func:`unsound_ig`), and how many were dropped."""
    bad = unsound_ig(frame, tolerance)
    return (frame[~bad].reset_index(drop=True) if bad.any() else frame), int(bad.sum())
# The methods that explain a prediction, in the order tables show them (the others are controls: attention
# replaced by uniform, permuted, shifted or random weights). ``occlusion`` stands beside ``ig`` where IG's
# scores do not add up (README "Integrated Gradients on recurrent models").
EXPLANATIONS = ("attention", "ig", "occlusion")
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
    """SPEC 5 rows (dicts or a frame with the schema's columns; ``ig_delta``, ``ig_change`` optional) as Arrow."""
    if isinstance(rows, pd.DataFrame):
        frame = rows.assign(**{c: None for c in ("ig_delta", "ig_change") if c not in rows})
        return pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    return pa.Table.from_pylist([{"ig_delta": None, "ig_change": None, **r} for r in rows], schema=SCHEMA)


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
    ``run_id``, ``ig_delta`` and ``ig_change`` come along when the file has them.
    """
    path = Path(path)
    columns = tuple(columns)
    frame = read_parquet_columns(path, columns, optional=tuple(c for c in OPTIONAL if c not in columns),
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
