"""Classification metrics (SPEC 8): thin wrappers over scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, matthews_corrcoef

from pslindex.classes import CLASSES


def classification_metrics(y_true, y_pred) -> dict:
    """Accuracy (= F1 micro), F1 macro, per-class F1, Gorodkin MCC and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,), label ids 0..9

    Returns
    -------
    dict with ``n, accuracy, f1_micro, f1_macro, mcc, f1_per_class`` ({class: F1}) and ``confusion``
    (10 x 10 nested list, rows = true class, columns = predicted, in label-id order).
    Classes absent from both ``y_true`` and ``y_pred`` get F1 0 and still count in the macro mean.

    Examples
    --------
    >>> m = classification_metrics([0, 1, 1, 2], [0, 1, 2, 2])
    >>> round(m["accuracy"], 2), m["n"]
    (0.75, 4)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(len(CLASSES)))
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_micro": float(f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0)),
        "f1_macro": float(per_class.mean()),
        "mcc": float(matthews_corrcoef(y_true, y_pred)),  # multi-class MCC = Gorodkin's R_K
        "f1_per_class": {c: float(f) for c, f in zip(CLASSES, per_class, strict=True)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
