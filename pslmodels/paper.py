"""The paper's published numbers (the only values the reports set beside ours, never typed in here).

Read at report time from ``$PSL_DATA_DIR/paper/published_values.tsv`` (``../shared/data`` beside a
checkout; its SOURCE.md says where every cell comes from): Table 1 (F1 micro / macro on the authors'
random split, not the official DeepLoc partition, with Experiment II's MLP rows), Table 2 (hit rates
of Integrated-Gradients peptides) and Table 3 (attention, permuted and randomized attention). The
paper's model, method and group names are mapped to ours in one place below.

>>> published_table1("bilstm-att")
(0.673, 0.568)
>>> published_hitrate("bilstm-att", "random-logits", "correct")
0.384
>>> published_hitrate("cnn35", "ig", "correct") is None   # a cell the paper does not publish
True
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from pslindex.errors import PslError
from pslmodels.data import DATA_DIR

PUBLISHED = DATA_DIR / "paper" / "published_values.tsv"

# The paper's names (published_values.tsv, SOURCE.md) -> ours.
FROM_PAPER_MODEL = {"LSTM": "bilstm", "LSTM-Att": "bilstm-att", "LSTM-uniform Att": "bilstm-uniform",
                    "CNN-LSTM {3,5}": "cnn35", "CNN-LSTM-Att {3,5}": "cnn35-att",
                    "big CNN-LSTM {3,5,7,11}": "cnn3-5-7-11", "big CNN-LSTM-Att {3,5,7,11}": "cnn3-5-7-11-att",
                    "MLP-uniform": "mlp-uniform", "MLP-trained": "mlp-trained", "MLP-preset": "mlp-preset"}
# "randomized attention" in the paper is U(0, 1) logits, softmaxed: our random-logits (SPEC 10).
FROM_PAPER_METHOD = {"integrated gradients": "ig", "attention": "attention", "permuted attention": "permuted",
                     "randomized attention": "random-logits"}
FROM_PAPER_GROUP = {"correct": "correct", "wrong, predicted label": "wrong, vs predicted",
                    "wrong, true label": "wrong, vs true"}

# The paper's names of the study's models (its tables' row labels).
PAPER_NAMES = {"bilstm": "LSTM", "bilstm-att": "LSTM-Att", "bilstm-uniform": "LSTM-uniform Att",
               "cnn35": "small CNN-LSTM", "cnn35-att": "small CNN-LSTM-Att", "cnn3-5-7-11": "big CNN-LSTM",
               "cnn3-5-7-11-att": "big CNN-LSTM-Att", "mlp-uniform": "MLP, uniform attention",
               "mlp-trained": "MLP, trained attention", "mlp-preset": "MLP, pre-set attention"}
# Table 2: Integrated Gradients of these models; Table 3: these methods of the two attention models.
TABLE2_MODELS = ("bilstm", "bilstm-att", "bilstm-uniform", "cnn3-5-7-11", "cnn3-5-7-11-att")
TABLE3_MODELS = ("bilstm-att", "cnn3-5-7-11-att")
TABLE3_METHODS = ("attention", "permuted", "random-logits")


@cache
def published(path: Path = PUBLISHED) -> pd.DataFrame:
    """Every published cell with our names: ``table, model, method, group, metric, value``.

    An absent file gives no rows (the reports then say "n/a"); a damaged one is refused in one line.
    """
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["table", "model", "method", "group", "metric", "value"])
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"table": int, "value": float})
    except (ValueError, pd.errors.ParserError) as exc:
        raise PslError(f"{path}: not the published-values table ({str(exc).splitlines()[0]})") from None
    for i, row in enumerate(frame.itertuples(), start=2):
        if row.model not in FROM_PAPER_MODEL or (row.table > 1 and (row.method not in FROM_PAPER_METHOD
                                                                     or row.group not in FROM_PAPER_GROUP)):
            raise PslError(f"{path}: line {i}: unknown model, method or group ({row.model!r}, {row.method!r}, "
                           f"{row.group!r}); pslmodels/paper.py maps the paper's names")
    return frame.assign(model=frame.model.map(FROM_PAPER_MODEL),
                        method=frame.method.map(lambda m: FROM_PAPER_METHOD.get(m, m)),
                        group=frame.group.map(lambda g: FROM_PAPER_GROUP.get(g, g)))


def published_table1(model: str) -> tuple[float, float] | None:
    """The paper's Table 1 (F1 micro, F1 macro) of ``model`` (our name), or None where it publishes none."""
    rows = published()
    rows = rows[(rows.table == 1) & (rows.model == model)].set_index("metric").value
    return (float(rows["f1_micro"]), float(rows["f1_macro"])) if {"f1_micro", "f1_macro"} <= set(rows.index) else None


def published_hitrate(model: str, method: str, group: str) -> float | None:
    """The paper's hit rate (Tables 2-3) of (model, method, group) in our names, or None where it publishes none."""
    rows = published()
    rows = rows[(rows.table > 1) & (rows.model == model) & (rows.method == method) & (rows.group == group)]
    return float(rows.value.iloc[0]) if len(rows) else None
