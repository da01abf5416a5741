"""Training side: DeepLoc data, the paper's models, training, evaluation."""
