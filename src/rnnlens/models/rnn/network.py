"""The character-level recurrent network of the paper: one-hot in, RNN/LSTM/GRU layers, softmax out.

An optional embedding (``embedding_size``, for imported models) replaces the
one-hot input with a learned ``(V, E)`` table; the paper's models have none.

Training and evaluation run PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``
so that cuDNN and oneDNN kernels do the work. Weight names follow those
modules (``rnn.weight_ih_l0`` ...), which is what traces read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnlens.errors import RnnlensError

MODEL_TYPES = ("rnn", "lstm", "gru")
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer in torch's layout


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's shape: type, vocabulary size, width, depth, dropout; the parameter
    budget its width was solved for, if it was (where a comparison of models places it); and the width of
    an input embedding, if the model has one (None: one-hot input, the paper's)."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    dropout: float = 0.0
    budget: int | None = None
    embedding_size: int | None = None

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise RnnlensError(f"unknown model type {self.model_type!r}; choose one of {', '.join(MODEL_TYPES)}")
        if self.hidden_size < 1 or self.num_layers < 1:
            raise RnnlensError("hidden size and number of layers must be at least 1")
        if not 0 <= self.dropout < 1:
            raise RnnlensError(f"dropout {self.dropout} must be in [0, 1)")
        if self.embedding_size is not None and self.embedding_size < 1:
            raise RnnlensError(f"embedding size {self.embedding_size} must be at least 1 (or none: one-hot input)")

    def to_dict(self) -> dict:
        """The config's fields; ``embedding_size`` only when set, so a one-hot model's config is unchanged."""
        values = asdict(self)
        if values["embedding_size"] is None:
            del values["embedding_size"]
        return values

    @property
    def parameter_count(self) -> int:
        return count_parameters(self.model_type, self.num_layers, self.vocab_size, self.hidden_size,
                                self.embedding_size)


def count_parameters(model_type: str, num_layers: int, vocab_size: int, hidden_size: int,
                     embedding_size: int | None = None) -> int:
    """Total parameters of a CharRNN, matching ``sum(p.numel())`` of the module.

    Each layer has ``blocks * H * (input + H)`` weights and two bias vectors
    of ``blocks * H`` (PyTorch keeps input and recurrent biases apart); the
    first layer's input is the one-hot vocabulary, or an embedding of ``V*E``
    weights; the decoder is ``H*V + V``.
    """
    blocks, h = GATE_BLOCKS[model_type], hidden_size
    total = vocab_size * embedding_size if embedding_size else 0
    for layer in range(num_layers):
        inputs = (embedding_size or vocab_size) if layer == 0 else h
        total += blocks * h * (inputs + h) + 2 * blocks * h
    return total + h * vocab_size + vocab_size


def solve_hidden_size(model_type: str, num_layers: int, vocab_size: int, budget: int,
                      embedding_size: int | None = None) -> int:
    """The hidden size whose total parameter count is closest to ``budget``."""
    if budget < 1:
        raise RnnlensError(f"parameter budget {budget} must be positive")
    best, best_gap = 1, None
    for h in range(1, 8193):
        gap = abs(count_parameters(model_type, num_layers, vocab_size, h, embedding_size) - budget)
        if best_gap is not None and gap > best_gap:
            break  # the count grows with h, so the gap only widens from here
        best, best_gap = h, gap
    return best


class CharRNN(nn.Module):
    """One-hot characters (or their embedding) → stacked recurrent layers → dropout → linear decoder (logits).

    Dropout acts between layers (inside the fused module) and before the
    decoder, as in the paper.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        rnn_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config.model_type]
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size) if config.embedding_size else None
        self.rnn = rnn_class(
            config.embedding_size or config.vocab_size, config.hidden_size, config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def init_uniform(self, scale: float = 0.08, forget_bias: float = 0.0) -> None:
        """The paper's initialisation: every parameter uniform in [-scale, scale].

        ``forget_bias`` is then added to an LSTM's forget-gate input biases
        (torch's gate order is i, f, g, o), so that memory starts long.
        """
        for p in self.parameters():
            nn.init.uniform_(p, -scale, scale)
        if forget_bias:
            if self.config.model_type != "lstm":
                raise RnnlensError(f"a forget-gate bias needs an LSTM; a {self.config.model_type} has no forget gate")
            size = self.config.hidden_size
            with torch.no_grad():
                for k in range(self.config.num_layers):
                    getattr(self.rnn, f"bias_ih_l{k}")[size:2 * size] += forget_bias

    def forward(self, ids: torch.Tensor, state=None):
        """Return ``(logits, state)``: logits ``(batch, time, vocab)`` for ids ``(batch, time)``.

        ``state`` is the fused module's state (a tensor, or ``(h, c)`` for an
        LSTM), each ``(layers, batch, hidden)``; ``None`` starts from zeros.
        """
        embedded = self.embedded(ids)
        if embedded is None:
            return self.forward_one_hot(F.one_hot(ids, self.config.vocab_size).to(self.decoder.weight.dtype), state)
        return self._decode(*self.rnn(embedded, state))

    def forward_one_hot(self, one_hot: torch.Tensor, state=None):
        """``forward`` on float inputs ``(batch, time, vocab)``: one-hot rows, or any mixture of them
        (attribution differentiates through them and integrates from all zeros); an embedding is
        ``one_hot @ embedding.weight``, which is the lookup for one-hot rows."""
        inputs = one_hot if self.embedding is None else one_hot @ self.embedding.weight
        return self._decode(*self.rnn(inputs, state))

    def embedded(self, ids: torch.Tensor) -> torch.Tensor | None:
        """The first layer's inputs ``(batch, time, E)`` for ids ``(batch, time)``: the embedding's rows, or
        None for a one-hot model (whose first layer reads ``ids`` as rows of its input weights)."""
        return None if self.embedding is None else self.embedding(ids)

    def _decode(self, outputs: torch.Tensor, state):
        return self.decoder(self.dropout(outputs)), state


def detach_state(state):
    """Cut the graph behind a carried state (truncated backpropagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA where present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RnnlensError(f"device {name!r} was asked for but no CUDA GPU is available",
                           advice="use cpu or auto", option="device")
    try:
        return torch.device(name)
    except RuntimeError:
        raise RnnlensError(f"unknown device {name!r}; use cpu, cuda or auto") from None
