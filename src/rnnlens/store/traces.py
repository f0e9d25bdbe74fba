"""Traces on disk: one memory-mappable ``.npy`` per key, a JSON manifest, the text.

Layout of a trace directory::

    manifest.json   {"format": "rnnlens-trace", "version": 1,
                     "keys": {KEY: {"file": "KEY.npy", "shape": [...], "dtype": "float32"}},
                     "model": {...}, "text": {...}, "positions": N-1}
    KEY.npy         one array per key (see ``trace`` for keys and alignment)
    text.txt        the traced text (N characters; row t belongs to character t)

The directory is written with ``atomic_directory`` and the arrays are
computed straight into memory-mapped files inside it, so a 300,000-character
trace of a 3-layer model never needs to fit in memory, and a killed write
leaves no directory that could be read as complete. ``open_trace`` still
checks every file against the manifest (shape, dtype, presence) and refuses
an incomplete one; ``ensure_trace`` then writes it again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from rnnlens.store import atomic
from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN
from rnnlens.models.rnn.trace import Trace, compute_trace, trace_keys

MANIFEST = "manifest.json"
TEXT_FILE = "text.txt"
FORMAT = "rnnlens-trace"
VERSION = 1


class IncompleteTrace(RnnlensError):
    """A trace directory that is missing files or whose files disagree with its manifest."""


def _file_name(key: str) -> str:
    return f"{key}.npy"


def ids_digest(ids: np.ndarray) -> str:
    """sha256 of the traced ids, which is what a reused trace must match."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()


def run_provenance(run_dir: str | os.PathLike, weights: str) -> dict:
    """What names the traced weights: the run directory, which checkpoint, and its sha256."""
    path = Path(run_dir) / f"{weights}.safetensors"
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return {"run": {"dir": str(Path(run_dir).resolve()), "weights": weights, "sha256": digest}}


def write_trace(out_dir: str | os.PathLike, model: CharRNN, ids: np.ndarray, vocab: Vocabulary, info: dict,
                keys: set[str] | None = None, full_distribution: bool = False, progress: bool = False,
                **options) -> Trace:
    """Trace ``model`` over ``ids`` into ``out_dir`` (replacing it whole) and open the result.

    ``info`` (model and text provenance) goes into the manifest; ``keys``,
    ``full_distribution`` and ``options`` are those of ``compute_trace``.
    """
    with atomic.atomic_directory(out_dir) as tmp:
        def allocate(key, shape, dtype):
            return np.lib.format.open_memmap(tmp / _file_name(key), mode="w+", dtype=dtype, shape=shape)

        arrays = compute_trace(model, ids, allocate=allocate, keys=keys, full_distribution=full_distribution,
                               progress=progress, **options)
        for array in arrays.values():
            array.flush()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "keys": {key: {"file": _file_name(key), "shape": list(a.shape), "dtype": str(a.dtype)}
                     for key, a in arrays.items()},
            "positions": max(len(ids) - 1, 0),
            "model": model.config.to_dict(),
            **info,
            "ids_sha256": ids_digest(ids),
            "full_distribution": bool(full_distribution),
        }
        del arrays
        atomic.write_text(tmp / TEXT_FILE, vocab.decode(ids))
        atomic.write_json(tmp / MANIFEST, manifest)  # last: its presence marks a finished trace
    return open_trace(out_dir)


def open_trace(trace_dir: str | os.PathLike) -> Trace:
    """Open a trace directory with every array memory-mapped (nothing is read up front).

    Raises ``IncompleteTrace`` naming what is wrong when a file is missing,
    unreadable, or disagrees with the manifest.
    """
    trace_dir = Path(trace_dir)
    path = trace_dir / MANIFEST
    if not path.is_file():
        raise IncompleteTrace(f"{trace_dir}: no {MANIFEST}; not a finished trace (rerun rnnlens trace)")
    manifest = atomic.read_json(path, IncompleteTrace, "rerun rnnlens trace")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise IncompleteTrace(f"{path}: not an rnnlens trace manifest of version {VERSION}")
    arrays = {}
    for key, entry in manifest["keys"].items():
        file = trace_dir / entry["file"]
        try:
            array = np.load(file, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise IncompleteTrace(f"{file}: missing or damaged ({err}); rerun rnnlens trace") from None
        if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
            raise IncompleteTrace(f"{file}: holds {array.dtype} {list(array.shape)}, the manifest says "
                                  f"{entry['dtype']} {entry['shape']}; rerun rnnlens trace")
        arrays[key] = array
    text_path = trace_dir / TEXT_FILE
    if not text_path.is_file():
        raise IncompleteTrace(f"{trace_dir}: no {TEXT_FILE}; rerun rnnlens trace")
    text = text_path.read_text(encoding="utf-8")
    if max(len(text) - 1, 0) != manifest["positions"]:
        raise IncompleteTrace(f"{text_path}: {len(text):,} characters do not match {manifest['positions']:,} positions")
    info = {k: v for k, v in manifest.items() if k not in ("keys", "format", "version")}
    return Trace(arrays, text, info)


def ensure_trace(out_dir: str | os.PathLike, model: CharRNN, ids: np.ndarray, vocab: Vocabulary, info: dict,
                 keys: set[str] | None = None, full_distribution: bool = False, **options) -> tuple[Trace, str]:
    """Reuse the trace in ``out_dir`` if it is complete and of this model, weights and text; else write it.

    Returns the trace and what happened: ``"reused"``, ``"written"``, or
    ``"rewritten: REASON"`` (incomplete, other model, other text, missing keys).
    """
    reason = None
    if Path(out_dir).exists():
        try:
            trace = open_trace(out_dir)
        except IncompleteTrace as err:
            reason = f"incomplete ({err})"
        else:
            config = model.config
            wanted = set(keys) if keys is not None else set(trace_keys(config.model_type, config.num_layers,
                                                                       full_distribution))
            if trace.info.get("ids_sha256") != ids_digest(ids):
                reason = "it traced another text"
            elif trace.info.get("model") != config.to_dict() or trace.info.get("run") != info.get("run"):
                reason = "it traced other weights"
            elif not wanted <= set(trace):
                reason = "it lacks keys now asked for"
            else:
                return trace, "reused"
    trace = write_trace(out_dir, model, ids, vocab, info, keys=keys, full_distribution=full_distribution, **options)
    return trace, "written" if reason is None else f"rewritten: {reason}"
