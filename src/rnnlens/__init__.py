"""rnnlens: character-level recurrent language models and what happens inside them.

The Python API mirrors the command line::

    from rnnlens import load_corpus, load_predictor, evaluate
    corpus = load_corpus(dataset="war-and-peace", data_dir="../shared/data")
    model = load_predictor("runs/lstm")
    print(evaluate(model, corpus.split_ids("test")).line())
"""

from .corpus import Corpus, Vocabulary, load_corpus
from .errors import RnnlensError
from .evaluate import Evaluation, evaluate
from .model import CharRNN, ModelConfig, count_parameters, solve_hidden_size
from .predictor import Predictor, load_predictor
from .train import TrainOptions, Trainer, resume_run, start_run

__all__ = [
    "CharRNN", "Corpus", "Evaluation", "ModelConfig", "Predictor", "RnnlensError", "TrainOptions", "Trainer",
    "Vocabulary", "count_parameters", "evaluate", "load_corpus", "load_predictor", "resume_run",
    "solve_hidden_size", "start_run",
]
