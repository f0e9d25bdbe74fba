"""rnnlens: character-level recurrent language models and what happens inside them.

The Python API mirrors the command line::

    from rnnlens import load_corpus, load_predictor, evaluate
    corpus = load_corpus(dataset="war-and-peace", data_dir="../shared/data")
    model = load_predictor("runs/lstm")
    print(evaluate(model, corpus.split_ids("test")).line())
"""

from rnnlens.data.corpus import Corpus, Vocabulary, load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.analyses.evaluation import Evaluation, evaluate
from rnnlens.models.rnn.network import CharRNN, ModelConfig, count_parameters, solve_hidden_size
from rnnlens.models.predictor import Predictor, load_predictor
from rnnlens.training.loop import TrainOptions, Trainer, resume_run, start_run

__all__ = [
    "CharRNN", "Corpus", "Evaluation", "ModelConfig", "Predictor", "RnnlensError", "TrainOptions", "Trainer",
    "Vocabulary", "count_parameters", "evaluate", "load_corpus", "load_predictor", "resume_run",
    "solve_hidden_size", "start_run",
]
