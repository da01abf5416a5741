"""Forward passes over lists of proteins: class probabilities, and the predictions table of a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pslindex.classes import CLASSES
from pslmodels.data import Protein, batches
from pslmodels.model import PslModel


@torch.no_grad()
def predict(model: PslModel, proteins: list[Protein], device: torch.device, batch_size: int = 32,
            teacher: PslModel | None = None, method=None) -> np.ndarray:
    """Class probabilities, shape (n, 10), in the order of ``proteins``.

    ``teacher``: the run whose attention an ``mlp-preset`` model pools with. ``method``: an
    attribution method (``pslmodels.attribute``) whose probabilities to return instead of the plain
    forward pass (e.g. the prediction with the attention replaced).
    """
    model.eval()
    probs = np.zeros((len(proteins), len(CLASSES)), dtype=np.float32)
    index = {id(p): i for i, p in enumerate(proteins)}
    for batch in batches(proteins, batch_size):
        batch = batch.to(device)
        if method is not None:
            out = method.attribute(model, batch).probs
        else:
            attention = teacher_attention(teacher, batch) if teacher is not None else None
            out = torch.softmax(model(batch.tokens, batch.lengths, attention=attention)[0], dim=1)
        probs[[index[id(p)] for p in batch.proteins]] = out.cpu().numpy()
    return probs


@torch.no_grad()
def teacher_attention(teacher: PslModel, batch) -> torch.Tensor:
    """The per-residue attention of a trained model, used as the preset weights of mlp-preset."""
    teacher.eval()
    _, alpha = teacher(batch.tokens, batch.lengths)
    return alpha


def predictions_frame(proteins: list[Protein], probs: np.ndarray) -> pd.DataFrame:
    """One row per protein: accession, true_label, pred_label, probs (10 floats, SPEC 1 order)."""
    return pd.DataFrame({
        "accession": [p.accession for p in proteins],
        "true_label": [p.label for p in proteins],
        "pred_label": [CLASSES[i] for i in probs.argmax(1)],
        "probs": [row.astype(np.float32).tolist() for row in probs],
    })
