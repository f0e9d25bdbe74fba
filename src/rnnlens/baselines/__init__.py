"""Models that see only the last n characters: Kneser-Ney n-grams, ARPA files and n-NN networks.

They are predictors like the RNNs (see ``rnnlens.predictor``), so every
analysis compares them with any other model through the same two verbs.
"""
