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
exactly as training and ``evaluate`` see it. Given h_{t-1} for all t, all
gates of a chunk follow from one batched matrix product (torch's gate order:
LSTM i, f, g, o; GRU r, z, n with n = tanh(W_in x + b_in + r * (W_hn h +
b_hn))). The LSTM cell is then the element-wise linear recurrence
c_t = f_t c_{t-1} + i_t g_t, solved by ``linear_recurrence`` without a
Python loop over every step; the chunk's first c comes from the fused
kernel's carried state. On a CPU with more than one core the gate work runs
on worker threads while the kernel reads the next chunk (see ``gate_pool``).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN, ModelConfig
from rnnlens.models.trace import layer_key, plain_page_array

QUANTITIES = {
    "rnn": ("hidden",),
    "lstm": ("hidden", "cell", "input_gate", "forget_gate", "output_gate", "candidate"),
    "gru": ("hidden", "update_gate", "reset_gate", "candidate"),
}
GATES = {"rnn": (), "lstm": ("input_gate", "forget_gate", "output_gate"), "gru": ("update_gate", "reset_gate")}
CHUNK = 4096  # time steps per fused-kernel call; the state carries across chunks
MAX_WORKERS = 4  # gate threads; the gate work of a chunk takes about as long as the kernel's reading of it

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
    """Gate worker threads for a trace on ``device``: the cores beside the kernel's on a CPU, none on a GPU."""
    if device.type != "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(MAX_WORKERS, cores - 1))


@contextmanager
def gate_pool(workers: int) -> Iterator[ThreadPoolExecutor | None]:
    """A pool of ``workers`` threads for gate work (None for 0), with torch on one intra-op thread meanwhile.

    The fused kernel's recurrence gains little from intra-op threads (34 s
    on one, 25 s on two for the benchmark's 300K steps) while the gate work
    of different chunks and layers is independent, so one thread per core
    serves better; and intra-op teams beside busy workers oversubscribe the
    cores (a trace three times slower).
    """
    if workers == 0:
        yield None
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)


def _single_layers(rnn: nn.RNNBase) -> list[nn.RNNBase]:
    """One single-layer fused module per layer of ``rnn``, holding copies of that layer's weights."""
    layers = []
    for k in range(rnn.num_layers):
        input_size = rnn.input_size if k == 0 else rnn.hidden_size
        kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
        single = type(rnn)(input_size, rnn.hidden_size, 1, bias=rnn.bias, batch_first=True, **kwargs)
        single.load_state_dict({name.replace(f"_l{k}", "_l0"): p.detach()
                                for name, p in rnn.named_parameters() if name.endswith(f"_l{k}")})
        layers.append(single.to(device=rnn.weight_hh_l0.device, dtype=rnn.weight_hh_l0.dtype).eval())
    return layers


def _projections(rnn: nn.RNNBase, k: int, x: torch.Tensor, ids: torch.Tensor | None,
                 prev_h: torch.Tensor, together: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gate pre-activations of layer ``k`` (from 0): ``(input part, recurrent part)``, each ``(n, blocks*H)``.

    With ``together`` the recurrent part is added into the input part
    (returned as ``(sum, None)``). The first layer's one-hot input makes its
    input part a column lookup, which is exact: a product with a one-hot
    vector adds only zeros.
    """
    weight = lambda name: getattr(rnn, f"{name}_l{k}")
    bias_ih = weight("bias_ih") if rnn.bias else None
    bias_hh = weight("bias_hh") if rnn.bias else None
    if ids is not None:
        inputs = F.embedding(ids, weight("weight_ih").t())
        if bias_ih is not None:
            inputs += bias_ih
    else:
        inputs = F.linear(x, weight("weight_ih"), bias_ih)
    if together:
        if bias_hh is not None:
            inputs += bias_hh
        return inputs.addmm_(prev_h, weight("weight_hh").t()), None
    return inputs, F.linear(prev_h, weight("weight_hh"), bias_hh)


def _layer_quantities(model_type: str, rnn: nn.RNNBase, k: int, x, ids, prev_h, h, prev_c,
                      out: dict[str, np.ndarray]) -> None:
    """Compute the gates (and the LSTM cell) of layer ``k`` over one chunk into ``out``.

    ``out`` maps the wanted gate quantities (not ``hidden``, which the kernel
    gives) to ``(n, H)`` float32 arrays (slices of the trace); on the CPU the
    activations are written straight into them.
    """
    size = rnn.hidden_size
    on_cpu = h.device.type == "cpu" and h.dtype == torch.float32

    def activate(function, preactivation, name):
        """``function(preactivation)``, written into ``out[name]`` when wanted."""
        if name in out and on_cpu:
            return function(preactivation, out=torch.from_numpy(out[name]))
        value = function(preactivation)
        if name in out:
            out[name][...] = value.float().cpu().numpy()
        return value

    if model_type == "lstm":
        z, _ = _projections(rnn, k, x, ids, prev_h, together=True)
        i = activate(torch.sigmoid, z[:, :size], "input_gate")
        f = activate(torch.sigmoid, z[:, size:2 * size], "forget_gate")
        g = activate(torch.tanh, z[:, 2 * size:3 * size], "candidate")
        activate(torch.sigmoid, z[:, 3 * size:], "output_gate")
        if "cell" in out:
            linear_recurrence(f.float().cpu().numpy(), (i * g).float().cpu().numpy(),
                              prev_c.float().cpu().numpy(), out=out["cell"])
    elif model_type == "gru":
        inputs, recurrent = _projections(rnn, k, x, ids, prev_h, together=False)
        x_r, x_z, x_n = inputs.chunk(3, dim=1)
        h_r, h_z, h_n = recurrent.chunk(3, dim=1)
        r = activate(torch.sigmoid, x_r + h_r, "reset_gate")
        activate(torch.sigmoid, x_z + h_z, "update_gate")
        activate(torch.tanh, x_n + r * h_n, "candidate")


@torch.no_grad()
def compute_trace(model: CharRNN, ids: np.ndarray, allocate: Allocator | None = None, keys: set[str] | None = None,
                  full_distribution: bool = False, chunk: int = CHUNK, workers: int | None = None,
                  progress: bool = False) -> dict[str, np.ndarray]:
    """Run ``model`` over ``ids`` ``(N,)`` once and return the trace's arrays by key.

    ``keys`` limits what is kept (default: every key of ``trace_keys``);
    ``allocate(key, shape, dtype)`` makes each output array (default
    ``plain_page_array``; ``trace_store`` passes memory-mapped ``.npy`` files).
    ``workers`` threads compute gates while the fused kernel moves on
    (0: all in this thread; default ``default_workers``; see ``gate_pool``).
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
    hidden, vocab = config.hidden_size, config.vocab_size
    arrays = _allocate_arrays([key for key in all_keys if key in wanted_keys], positions, config,
                              allocate or (lambda key, shape, dtype: plain_page_array(shape, dtype)))
    # per layer: the quantities the workers compute (all but h, which the kernel gives)
    gates = [{q for q in QUANTITIES[model_type] if q != "hidden" and layer_key(k + 1, q) in wanted_keys}
             for k in range(num_layers)]

    rnn = model.rnn
    device, dtype = model.decoder.weight.device, model.decoder.weight.dtype
    layers = _single_layers(rnn)
    tokens = torch.as_tensor(ids, device=device)
    state = [None] * num_layers
    zeros = torch.zeros(hidden, device=device, dtype=dtype)

    @torch.no_grad()  # grad mode is per thread, and this runs on the workers
    def finish(start, k, x, chunk_ids, prev_h, h, prev_c):
        """Gate work of layer ``k`` on positions ``start:start+len(h)``: compute and store."""
        out = {name: arrays[layer_key(k + 1, name)][start:start + len(h)] for name in gates[k]}
        _layer_quantities(model_type, rnn, k, x, chunk_ids, prev_h, h, prev_c, out)

    @torch.no_grad()
    def decode(start, h, targets):
        log_probs = torch.log_softmax(model.decoder(h).float(), dim=-1)
        if "prob" in arrays:
            arrays["prob"][start:start + len(h)] = log_probs.gather(1, targets[:, None])[:, 0].exp().cpu().numpy()
        if "distribution" in arrays:
            arrays["distribution"][start:start + len(h)] = log_probs.exp().cpu().numpy()

    pending = []  # futures of the gate work still running on the workers

    def submit(function, *args):
        if pool is None:
            function(*args)
        else:
            pending.append(pool.submit(function, *args))
            while len(pending) > 4 * (num_layers + 1):  # a few chunks in flight keep memory bounded
                pending.pop(0).result()
    with gate_pool(default_workers(device) if workers is None else workers) as pool, \
            _progress_bar(positions, progress) as bar:
        for start in range(0, positions, chunk):
            chunk_ids = tokens[start:min(start + chunk, positions)]
            x = F.one_hot(chunk_ids, vocab).to(dtype)
            for k, layer in enumerate(layers):
                prev_h, prev_c = _carried(state[k], model_type, zeros)
                h, state[k] = layer(x[None], state[k])
                h = h[0]
                if layer_key(k + 1, "hidden") in arrays:  # what the kernel gives is stored here
                    arrays[layer_key(k + 1, "hidden")][start:start + len(h)] = h.float().cpu().numpy()
                if gates[k]:
                    prev_hs = torch.cat([prev_h[None], h[:-1]])
                    submit(finish, start, k, x, chunk_ids if k == 0 else None, prev_hs, h, prev_c)
                x = h
            decode(start, x, tokens[start + 1:start + 1 + len(x)])
            bar.update(len(chunk_ids))
        for future in pending:
            future.result()
    return arrays


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
