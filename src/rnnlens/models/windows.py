"""The log-probability of the last character of each of many short texts, each read from a fresh start.

What a model predicts when it sees only a window of the text: any predictor
answers by reading each window alone (``predict_log_probs``); a kind that can
read many windows side by side (an RNN: one batched pass from a zero state)
says so with ``predict_window_log_probs``. A kind that declares how many
characters it sees (``context_length``: an n-gram's or n-NN's n) is given only
those, which changes nothing in its predictions.
"""

from __future__ import annotations

import numpy as np

from rnnlens.models.predictor import Predictor


def last_log_probs(predictor: Predictor, windows: np.ndarray) -> np.ndarray:
    """``(P,)`` float64: ln p(windows[p, -1] | windows[p, :-1]) for ``windows`` ``(P, W)`` int64 ids, W >= 2."""
    windows = np.asarray(windows, dtype=np.int64)
    if hasattr(predictor, "predict_window_log_probs"):
        return np.asarray(predictor.predict_window_log_probs(windows), dtype=np.float64)
    seen = getattr(predictor, "context_length", None)
    if seen:
        windows = windows[:, -(seen + 1):]
    return np.array([predictor.predict_log_probs(window)[-1] for window in windows], dtype=np.float64)
