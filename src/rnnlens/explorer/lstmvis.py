"""A trace in LSTMVis's files, so that an LSTMVis user can open rnnlens traces in LSTMVis.

LSTMVis (Strobelt et al.) reads a project directory holding ``lstm.yml``
that names three files: an HDF5 file of states, one dataset ``(T, units)``
per layer and quantity; an HDF5 file of word ids, one per time step; and a
dictionary, one ``word id`` pair per line, split on whitespace. Here a word
is a character: the dictionary spells the characters whitespace would break
as ARPA tokens do (``<sp>``, ``<nl>``, ``<tab>``, other whitespace and
control characters ``<U+XXXX>``: ``models.ngram.arpa.spell``) and numbers
them from 1 in sorted order, as LSTMVis's own text converter does.

Alignment: row ``t`` of every dataset is the state after reading ``text[t]``
and word id ``t`` is ``text[t]``, so ``T`` is the trace's positions (the last
character, which has no state, is left out). LSTMVis applies tanh to a state
unless told ``transform: none``: the cell gets tanh (tanh(c), as rnnlens
shows it), every other quantity is written with ``transform: none``, gates
also with ``unsigned: true`` (they lie in [0, 1]).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from rnnlens.errors import RnnlensError
from rnnlens.data.spelling import spell
from rnnlens.models.trace import Trace, parse_layer_key
from rnnlens.store import atomic
from rnnlens.store.outputs import replace_directory

STATES, WORDS, DICTIONARY, CONFIG = "states.h5", "words.h5", "words.dict", "lstm.yml"
WORD_IDS = "word_ids"  # the dataset in words.h5
ROWS = 65_536  # rows copied at a time from the memory-mapped trace
TYPES = {"cell": "state", "hidden": "output"}  # LSTMVis's names; other quantities keep theirs


def dataset_name(key: str) -> str:
    """The HDF5 dataset of a trace key: ``layer2.cell`` -> ``layer2_cell``."""
    return key.replace(".", "_")


def dictionary(text: str) -> dict[str, int]:
    """Each distinct character of ``text`` and its word id, from 1 in sorted order."""
    return {char: i for i, char in enumerate(sorted(set(text)), start=1)}


def state_types(trace: Trace, keys: list[str]) -> list[dict]:
    """The ``states: types`` entries of ``lstm.yml`` for ``keys``, in order."""
    gates = set(trace.gates())
    types = []
    for key in keys:
        layer, quantity = parse_layer_key(key)
        entry = {"type": TYPES.get(quantity, quantity), "layer": layer, "path": dataset_name(key)}
        if quantity != "cell":
            entry["transform"] = "none"
        if quantity in gates:
            entry["unsigned"] = True
        types.append(entry)
    return types


def config_text(name: str, description: str, types: list[dict]) -> str:
    """``lstm.yml``: strings as JSON strings (valid YAML), the types as YAML flow mappings."""
    def flow(entry: dict) -> str:
        return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in entry.items()) + "}"

    lines = [f"name: {json.dumps(name)}", f"description: {json.dumps(description)}", "",
             "files:", f"  states: {STATES}", f"  word_ids: {WORDS}", f"  words: {DICTIONARY}", "",
             "word_sequence:", "  file: word_ids", f"  path: {WORD_IDS}", "  dict_file: words", "",
             "states:", "  file: states", "  types: ["]
    lines += [f"    {flow(entry)}," for entry in types]
    lines.append("  ]")
    return "\n".join(lines) + "\n"


def layer_keys(trace: Trace, quantities: list[str] | None = None) -> list[str]:
    """The per-layer keys to export: every one, or those of ``quantities``; in layer, then key order."""
    keys = [key for key in trace if parse_layer_key(key)]
    if quantities is not None:
        stored = {parse_layer_key(key)[1] for key in keys}
        unknown = [q for q in quantities if q not in stored]
        if unknown:
            raise RnnlensError(f"the trace has no {', '.join(unknown)}; its quantities are {', '.join(sorted(stored))}",
                               "choose among them", option="quantities")
        keys = [key for key in keys if parse_layer_key(key)[1] in quantities]
    return sorted(keys, key=lambda key: parse_layer_key(key)[0])


def export_lstmvis(trace: Trace, out_dir: str | os.PathLike, name: str | None = None,
                   quantities: list[str] | None = None) -> list[Path]:
    """Write ``trace`` as an LSTMVis project into ``out_dir`` (whole or not at all); return the files written.

    The arrays are copied ``ROWS`` rows at a time, so a long trace never has
    to fit in memory.
    """
    keys = layer_keys(trace, quantities)
    if not keys or trace.positions < 1:
        raise RnnlensError("the trace holds no states to export (a trace of a network over at least 2 characters)")
    positions, text = trace.positions, trace.text
    ids = dictionary(text)
    name = name or trace.info.get("model_description", "rnnlens trace")
    description = trace.description
    with replace_directory(out_dir, "lstmvis export") as tmp:
        with h5py.File(tmp / STATES, "w") as states:
            for key in keys:
                source = trace[key]
                target = states.create_dataset(dataset_name(key), shape=source.shape, dtype=np.float32)
                for row in range(0, positions, ROWS):
                    target[row:row + ROWS] = np.asarray(source[row:row + ROWS], dtype=np.float32)
        codes = np.frombuffer(text[:positions].encode("utf-32-le"), dtype="<u4")
        table = np.zeros(max(map(ord, ids)) + 1, dtype=np.int32)
        table[[ord(c) for c in ids]] = list(ids.values())
        with h5py.File(tmp / WORDS, "w") as words:
            words.create_dataset(WORD_IDS, data=table[codes])
        atomic.write_text(tmp / DICTIONARY, "".join(f"{spell(char)} {i}\n" for char, i in ids.items()))
        atomic.write_text(tmp / CONFIG, config_text(name, description, state_types(trace, keys)))
    return [Path(out_dir) / f for f in (STATES, WORDS, DICTIONARY, CONFIG)]
