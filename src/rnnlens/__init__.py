"""rnnlens: character-level recurrent language models and what happens inside them.

The Python API mirrors the command line::

    from rnnlens import load_corpus, load_predictor, evaluate
    corpus = load_corpus(dataset="war-and-peace", data_dir="../shared/data")
    model = load_predictor("runs/lstm")
    print(evaluate(model, corpus.split_ids("test")).summary())

and traces or scores any string (``rnnlens.api``)::

    from rnnlens import predict_next, trace
    trace("runs/lstm", "Pierre said")["layer2.cell"]       # (10, units): an 11-character text has 10 rows
    predict_next("runs/lstm", "Pierre said").top(3)        # the likeliest characters after its end
"""

from rnnlens.analyses.evaluation import Evaluation, evaluate
from rnnlens.analyses.scoring import Scores, score
from rnnlens.api import NextCharacters, predict_next, trace
from rnnlens.data.corpus import Corpus, Vocabulary, load_corpus
from rnnlens.data.features import register_feature
from rnnlens.data.texts import Text, text_for
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.registry import fit, load_predictor, register_kind
from rnnlens.store.predictions import Predictions, predictions_for
from rnnlens.store.traces import get_trace, open_trace

__all__ = [
    "Corpus", "Evaluation", "NextCharacters", "Predictions", "Predictor", "RnnlensError", "Scores", "Text",
    "Vocabulary", "evaluate", "fit", "get_trace", "load_corpus", "load_predictor", "open_trace", "predict_next",
    "predictions_for", "register_feature", "register_kind", "score", "text_for", "trace",
]
