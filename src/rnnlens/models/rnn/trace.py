"""Traces: every state and gate of a CharRNN over a text, recomputed exactly and fast.

A trace is a cache of named arrays, keyed like ``layer1.cell`` (layers count
from 1). For a text of ``N`` ids there are ``N-1`` positions, as for every
predictor: row ``t`` of every key is the state *after reading* ``ids[t]``,
the one that predicts ``ids[t+1]``, and ``prob[t]`` is the probability the
model gave to ``ids[t+1]``. So ``text[t]`` is the character whose reading
produced row ``t``, which is the character a cell picture colours with it.

Keys, all ``float32``, ``(N-1, units)`` unless said otherwise:

- ``prob`` ``(N-1,)``: probability of the actual next character;
  ``distribution`` ``(N-1, vocab)`` with ``full_distribution=True``.
- every model: ``layerK.hidden`` (h).
- LSTM: ``layerK.cell`` (c), ``layerK.input_gate``, ``layerK.forget_gate``,
  ``layerK.output_gate``, ``layerK.candidate`` (i, f, o, g).
- GRU: ``layerK.update_gate``, ``layerK.reset_gate``, ``layerK.candidate``
  (z, r, n).

How it is computed: the fused kernel (``nn.LSTM`` ...) runs one layer at a
time over chunks of the text with its state carried, which gives every h_t
exactly as training and ``evaluate`` see it. Given h_{t-1} for all t, each
gate of a chunk follows from batched matrix products written straight into
its output array (torch's gate order: LSTM i, f, g, o; GRU r, z, n with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn))). The LSTM cell is then the
element-wise linear recurrence c_t = f_t c_{t-1} + i_t g_t, solved by
``linear_recurrence`` without a Python loop over every step; the chunk's
first c comes from the fused kernel's carried state. Each layer's kernel,
each layer's gates and the decoder are stages (``stages.py``); on a CPU
with more than one core each runs on a thread of its own, so layer 2 reads
chunk j while layer 1 reads chunk j+1 and the gates of earlier chunks are
computed beside them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlens.errors import RnnlensError
from rnnlens.models.interventions import Hooks
from rnnlens.models.rnn.hooked import HookedRNN, single_layer
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.models.rnn.stages import Stage, run_stages
from rnnlens.models.rnn.step import GRU_BLOCKS, LSTM_BLOCKS, QUANTITIES
from rnnlens.models.trace import layer_key, plain_page_array

GATES = {"rnn": (), "lstm": ("input_gate", "forget_gate", "output_gate"), "gru": ("update_gate", "reset_gate")}
CHUNK = 4096  # time steps per fused-kernel call; the state carries across chunks

Allocator = Callable[[str, tuple, np.dtype], np.ndarray]


def trace_keys(model_type: str, num_layers: int, full_distribution: bool = False) -> list[str]:
    """Every key a full trace of such a model holds, in a stable order."""
    keys = ["prob"] + (["distribution"] if full_distribution else [])
    return keys + [layer_key(k, q) for k in range(1, num_layers + 1) for q in QUANTITIES[model_type]]


def linear_recurrence(a: np.ndarray, b: np.ndarray, initial: np.ndarray, segment: int | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
    """Solve ``x_t = a_t * x_{t-1} + b_t`` for ``t = 0..n-1`` from ``x_{-1} = initial``.

    ``a``, ``b`` are ``(n, units)``, ``initial`` ``(units,)``; returns ``(n, units)``
    in their dtype (into ``out`` if given). The steps are cut into ``K``
    segments of ``L`` (about sqrt(n) each). All segments are solved together
    from zero in ``L`` vector steps, keeping the running product of ``a`` (no
    division, so tiny gates cannot blow up); then each segment's true start
    follows from the previous one in ``K`` steps, and
    ``x_t = partial_t + product_t * start`` fixes every step. About 2 sqrt(n)
    vector operations instead of n.
    """
    n, units = a.shape
    length = segment or max(1, math.isqrt(n))
    count = -(-n // length)
    partial = np.empty((count * length, units), a.dtype)
    product = np.empty((count * length, units), a.dtype)
    partial[:n], partial[n:] = b, 0
    product[:n], product[n:] = a, 1
    steps = partial.reshape(count, length, units)  # [k, j]: step j of segment k
    products = product.reshape(count, length, units)
    for j in range(1, length):
        steps[:, j] += products[:, j] * steps[:, j - 1]
        products[:, j] *= products[:, j - 1]
    starts = np.empty((count, 1, units), a.dtype)
    carry = np.asarray(initial, a.dtype)
    for k in range(count):
        starts[k, 0] = carry
        carry = steps[k, -1] + products[k, -1] * carry
    products *= starts
    if out is None:
        out = np.empty((n, units), a.dtype)
    return np.add(partial[:n], product[:n], out=out)


def default_workers(device: torch.device) -> int:
    """1 where a trace's stages on ``device`` run on threads of their own (a CPU with another core), else 0.

    On a GPU the kernels are asynchronous already; on one core threads only add switching.
    """
    if device.type != "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return int(cores > 1)


@dataclass(frozen=True)
class _GateWeights:
    """One layer's weights cut per gate block (torch's order), transposed for products from the right.

    ``ih[b]`` ``(inputs, H)``, ``hh[b]`` ``(H, H)``; biases ``(H,)`` per block
    (``bias_ih``, ``bias_hh`` and their sum ``bias``, added once where a gate
    sums both parts), None in a model without biases.
    Cut this way every block's pre-activation is one contiguous ``(n, H)``
    product, written straight into its output array: activations on a
    strided quarter of an ``(n, 4H)`` product took 3-4 times longer.
    """

    ih: list[torch.Tensor]
    hh: list[torch.Tensor]
    bias_ih: list[torch.Tensor | None]
    bias_hh: list[torch.Tensor | None]
    bias: list[torch.Tensor | None]

    @classmethod
    def of(cls, rnn: nn.RNNBase, k: int) -> _GateWeights:
        cut = lambda name: list(getattr(rnn, f"{name}_l{k}").detach().split(rnn.hidden_size))
        ih, hh = ([w.t().contiguous() for w in cut(name)] for name in ("weight_ih", "weight_hh"))
        if not rnn.bias:
            return cls(ih, hh, *[[None] * len(ih)] * 3)
        bias_ih, bias_hh = cut("bias_ih"), cut("bias_hh")
        return cls(ih, hh, bias_ih, bias_hh, [a + b for a, b in zip(bias_ih, bias_hh)])

    def input_part(self, block: int, x: torch.Tensor | None, ids: torch.Tensor | None, bias: torch.Tensor | None,
                   into: torch.Tensor) -> None:
        """``into = x W_ih^T + bias`` for ``block``; with ``ids`` (one-hot input) a row lookup, which is exact."""
        if ids is not None:
            torch.index_select(self.ih[block], 0, ids, out=into)
            if bias is not None:
                into += bias
        elif bias is not None:
            torch.addmm(bias, x, self.ih[block], out=into)
        else:
            torch.mm(x, self.ih[block], out=into)

    def add_recurrent_part(self, block: int, prev_h: torch.Tensor, h: torch.Tensor, into: torch.Tensor) -> None:
        """``into += h_{t-1} W_hh^T`` for ``block``, where ``h_{t-1}`` is ``prev_h`` and then ``h[:-1]``."""
        into[:1].addmm_(prev_h[None], self.hh[block])
        into[1:].addmm_(h[:-1], self.hh[block])


@dataclass
class _Chunk:
    """One chunk of the text as it passes a layer: ``ids`` from ``start``, the layer's input (None for
    a one-hot layer 1, whose input is ``ids``), its ``h`` from the kernel and the state ``(prev_h, prev_c)`` before it."""

    start: int
    ids: torch.Tensor
    input: torch.Tensor | None = None
    h: torch.Tensor | None = None
    prev_h: torch.Tensor | None = None
    prev_c: torch.Tensor | None = None


def _layer_quantities(model_type: str, weights: _GateWeights, chunk: _Chunk, out: dict[str, np.ndarray]) -> None:
    """Compute the gates (and the LSTM cell) of one layer over one chunk into ``out``.

    ``out`` maps the wanted gate quantities (not ``hidden``, which the kernel
    gives) to ``(n, H)`` float32 arrays (slices of the trace); on the CPU the
    products and activations are written straight into them. Gates nobody
    wants are not computed (the cell needs i, f, g).
    """
    h, prev_h, ids = chunk.h, chunk.prev_h, chunk.ids if chunk.input is None else None
    direct = h.device.type == "cpu" and h.dtype == torch.float32

    def buffer(name: str) -> torch.Tensor:
        return torch.from_numpy(out[name]) if name in out and direct else torch.empty_like(h)

    def gate(name: str, block: int, function) -> torch.Tensor:
        """The activated gate ``block`` (input and recurrent parts summed), stored in ``out[name]`` if wanted."""
        into = buffer(name)
        weights.input_part(block, chunk.input, ids, weights.bias[block], into)
        weights.add_recurrent_part(block, prev_h, h, into)
        return _store(function(into, out=into), name, out, direct)

    if model_type == "lstm":
        blocks = {name: (block, function) for name, block, function in LSTM_BLOCKS}
        needed = set(out) | ({"input_gate", "forget_gate", "candidate"} if "cell" in out else set())
        value = {name: gate(name, *blocks[name]) for name in blocks if name in needed}
        if "cell" in out:
            inflow = (value["input_gate"] * value["candidate"]).float().cpu().numpy()
            linear_recurrence(value["forget_gate"].float().cpu().numpy(), inflow,
                              chunk.prev_c.float().cpu().numpy(), out=out["cell"])
    elif model_type == "gru":
        (reset_name, reset_block, reset_function), (update_name, update_block, update_function), \
            (candidate_name, candidate_block, candidate_function) = GRU_BLOCKS
        reset = gate(reset_name, reset_block, reset_function) if {reset_name, candidate_name} & set(out) else None
        if update_name in out:
            gate(update_name, update_block, update_function)
        if candidate_name in out:  # the reset gate scales only the recurrent part of the candidate
            into, recurrent = buffer(candidate_name), torch.zeros_like(h)
            weights.input_part(candidate_block, chunk.input, ids, weights.bias_ih[candidate_block], into)
            if weights.bias_hh[candidate_block] is not None:
                recurrent += weights.bias_hh[candidate_block]
            weights.add_recurrent_part(candidate_block, prev_h, h, recurrent)
            into.addcmul_(reset, recurrent)
            _store(candidate_function(into, out=into), candidate_name, out, direct)


def _store(value: torch.Tensor, name: str, out: dict[str, np.ndarray], direct: bool) -> torch.Tensor:
    """``value``, copied into ``out[name]`` when wanted and not computed there already."""
    if name in out and not direct:
        out[name][...] = value.float().cpu().numpy()
    return value


@torch.no_grad()
def compute_trace(model: CharRNN, ids: np.ndarray, allocate: Allocator | None = None, keys: set[str] | None = None,
                  full_distribution: bool = False, chunk: int = CHUNK, workers: int | None = None,
                  progress: bool = False, hooked: HookedRNN | None = None,
                  hooks: Hooks | None = None) -> dict[str, np.ndarray]:
    """Run ``model`` over ``ids`` ``(N,)`` once and return the trace's arrays by key.

    ``keys`` limits what is kept (default: every key of ``trace_keys``);
    ``allocate(key, shape, dtype)`` makes each output array (default
    ``plain_page_array``; ``trace_store`` passes memory-mapped ``.npy`` files).
    The work is a tree of stages (``stages.run_stages``): each layer's kernel,
    each layer's gates, the decoder. ``workers`` 0 runs them all in this
    thread; otherwise each runs on a thread of its own (default
    ``default_workers``). With ``hooks`` (interventions), the trace is the
    hookable forward pass ``hooked`` watching every kept key instead.
    """
    config = model.config
    model_type, num_layers = config.model_type, config.num_layers
    all_keys = trace_keys(model_type, num_layers, full_distribution=True)
    wanted_keys = set(keys) if keys is not None else set(trace_keys(model_type, num_layers, full_distribution))
    unknown = wanted_keys - set(all_keys)
    if unknown:
        raise RnnlensError(f"a {model_type} trace has no {', '.join(sorted(unknown))}; keys are {', '.join(all_keys)}")
    ids = np.asarray(ids, dtype=np.int64)
    positions = max(len(ids) - 1, 0)
    arrays = _allocate_arrays([key for key in all_keys if key in wanted_keys], positions, config,
                              allocate or (lambda key, shape, dtype: plain_page_array(shape, dtype)))
    device = model.decoder.weight.device
    tokens = torch.as_tensor(ids, device=device)
    if hooks:
        _trace_with_hooks(hooked or HookedRNN(model), hooks, tokens, arrays, chunk, progress)
        return arrays
    workers = default_workers(device) if workers is None else workers
    with _progress_bar(positions, progress) as bar:
        kernels = [_kernel_stage(model, k, single_layer(model.rnn, k), arrays) for k in range(num_layers)]
        for k, kernel in enumerate(kernels):
            gates = {q: arrays[layer_key(k + 1, q)] for q in QUANTITIES[model_type]
                     if q != "hidden" and layer_key(k + 1, q) in arrays}
            if gates:
                kernel.then.append(_gate_stage(model_type, _GateWeights.of(model.rnn, k), gates))
            if k + 1 < num_layers:
                kernel.then.append(kernels[k + 1])
        kernels[-1].then.append(_decode_stage(model, tokens, arrays, bar))
        chunks = (_Chunk(start, tokens[start:min(start + chunk, positions)]) for start in range(0, positions, chunk))
        run_stages(kernels[0], chunks, threaded=bool(workers))
    return arrays


@torch.no_grad()
def _trace_with_hooks(hooked: HookedRNN, hooks: Hooks, tokens: torch.Tensor, arrays: dict[str, np.ndarray],
                      chunk: int, progress: bool) -> None:
    """Fill ``arrays`` from the hookable forward pass over ``tokens`` with ``hooks``, chunk by chunk."""
    positions, state = len(arrays[next(iter(arrays))]), None

    with _progress_bar(positions, progress) as bar:
        for start in range(0, positions, chunk):
            window = tokens[start:min(start + chunk, positions) + 1]

            def watch(key: str, t: int, value: torch.Tensor) -> None:
                arrays[key][start + t] = value[0].float().cpu().numpy()

            logits, state = hooked.forward(window[None, :-1], hooks, start, state, watch, set(arrays))
            log_probs = torch.log_softmax(logits[0].float(), dim=-1)
            rows = slice(start, start + len(window) - 1)
            if "prob" in arrays:
                arrays["prob"][rows] = log_probs.gather(1, window[1:, None])[:, 0].exp().cpu().numpy()
            if "distribution" in arrays:
                arrays["distribution"][rows] = log_probs.exp().cpu().numpy()
            bar.update(len(window) - 1)


def _kernel_stage(model: CharRNN, k: int, layer: nn.RNNBase, arrays: dict[str, np.ndarray]) -> Stage:
    """Layer ``k`` (from 0) read by its fused kernel, chunk after chunk with the state carried; stores h."""
    config = model.config
    zeros = torch.zeros(config.hidden_size, device=layer.weight_hh_l0.device, dtype=layer.weight_hh_l0.dtype)
    hidden = arrays.get(layer_key(k + 1, "hidden"))
    state = None

    @torch.no_grad()  # grad mode is per thread, and this may run on a stage thread
    def read(below: _Chunk) -> _Chunk:
        nonlocal state
        x = below.h if k else model.embedded(below.ids)  # None: one-hot, which the gates read as rows
        prev_h, prev_c = _carried(state, config.model_type, zeros)
        h, state = layer((F.one_hot(below.ids, config.vocab_size).to(zeros.dtype) if x is None else x)[None], state)
        h = h[0]
        if hidden is not None:
            hidden[below.start:below.start + len(h)] = h.float().cpu().numpy()
        return _Chunk(below.start, below.ids, x, h, prev_h, prev_c)

    return Stage(read)


def _gate_stage(model_type: str, weights: _GateWeights, gates: dict[str, np.ndarray]) -> Stage:
    """The gates (and cell) of one layer, chunk by chunk, into the trace's arrays ``gates`` by quantity."""

    @torch.no_grad()
    def compute(chunk: _Chunk) -> None:
        _layer_quantities(model_type, weights, chunk,
                          {name: array[chunk.start:chunk.start + len(chunk.h)] for name, array in gates.items()})

    return Stage(compute)


def _decode_stage(model: CharRNN, tokens: torch.Tensor, arrays: dict[str, np.ndarray], bar) -> Stage:
    """The decoder over the top layer's h: the probability of each next character (and the distribution)."""

    @torch.no_grad()
    def decode(top: _Chunk) -> None:
        rows = slice(top.start, top.start + len(top.h))
        if "prob" in arrays or "distribution" in arrays:
            log_probs = torch.log_softmax(model.decoder(top.h).float(), dim=-1)
            if "prob" in arrays:
                targets = tokens[rows.start + 1:rows.stop + 1]
                arrays["prob"][rows] = log_probs.gather(1, targets[:, None])[:, 0].exp().cpu().numpy()
            if "distribution" in arrays:
                arrays["distribution"][rows] = log_probs.exp().cpu().numpy()
        bar.update(len(top.h))

    return Stage(decode)


def _allocate_arrays(keys: list[str], positions: int, config: ModelConfig, allocate: Allocator) -> dict[str, np.ndarray]:
    """One float32 output array per key: ``prob`` ``(T,)``, ``distribution`` ``(T, V)``, the rest ``(T, H)``."""
    shapes = {"prob": (positions,), "distribution": (positions, config.vocab_size)}
    return {key: allocate(key, shapes.get(key, (positions, config.hidden_size)), np.dtype(np.float32)) for key in keys}


def _carried(state, model_type: str, zeros: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(h, c)`` of one single-layer kernel state before a chunk (zeros at the start; c is None but for an LSTM)."""
    if state is None:
        return zeros, zeros
    if model_type == "lstm":
        return state[0][0, 0], state[1][0, 0]
    return state[0, 0], None


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="char", unit_scale=True, desc="trace", disable=not enabled, leave=False)
