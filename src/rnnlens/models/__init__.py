"""Model kinds (RNN, n-gram, n-NN) and what they share: every model is a predictor (``predictor``).

``registry`` is the one place that knows which kinds exist; each kind is one
module or sub-package here.
"""
