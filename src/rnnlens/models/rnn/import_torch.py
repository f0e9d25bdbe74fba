"""A plain PyTorch character model's state dict as a CharRNN: recognise its parts, reorder its vocabulary.

The parts are found by their tensors' names and shapes, whatever the modules
were called: recurrent layers by torch's ``weight_ih_lK``/``weight_hh_lK``
(the gate multiple of the hidden size, 4/3/1, tells LSTM/GRU/RNN), in one
multi-layer module or several single-layer ones stacked in the state dict's
order; the decoder as a ``(V, H)`` weight with a ``(V,)`` bias; an embedding
as a bias-less ``(V, E)`` weight beside a first layer reading ``E`` inputs
(none, and ``E == V``: one-hot input). ``maps`` (``input``/``rnn``/``decoder``
to a module prefix) settle what shapes cannot.

rnnlens's vocabulary is sorted, so the model's characters are put in sorted
order by permuting the embedding rows (or the first layer's one-hot input
columns) and the decoder's rows and bias: the probabilities are the same.
A state dict does not record a vanilla RNN's nonlinearity: tanh is assumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlens.data.corpus import Corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import GATE_BLOCKS, ModelConfig
from rnnlens.store import atomic
from rnnlens.store.runs import CONFIG_FILE, read_config, save_tensors, weights_path, write_config

RECURRENT = re.compile(r"^(?:(?P<prefix>.*)\.)?weight_ih_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
TYPE_OF_BLOCKS = {blocks: model_type for model_type, blocks in GATE_BLOCKS.items()}
ONE_HOT = "one-hot"  # --map input=one-hot: the first layer reads one-hot characters
MAP_PARTS = ("input", "rnn", "decoder")
LISTED = 12  # tensors an error lists before "and N more"


def found(tensors: dict[str, torch.Tensor]) -> str:
    """``rnn.weight_ih_l0 (256, 65), ...``: what a state dict holds, for error messages."""
    listed = [f"{name} {tuple(t.shape)}" for name, t in list(tensors.items())[:LISTED]]
    more = f" and {len(tensors) - LISTED} more" if len(tensors) > LISTED else ""
    return ", ".join(listed) + more


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a state dict saved with ``torch.save(model.state_dict(), path)``, on the CPU."""
    if not Path(path).is_file():
        raise RnnlensError(f"{path}: no such file; give the file torch.save(model.state_dict(), ...) wrote")
    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # torch raises several types for pickled modules and damaged files
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise RnnlensError(f"{path}: not a plain state dict ({reason}); save model.state_dict(), not the model, "
                           "with torch.save") from None
    if not isinstance(loaded, dict) or not loaded:
        raise RnnlensError(f"{path}: holds a {type(loaded).__name__}, not a dict of tensors; save "
                           "model.state_dict() with torch.save")
    others = [f"{k} ({type(v).__name__})" for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise RnnlensError(f"{path}: entries that are not tensors: {', '.join(others[:LISTED])}; save "
                           "model.state_dict() alone, not a checkpoint dict with other things in it")
    return dict(loaded)


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """The model's characters in its index order, from a JSON list ``["a", "b", ...]`` or object ``{"a": 0, ...}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RnnlensError(f"{path}: unreadable vocabulary ({err}); give a JSON list of the model's characters "
                           "in index order, or an object {character: index}") from None
    if isinstance(data, dict):
        if sorted(data.values()) != list(range(len(data))):
            raise RnnlensError(f"{path}: the indices must be 0 to {len(data) - 1}, each once")
        data = sorted(data, key=data.get)
    if not isinstance(data, list) or not all(isinstance(c, str) and len(c) == 1 for c in data):
        raise RnnlensError(f"{path}: give a JSON list of single characters in index order, or an object "
                           "{character: index}")
    repeated = sorted({c for c in data if data.count(c) > 1})
    if repeated:
        raise RnnlensError(f"{path}: characters listed more than once: {', '.join(map(repr, repeated))}")
    return data


@dataclass(frozen=True)
class Recognised:
    """Where a state dict keeps each part: each recurrent layer's tensor names (bottom first; ``ih``, ``hh``,
    ``bias_ih``, ``bias_hh``, a bias None where the module had none), the decoder's prefix and the embedding's
    (None: one-hot input)."""

    layers: tuple[dict[str, str | None], ...]
    decoder: str
    embedding: str | None

    def names(self) -> set[str]:
        """Every tensor name the parts take."""
        names = {name for layer in self.layers for name in layer.values() if name}
        names |= {f"{self.decoder}.weight", f"{self.decoder}.bias"}
        return names | ({f"{self.embedding}.weight"} if self.embedding else set())


def _name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _recurrent_prefixes(tensors: dict[str, torch.Tensor]) -> list[str]:
    """The prefixes of the recurrent modules, in the state dict's order; refuses what CharRNN cannot hold."""
    prefixes: dict[str, None] = {}
    for name in tensors:
        match = RECURRENT.match(name)
        if match and match["reverse"]:
            raise RnnlensError(f"{name}: a bidirectional RNN cannot predict the next character; rnnlens "
                               "imports one-directional models only")
        if match:
            prefixes[match["prefix"] or ""] = None
    projected = [name for name in tensors if re.search(r"(^|\.)weight_hr_l\d+$", name)]
    if projected:
        raise RnnlensError(f"{projected[0]}: an LSTM with proj_size is not supported; rnnlens imports LSTMs "
                           "without projections")
    return list(prefixes)


def _layers(tensors: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> tuple[dict[str, str | None], ...]:
    """The tensor names of each layer of the modules ``prefixes``, bottom first."""
    layers = []
    for prefix in prefixes:
        k = 0
        while _name(prefix, f"weight_ih_l{k}") in tensors:
            names = {part: _name(prefix, f"{'weight_' if part in ('ih', 'hh') else ''}{part}_l{k}")
                     for part in ("ih", "hh", "bias_ih", "bias_hh")}
            layers.append({part: name if name in tensors or part in ("ih", "hh") else None
                           for part, name in names.items()})
            k += 1
        if not k:
            raise RnnlensError(f"--map rnn={prefix}: no {_name(prefix, 'weight_ih_l0')} in the state dict, which "
                               f"holds {found(tensors)}")
    return tuple(layers)


def recognise(tensors: dict[str, torch.Tensor], maps: dict[str, str] | None = None) -> Recognised:
    """Find the recurrent layers, the decoder and the input of a state dict (``maps`` names any of them)."""
    maps = maps or {}
    prefixes = tuple(maps["rnn"].split(",")) if "rnn" in maps else tuple(_recurrent_prefixes(tensors))
    if not prefixes:
        raise RnnlensError(f"no recurrent layers (no *weight_ih_l0) among {found(tensors)}; rnnlens imports "
                           "torch.nn.LSTM, GRU and RNN layers")
    layers = _layers(tensors, prefixes)
    taken = {name for layer in layers for name in layer.values() if name}
    if any(tensors[layer["hh"]].dim() != 2 for layer in layers):
        raise RnnlensError(f"recurrent weights that are not matrices among {found(tensors)}")
    hidden = tensors[layers[-1]["hh"]].shape[1]
    weights = [(name[:-len(".weight")], t) for name, t in tensors.items()
               if name.endswith(".weight") and t.dim() == 2 and name not in taken]
    decoder = maps.get("decoder") or _one_of("decoder", [
        p for p, t in weights if t.shape[1] == hidden and getattr(tensors.get(_name(p, "bias")), "shape", None)
        == (t.shape[0],)], tensors)
    if maps.get("input") == ONE_HOT:
        return Recognised(layers, decoder, None)
    if "input" in maps:
        return Recognised(layers, decoder, maps["input"])
    vocab, inputs = _shape(tensors, _name(decoder, "weight"))[0], tensors[layers[0]["ih"]].shape[1]
    candidates = [p for p, t in weights if p != decoder and t.shape == (vocab, inputs)
                  and _name(p, "bias") not in tensors]
    if not candidates and inputs == vocab:
        return Recognised(layers, decoder, None)
    return Recognised(layers, decoder, _one_of("input embedding", candidates, tensors))


def _shape(tensors: dict[str, torch.Tensor], name: str) -> tuple[int, ...]:
    if name not in tensors:
        raise RnnlensError(f"no {name} in the state dict, which holds {found(tensors)}; check --map")
    return tuple(tensors[name].shape)


def _one_of(part: str, candidates: list[str], tensors: dict[str, torch.Tensor]) -> str:
    if len(candidates) != 1:
        which = f"{len(candidates)} candidates ({', '.join(candidates)})" if candidates else "none"
        raise RnnlensError(f"cannot tell the {part}: {which} among {found(tensors)}; name the parts with "
                           f"--map input=PREFIX|{ONE_HOT} --map rnn=PREFIX[,PREFIX...] --map decoder=PREFIX")
    return candidates[0]


def char_rnn_tensors(tensors: dict[str, torch.Tensor], parts: Recognised,
                     vocabulary: list[str]) -> tuple[ModelConfig, dict[str, torch.Tensor], str]:
    """The CharRNN config, its state dict (float32) and its sorted vocabulary for the recognised ``parts``,
    the characters permuted from ``vocabulary``'s order into sorted order."""
    left = [name for name in tensors if name not in parts.names()]
    if left:
        raise RnnlensError(f"tensors outside an input, recurrent layers and a decoder: {', '.join(left[:LISTED])}; "
                           "rnnlens imports only those parts (check --map if they are among them)")
    if not all(t.is_floating_point() for t in tensors.values()):
        raise RnnlensError("the state dict has tensors that are not floating point; rnnlens imports float weights")
    for name in [f"{parts.decoder}.weight"] + ([f"{parts.embedding}.weight"] if parts.embedding else []):
        if len(_shape(tensors, name)) != 2:
            raise RnnlensError(f"{name} {_shape(tensors, name)}: not a matrix; check --map")
    t = {name: value.float() for name, value in tensors.items()}
    decoder_weight = t[f"{parts.decoder}.weight"]
    vocab, hidden = decoder_weight.shape
    decoder_bias = t.get(f"{parts.decoder}.bias", torch.zeros(vocab))
    if len(vocabulary) != vocab:
        raise RnnlensError(f"the vocabulary has {len(vocabulary)} characters but the decoder "
                           f"{parts.decoder}.weight predicts {vocab}; give the vocabulary the model was trained with")
    order = sorted(range(vocab), key=lambda i: vocabulary[i])  # sorted position -> the model's index
    blocks = t[parts.layers[0]["hh"]].shape[0] // hidden
    model_type = TYPE_OF_BLOCKS.get(blocks) if blocks * hidden == t[parts.layers[0]["hh"]].shape[0] else None
    if model_type is None:
        raise RnnlensError(f"{parts.layers[0]['hh']} {tuple(t[parts.layers[0]['hh']].shape)}: not 4, 3 or 1 "
                           f"blocks of the decoder's hidden size {hidden} (LSTM, GRU, RNN)")
    embedding = t[f"{parts.embedding}.weight"][order] if parts.embedding else None
    state = {} if embedding is None else {"embedding.weight": embedding}
    for k, layer in enumerate(parts.layers):
        ih = t[layer["ih"]]
        expected = (blocks * hidden, (vocab if embedding is None else embedding.shape[1]) if k == 0 else hidden)
        if ih.shape != expected or t[layer["hh"]].shape != (blocks * hidden, hidden):
            raise RnnlensError(f"{layer['ih']} {tuple(ih.shape)} and {layer['hh']} {tuple(t[layer['hh']].shape)} "
                               f"do not stack as layer {k + 1} of a {model_type.upper()} of hidden size {hidden} "
                               f"(expected {expected}); check --map")
        zeros = torch.zeros(blocks * hidden)
        state.update({f"rnn.weight_ih_l{k}": ih[:, order] if k == 0 and embedding is None else ih,
                      f"rnn.weight_hh_l{k}": t[layer["hh"]],
                      f"rnn.bias_ih_l{k}": t[layer["bias_ih"]] if layer["bias_ih"] else zeros,
                      f"rnn.bias_hh_l{k}": t[layer["bias_hh"]] if layer["bias_hh"] else zeros})
    state.update({"decoder.weight": decoder_weight[order], "decoder.bias": decoder_bias[order]})
    config = ModelConfig(model_type, vocab, hidden, len(parts.layers),
                         embedding_size=None if embedding is None else embedding.shape[1])
    return config, {name: value.contiguous() for name, value in state.items()}, "".join(vocabulary[i] for i in order)


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def import_run(state_dict: str | os.PathLike, vocabulary: str | os.PathLike, out_dir: str | os.PathLike,
               maps: dict[str, str] | None = None, corpus: Corpus | None = None) -> tuple[ModelConfig, bool]:
    """Write the run directory ``out_dir`` (``config.json`` and ``best.safetensors``, as a whole or not at all)
    for the model in ``state_dict`` whose characters ``vocabulary`` lists; ``corpus``, if given, is the one its
    splits come from (its characters must be the model's). Returns the model's config and whether it was
    written: an identical import already there is kept."""
    tensors, chars = read_state_dict(state_dict), read_vocabulary(vocabulary)
    config, state, sorted_chars = char_rnn_tensors(tensors, recognise(tensors, maps), chars)
    if corpus is not None and corpus.vocab.chars != sorted_chars:
        missing = sorted(set(sorted_chars) ^ set(corpus.vocab.chars))
        raise RnnlensError(f"the corpus {corpus.name!r} and the model differ in {len(missing)} characters "
                           f"({''.join(missing[:20])!r}); give the corpus the model was trained on, or none and "
                           "score files with --text")
    imported = {"source": str(Path(state_dict).resolve()), "sha256": file_sha256(state_dict),
                "vocabulary_sha256": file_sha256(vocabulary), "maps": maps or {}}
    spec = corpus.spec() if corpus is not None else {"name": f"{Path(state_dict).name} (imported, no corpus)"}
    run_config = {"model": config.to_dict(), "parameters": config.parameter_count, "vocabulary": sorted_chars,
                  "corpus": spec, "imported": imported}
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if (out / CONFIG_FILE).is_file() and read_config(out).get("imported") == imported \
                and read_config(out).get("corpus") == spec:
            return config, False
        raise RnnlensError(f"{out_dir} is not empty and holds no identical import; give a new or empty --out")
    with atomic.atomic_directory(out) as tmp:
        write_config(tmp, "rnn", run_config)
        save_tensors(weights_path(tmp, "best"), {f"model.{k}": v for k, v in state.items()}, {"imported": imported})
    return config, True
