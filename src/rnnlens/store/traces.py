"""Traces on disk and the one library call that gets a trace: reuse a stored one or compute it.

Layout of a trace directory::

    manifest.json   {"format": "rnnlens-trace", "version": 2,
                     "keys": {KEY: {"file": "KEY.npy", "shape": [...], "dtype": "float32"}},
                     "gates": [KEY, ...], "axes": {KEY: [AXIS, ...]}, "model": {kind, run_dir, weights, sha256},
                     "model_description": "...", "text": {source, ids_sha256, chars}, "positions": N-1}
    KEY.npy         one array per key (see ``rnnlens.models.trace`` for keys and alignment)
    text.txt        the traced text (N characters; row t belongs to character t)

The directory is written whole (``store.outputs.replace_directory``: only an
empty directory or an older trace is ever replaced) and the arrays are
computed straight into memory-mapped files inside it, so a 300,000-character
trace of a 3-layer model never needs to fit in memory, and a killed write
leaves no directory that could be read as complete. ``open_trace`` still
checks every file against the manifest and refuses an incomplete one;
``ensure_trace`` then writes it again.

A trace is large (every unit of every quantity at every position: a 2-layer
LSTM of 50K parameters over War and Peace's test split is 858 MB), so
``write_trace`` says what it will take before writing (``trace_cost``) and
refuses when the disk has not that much free. With ``float16`` every key but
``prob`` is stored in half the space, to about three significant digits:
enough to look at (the explorer keeps its traces so), not for analyses, which
are given float32 (``ensure_trace`` rewrites a float16 trace asked for in
float32). It is computed in float32 first and narrowed key by key.

Which quantities exist, and which are gates, is the model kind's business
(``trace_keys``, ``trace_gates``, ``compute_trace`` in its registry module).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.data.texts import Text, text_for
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.predictor import Predictor
from rnnlens.models.trace import Trace, default_axes, gate_keys, plain_page_array
from rnnlens.store import atomic
from rnnlens.store.outputs import replace_directory

MANIFEST = "manifest.json"
TEXT_FILE = "text.txt"
FORMAT = "rnnlens-trace"
VERSION = 2
WIDE = "prob"  # the key kept in float32 in a float16 trace: losses and p(true) are read from it
HALF_MAX = float(np.finfo(np.float16).max)
ROWS = 65_536  # rows narrowed to float16 at a time

# what an analysis asks of a trace: given every key the model has and its gate quantities, the keys it reads
KeyChoice = Callable[[list[str], list[str]], set[str]]


class IncompleteTrace(RnnlensError):
    """A trace directory that is missing files or whose files disagree with its manifest."""


def _traceable(predictor: Predictor):
    if not registry.can_trace(predictor):
        raise RnnlensError(f"{predictor.description} has no internal states to trace; trace a neural network")
    return registry.kind(predictor.kind)


def available_keys(predictor: Predictor, full_distribution: bool = False) -> tuple[list[str], list[str]]:
    """Every key a full trace of ``predictor`` holds, and the kind's gate quantities."""
    kind = _traceable(predictor)
    return kind.trace_keys(predictor, full_distribution), kind.trace_gates(predictor)


def key_axes(predictor: Predictor, keys: list[str]) -> dict[str, list[str]]:
    """The axis names of each of ``keys``: as the kind declares them (``trace_axes``), or ``default_axes``."""
    declared = getattr(_traceable(predictor), "trace_axes", lambda _: {})(predictor)
    return {key: list(declared.get(key) or default_axes(key)) for key in keys}


def _info(predictor: Predictor, text: Text, keys: list[str], gates: list[str]) -> dict:
    return {"model": predictor.identity, "model_description": predictor.description, "text": text.identity(),
            "gates": gate_keys(keys, gates), "axes": key_axes(predictor, keys)}


def _wanted(predictor: Predictor, keys: set[str] | None, full_distribution: bool) -> set[str]:
    """``keys``, checked against the kind's, or every key (``distribution`` with ``full_distribution``)."""
    every, _ = available_keys(predictor, full_distribution=True)
    wanted = set(keys) if keys is not None else set(available_keys(predictor, full_distribution)[0])
    if wanted - set(every):
        raise RnnlensError(f"a trace of {predictor.description} has no {', '.join(sorted(wanted - set(every)))}; "
                           f"its keys are {', '.join(every)}")
    return wanted


def compute_trace(predictor: Predictor, text: Text, keys: set[str] | None = None, full_distribution: bool = False,
                  allocate=None, progress: bool = False, **options) -> Trace:
    """Trace ``predictor`` over ``text`` in memory (or into arrays ``allocate(key, shape, dtype)`` makes).

    ``keys`` limits what is kept (default: every key, ``distribution`` with ``full_distribution``).
    """
    kind = _traceable(predictor)
    wanted = _wanted(predictor, keys, full_distribution)
    allocate = allocate or (lambda key, shape, dtype: plain_page_array(shape, dtype))
    arrays = kind.compute_trace(predictor, text.ids, allocate=allocate, keys=wanted, progress=progress, **options)
    return Trace(arrays, predictor.vocab.decode(text.ids), _info(predictor, text, list(arrays),
                                                                 kind.trace_gates(predictor)))


@dataclass(frozen=True)
class TraceCost:
    """What a trace takes on disk: ``positions`` rows of ``values`` numbers (every unit of every key), ``bytes``
    once written and ``peak`` while written (a float16 trace is computed in float32 first)."""

    positions: int
    values: int
    bytes: int
    peak: int

    def words(self) -> str:
        """``858.3 MB: 319,621 positions x 671 values (2,684 bytes a position)``."""
        per_position = self.bytes // max(self.positions, 1)
        text = f"{self.bytes / 1e6:,.1f} MB: {self.positions:,} positions x {self.values:,} values " \
               f"({per_position:,} bytes a position)"
        return text if self.peak == self.bytes else f"{text}, {self.peak / 1e6:,.1f} MB while written"


def trace_cost(predictor: Predictor, text: Text, keys: set[str] | None = None, full_distribution: bool = False,
               float16: bool = False) -> TraceCost:
    """What ``write_trace`` with these arguments takes on disk, from the shapes of a trace of one position."""
    wanted = _wanted(predictor, keys, full_distribution)
    probe = _traceable(predictor).compute_trace(predictor, text.ids[:2], keys=wanted, progress=False)
    positions = max(len(text.ids) - 1, 0)
    units = {key: prod(a.shape[1:]) for key, a in probe.items()}
    wide = {key: positions * units[key] * a.dtype.itemsize for key, a in probe.items()}
    if not float16:
        total = sum(wide.values())
        return TraceCost(positions, sum(units.values()), total, total)
    half = {key: wide[key] if key == WIDE else positions * units[key] * 2 for key in wide}
    peak = sum(wide.values()) + max(half.values(), default=0)  # narrowed one key at a time
    return TraceCost(positions, sum(units.values()), sum(half.values()), peak)


def free_bytes(path: str | os.PathLike) -> int:
    """Free space on the file system that holds ``path`` (or would: its nearest existing ancestor)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def _narrow(path: Path) -> None:
    """Rewrite the ``.npy`` at ``path`` as float16, ``ROWS`` rows at a time (values beyond float16's range are
    clipped to it: an infinity would show as nothing)."""
    wide = np.load(path, mmap_mode="r")
    half_path = path.with_name(path.name + ".half")
    half = np.lib.format.open_memmap(half_path, mode="w+", dtype=np.float16, shape=wide.shape)
    for start in range(0, len(wide), ROWS):
        half[start:start + ROWS] = np.clip(wide[start:start + ROWS], -HALF_MAX, HALF_MAX)
    half.flush()
    del wide, half
    os.replace(half_path, path)


def write_trace(out_dir: str | os.PathLike, predictor: Predictor, text: Text, keys: set[str] | None = None,
                full_distribution: bool = False, progress: bool = False, float16: bool = False,
                log: Callable[[str], None] = lambda _: None, **options) -> Trace:
    """Trace ``predictor`` over ``text`` into ``out_dir`` (replacing an older trace whole) and open the result.

    Says what it will take through ``log`` first, and refuses when that is more than the disk has free;
    ``float16`` stores every key but ``prob`` in half the space (see the module docstring).
    """
    cost = trace_cost(predictor, text, keys, full_distribution, float16)
    free = free_bytes(out_dir)
    if cost.peak > free:
        raise RnnlensError(f"a trace of {predictor.description} over {text.source} would take {cost.words()}, and "
                           f"{Path(out_dir).absolute().parent} has {free / 1e6:,.1f} MB free",
                           "trace a shorter text", option="text")
    log(f"tracing into {out_dir}: {cost.words()}")
    with replace_directory(out_dir, "trace") as tmp:
        def allocate(key, shape, dtype):
            return np.lib.format.open_memmap(tmp / f"{key}.npy", mode="w+", dtype=dtype, shape=shape)

        trace = compute_trace(predictor, text, keys, full_distribution, allocate, progress, **options)
        for key in trace:
            trace[key].flush()
        stored, positions, info = list(trace), trace.positions, trace.info
        del trace
        for key in stored:
            if float16 and key != WIDE:
                _narrow(tmp / f"{key}.npy")
        arrays = {key: np.load(tmp / f"{key}.npy", mmap_mode="r") for key in stored}
        manifest = {
            "format": FORMAT, "version": VERSION,
            "keys": {key: {"file": f"{key}.npy", "shape": list(a.shape), "dtype": str(a.dtype)}
                     for key, a in arrays.items()},
            "positions": positions, **info,
        }
        del arrays
        atomic.write_text(tmp / TEXT_FILE, predictor.vocab.decode(text.ids))
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
        raise IncompleteTrace(f"{trace_dir}: no {MANIFEST}; not a finished trace (trace the model again)")
    manifest = atomic.read_json(path, IncompleteTrace, "trace the model again")
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise IncompleteTrace(f"{path}: not an rnnlens trace manifest of version {VERSION}; trace the model again")
    arrays = {}
    for key, entry in manifest["keys"].items():
        file = trace_dir / entry["file"]
        try:
            array = np.load(file, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise IncompleteTrace(f"{file}: missing or damaged ({err}); trace the model again") from None
        if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
            raise IncompleteTrace(f"{file}: holds {array.dtype} {list(array.shape)}, the manifest says "
                                  f"{entry['dtype']} {entry['shape']}; trace the model again")
        arrays[key] = array
    text_path = trace_dir / TEXT_FILE
    if not text_path.is_file():
        raise IncompleteTrace(f"{trace_dir}: no {TEXT_FILE}; trace the model again")
    with open(text_path, encoding="utf-8", newline="") as f:  # as written: a '\r' stays one character
        text = f.read()
    if max(len(text) - 1, 0) != manifest["positions"]:
        raise IncompleteTrace(f"{text_path}: {len(text):,} characters do not match {manifest['positions']:,} positions")
    info = {k: v for k, v in manifest.items() if k not in ("keys", "format", "version")}
    return Trace(arrays, text, info)


def ensure_trace(out_dir: str | os.PathLike, predictor: Predictor, text: Text, keys: set[str] | None = None,
                 full_distribution: bool = False, float16: bool = False, **options) -> tuple[Trace, str]:
    """Reuse the trace in ``out_dir`` if it is complete and of these weights and this text; else write it.

    Returns the trace and what happened: ``"reused"``, ``"written"``, or
    ``"rewritten: REASON"`` (incomplete, other weights, other text, missing keys, float16 where float32 is
    asked for; a float32 trace serves where float16 would do). ``options`` go to ``write_trace``.
    """
    reason = None
    if Path(out_dir).exists():
        try:
            trace = open_trace(out_dir)
        except IncompleteTrace as err:
            reason = f"incomplete ({err})"
        else:
            wanted = set(keys) if keys is not None else set(available_keys(predictor, full_distribution)[0])
            if trace.info.get("text", {}).get("ids_sha256") != text.sha256:
                reason = "it traced another text"
            elif trace.info.get("model") != predictor.identity:
                ours, theirs = predictor.identity.get("interventions"), trace.info.get("model", {}).get("interventions")
                reason = "it traced the model with other interventions" if ours or theirs else "it traced other weights"
            elif not wanted <= set(trace):
                reason = "it lacks keys now asked for"
            elif not float16 and any(trace[key].dtype == np.float16 for key in trace):
                reason = "it is stored in float16"
            else:
                return trace, "reused"
    trace = write_trace(out_dir, predictor, text, keys=keys, full_distribution=full_distribution, float16=float16,
                        **options)
    return trace, "written" if reason is None else f"rewritten: {reason}"


def is_trace_directory(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


def get_trace(source: str | os.PathLike, keys: KeyChoice, split: str | None = None, file: str | None = None,
              skip_unknown: bool = False, data_dir: str | None = None, weights: str = "best", device: str = "cpu",
              keep: str | os.PathLike | None = None, progress: bool = False,
              log: Callable[[str], None] = lambda _: None) -> Trace:
    """The trace an analysis works on, from a trace directory or a run directory.

    ``source`` a trace directory: opened (the text options must be absent).
    ``source`` a run directory: its model over ``split`` (default test) or
    ``file``, kept in ``keep`` with every key and reused from there when it
    matches, or else computed in memory with only the keys ``keys`` chooses.
    """
    if is_trace_directory(source):
        if split or file or keep:
            raise RnnlensError(f"{source} is a trace directory; a split, a text or a kept trace apply to a run directory")
        trace = open_trace(source)
        log(f"read trace {source}: {trace.description}")
        return trace
    predictor = registry.load_predictor(source, weights=weights, device=device)
    if split is None and file is None:
        split = "test"
    text = text_for(predictor.vocab, predictor.corpus_spec, split=split, file=file, skip_unknown=skip_unknown,
                    data_dir=data_dir)
    if keep is not None:  # a kept trace holds every key, so that every analysis can reuse it
        trace, status = ensure_trace(keep, predictor, text, progress=progress, log=log)
        log(f"trace {keep} {status}: {trace.description}")
        return trace
    trace = compute_trace(predictor, text, keys=keys(*available_keys(predictor)), progress=progress)
    log(f"traced {source} ({weights} weights): {trace.description}")
    return trace
