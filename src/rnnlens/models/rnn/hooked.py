"""The hookable forward pass of a CharRNN: read or replace any quantity of any layer at any step.

Hook points are named like the trace keys (``layer2.cell``; layers count from
1); the quantities of each type and the order a step computes them are those
of ``step.py``. A run goes layer by layer over a chunk of the text: a layer's
inputs are the outputs of the layer below over the whole chunk, which its
interventions cannot change. A layer with a hook (an intervention, or a
quantity to cache beyond ``hidden``) is stepped through time by
``LayerWeights.step``; a layer without is read by its fused kernel, which gives
the same values as training and ``evaluate``. So a clean run costs what
``evaluate`` costs, and an intervention costs a stepped pass only from its own
layer up.

Semantics (issue 19): a replaced ``layerK.cell`` unit takes its new value
right after ``c_t`` is computed, so ``h_t = o_t tanh(c_t)`` and the next step
use it; a replaced ``layerK.hidden`` unit takes it right after ``h_t``, and it
feeds the layer above, the decoder and the next step. The state a run returns
is the one after its last step's interventions, so a stream continued from it
(sampling) is exactly the intervened model's.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rnnlens.errors import RnnlensError
from rnnlens.models.interventions import Hooks
from rnnlens.models.rnn.network import CharRNN
from rnnlens.models.rnn.step import QUANTITIES, LayerWeights
from rnnlens.models.trace import layer_key, parse_layer_key

LayerState = tuple[torch.Tensor, torch.Tensor | None]  # (h, c) of one layer, each (batch, H); c None but for an LSTM
Watch = Callable[[str, int, torch.Tensor], None]  # (key, step within the chunk, value (batch, H)), after any change


class HookedRNN:
    """A CharRNN's forward pass with hook points (copies of the model's weights, taken once when it is built)."""

    def __init__(self, model: CharRNN) -> None:
        self.model = model
        config = model.config
        self.model_type, self.layers, self.hidden_size = config.model_type, config.num_layers, config.hidden_size
        self.weights = [LayerWeights.of(config.model_type, model.rnn, k) for k in range(config.num_layers)]
        self.kernels = [single_layer(model.rnn, k) for k in range(config.num_layers)]

    def hook_points(self) -> list[str]:
        """Every hook point, layer by layer (the trace's keys, less ``prob``)."""
        return [layer_key(k, q) for k in range(1, self.layers + 1) for q in QUANTITIES[self.model_type]]

    def check(self, hooks: Hooks) -> None:
        """Refuse hook points the model does not have, and units beyond its width."""
        points = self.hook_points()
        for key, interventions in hooks.items():
            if key not in points:
                raise RnnlensError(f"a {self.layers}-layer {self.model_type.upper()} has no hook point {key!r}; "
                                   f"its hook points are {', '.join(points)}")
            for intervention in interventions:
                if max(intervention.units) >= self.hidden_size:
                    raise RnnlensError(f"{key}: unit {max(intervention.units)} is out of range; the layer has "
                                       f"{self.hidden_size} units (0 to {self.hidden_size - 1})")

    def zero_state(self, batch: int) -> list[LayerState]:
        device, dtype = self.weights[0].hh.device, self.weights[0].hh.dtype
        zeros = lambda: torch.zeros(batch, self.hidden_size, device=device, dtype=dtype)
        return [(zeros(), zeros() if self.model_type == "lstm" else None) for _ in range(self.layers)]

    def forward(self, ids: torch.Tensor, hooks: Hooks, start: int = 0, state: list[LayerState] | None = None,
                watch: Watch | None = None, watched: set[str] = frozenset()) -> tuple[torch.Tensor, list[LayerState]]:
        """Logits ``(batch, T, V)`` for ``ids`` ``(batch, T)`` and the state after the last step.

        ``start`` is the position of ``ids[:, 0]`` in the whole text (interventions act at positions);
        ``state`` is the one a previous call returned (None: zeros). ``watch(key, t, value)`` sees every
        quantity in ``watched`` at each step, after any intervention on it.
        """
        state = state or self.zero_state(ids.shape[0])
        below, after = self.model.embedded(ids), []  # None: layer 1 reads ids as one-hot rows
        for k in range(self.layers):
            mine = {parse_layer_key(key)[1]: values for key, values in hooks.items()
                    if parse_layer_key(key)[0] == k + 1}
            seen = {q for q in QUANTITIES[self.model_type] if layer_key(k + 1, q) in watched}
            if mine or seen - {"hidden"}:
                below, last = self._stepped(k, ids, below, state[k], mine, start, watch, seen)
            else:
                below, last = self._fused(k, ids, below, state[k])
                if seen:
                    for t in range(below.shape[1]):
                        watch(layer_key(k + 1, "hidden"), t, below[:, t])
            after.append(last)
        return self.model.decoder(below), after

    def _fused(self, k: int, ids: torch.Tensor, below: torch.Tensor | None,
               state: LayerState) -> tuple[torch.Tensor, LayerState]:
        x = F.one_hot(ids, self.model.config.vocab_size).to(self.weights[k].hh.dtype) if below is None else below
        h, c = state
        outputs, carried = self.kernels[k](x, (h[None], c[None]) if c is not None else h[None])
        if c is not None:
            return outputs, (carried[0][0], carried[1][0])
        return outputs, (carried[0], None)

    def _stepped(self, k: int, ids: torch.Tensor, below: torch.Tensor | None, state: LayerState, mine: dict,
                 start: int, watch: Watch | None, seen: set[str]) -> tuple[torch.Tensor, LayerState]:
        weights = self.weights[k]
        x_part = weights.input_part(below, ids if below is None else None)
        h, c = state
        outputs = []
        for t in range(ids.shape[1]):
            position = start + t

            def hook(quantity: str, value: torch.Tensor) -> torch.Tensor:
                for intervention in mine.get(quantity, ()):
                    value = intervention.apply(value, position)
                if quantity in seen:
                    watch(layer_key(k + 1, quantity), t, value)
                return value

            h, c = weights.step(x_part[:, t], h, c, hook)
            outputs.append(h)
        return torch.stack(outputs, 1), (h, c)


def single_layer(rnn: nn.RNNBase, k: int) -> nn.RNNBase:
    """A single-layer fused module holding a copy of layer ``k``'s weights."""
    input_size = rnn.input_size if k == 0 else rnn.hidden_size
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    single = type(rnn)(input_size, rnn.hidden_size, 1, bias=rnn.bias, batch_first=True, **kwargs)
    single.load_state_dict({name.replace(f"_l{k}", "_l0"): p.detach()
                            for name, p in rnn.named_parameters() if name.endswith(f"_l{k}")})
    return single.to(device=rnn.weight_hh_l0.device, dtype=rnn.weight_hh_l0.dtype).eval()
