"""The published numbers the study is set beside (the only values typed into the reports).

Source: the paper's Table 1 (F1 micro / macro on the authors' random split, not the official
DeepLoc partition) and its Experiment II; of Tables 2-3 (hit rates) only the random-attention row
is available to this project (quoted in the issue tracker); the other cells are not in any file we
have, so the report says "not available" there rather than guess.
"""

# Published Table 1 (F1 micro / macro; the authors' random split, not the official partition).
PAPER_TABLE1 = {
    "bilstm-att": (0.673, 0.568), "bilstm-uniform": (0.666, 0.564),
    "cnn35": (0.667, 0.556), "cnn35-att": (0.650, 0.541),
    "cnn3-5-7-11": (0.666, 0.551), "cnn3-5-7-11-att": (0.670, 0.560),
}
# Experiment II, the token-level MLP with uniform, trained or pre-set attention (F1 micro / macro).
PAPER_TABLE1.update({"mlp-uniform": (0.445, 0.317), "mlp-trained": (0.468, 0.334), "mlp-preset": (0.452, 0.317)})

# Table 3, random attention of LSTM-Att: hit rate for correct / wrong vs predicted / wrong vs true.
PAPER_TABLE3_RANDOM = {"correct": 0.384, "wrong, vs predicted": 0.127, "wrong, vs true": 0.394}

# The paper's names of the study's models (its tables' row labels).
PAPER_NAMES = {"bilstm": "LSTM", "bilstm-att": "LSTM-Att", "bilstm-uniform": "LSTM-uniform Att",
               "cnn35": "small CNN-LSTM", "cnn35-att": "small CNN-LSTM-Att", "cnn3-5-7-11": "big CNN-LSTM",
               "cnn3-5-7-11-att": "big CNN-LSTM-Att", "mlp-uniform": "MLP, uniform attention",
               "mlp-trained": "MLP, trained attention", "mlp-preset": "MLP, pre-set attention"}
# Table 2: Integrated Gradients of these models; Table 3: these methods of the two attention models.
# "random" in the paper is U(0, 1) logits, softmaxed: our random-logits (SPEC 10).
TABLE2_MODELS = ("bilstm", "bilstm-att", "bilstm-uniform", "cnn3-5-7-11", "cnn3-5-7-11-att")
TABLE3_MODELS = ("bilstm-att", "cnn3-5-7-11-att")
TABLE3_METHODS = ("attention", "permuted", "random-logits")
