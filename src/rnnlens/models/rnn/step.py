"""One time step of each recurrent layer type, with a hook point after every quantity it computes.

These are the equations of PyTorch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``
(torch's gate order: LSTM i, f, g, o; GRU r, z, n), written out so that a
quantity can be read or replaced the moment it exists:

- LSTM: ``input_gate``, ``forget_gate``, ``candidate``, ``output_gate``, then
  ``cell`` (c_t = f c_{t-1} + i g), then ``hidden`` (h_t = o tanh(c_t));
- GRU: ``reset_gate``, ``update_gate``, ``candidate``
  (n = tanh(W_in x + b_in + r (W_hn h + b_hn))), then ``hidden`` (h_t = (1 - z) n + z h_{t-1});
- RNN: ``hidden`` (h_t = tanh(W_ih x + b_ih + W_hh h + b_hh)).

``LSTM_BLOCKS`` and ``GRU_BLOCKS`` (gate name, block, activation) are shared
with the trace's batched computation of the same gates (``trace.py``), so the
equations are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

# every quantity of a layer of each type: the hook points and trace keys ``layerK.QUANTITY``
QUANTITIES = {
    "rnn": ("hidden",),
    "lstm": ("hidden", "cell", "input_gate", "forget_gate", "output_gate", "candidate"),
    "gru": ("hidden", "update_gate", "reset_gate", "candidate"),
}
# (quantity, block in torch's weight layout, activation), in the order a step computes them
LSTM_BLOCKS = (("input_gate", 0, torch.sigmoid), ("forget_gate", 1, torch.sigmoid),
               ("candidate", 2, torch.tanh), ("output_gate", 3, torch.sigmoid))
GRU_BLOCKS = (("reset_gate", 0, torch.sigmoid), ("update_gate", 1, torch.sigmoid), ("candidate", 2, torch.tanh))

Hook = Callable[[str, torch.Tensor], torch.Tensor]  # (quantity, value (batch, H)) -> the value to go on with


@dataclass(frozen=True)
class LayerWeights:
    """One layer's weights, transposed for products from the right: ``ih`` ``(inputs, blocks*H)``,
    ``hh`` ``(H, blocks*H)``, biases ``(blocks*H,)`` (zeros in a model without biases)."""

    model_type: str
    ih: torch.Tensor
    hh: torch.Tensor
    bias_ih: torch.Tensor
    bias_hh: torch.Tensor

    @classmethod
    def of(cls, model_type: str, rnn: nn.RNNBase, k: int) -> LayerWeights:
        """Layer ``k`` (from 0) of a fused module."""
        ih, hh = (getattr(rnn, f"weight_{part}_l{k}").detach() for part in ("ih", "hh"))
        zeros = torch.zeros(ih.shape[0], dtype=ih.dtype, device=ih.device)
        biases = [getattr(rnn, f"bias_{part}_l{k}").detach() if rnn.bias else zeros for part in ("ih", "hh")]
        return cls(model_type, ih.t().contiguous(), hh.t().contiguous(), *biases)

    @property
    def hidden_size(self) -> int:
        return self.hh.shape[0]

    def input_part(self, x: torch.Tensor | None, ids: torch.Tensor | None) -> torch.Tensor:
        """``x W_ih^T + b_ih`` for every position at once ``(..., blocks*H)``; for one-hot ``ids`` a row lookup."""
        if ids is not None:
            return self.ih[ids] + self.bias_ih
        return torch.addmm(self.bias_ih, x.reshape(-1, x.shape[-1]), self.ih).reshape(*x.shape[:-1], -1)

    def step(self, x_part: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None,
             hook: Hook) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step from ``x_part`` (``input_part`` at this position, ``(batch, blocks*H)``) and the state
        ``(h, c)`` ``(batch, H)`` (c None but for an LSTM); returns the new ``(h, c)``, each quantity passed
        through ``hook`` the moment it is computed."""
        recurrent = torch.addmm(self.bias_hh, h, self.hh)
        size = self.hidden_size
        if self.model_type == "lstm":
            pre = x_part + recurrent
            gate = {name: hook(name, function(pre[:, block * size:(block + 1) * size]))
                    for name, block, function in LSTM_BLOCKS}
            c = hook("cell", gate["forget_gate"] * c + gate["input_gate"] * gate["candidate"])
            return hook("hidden", gate["output_gate"] * torch.tanh(c)), c
        if self.model_type == "gru":
            part = lambda t, block: t[:, block * size:(block + 1) * size]
            reset = hook("reset_gate", torch.sigmoid(part(x_part, 0) + part(recurrent, 0)))
            update = hook("update_gate", torch.sigmoid(part(x_part, 1) + part(recurrent, 1)))
            candidate = hook("candidate", torch.tanh(part(x_part, 2) + reset * part(recurrent, 2)))
            return hook("hidden", (1 - update) * candidate + update * h), None
        return hook("hidden", torch.tanh(x_part + recurrent)), None
