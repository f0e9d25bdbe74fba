"""What the explorer shows of each model: its trace if it has one, its predictions, its discovered cells, the
onion categories of its errors.

A PATH on the command line is a trace directory (opened memory-mapped) or a
run directory: a network's trace of the text is then kept in
``RUN/traces/WEIGHTS-TEXTSHA/`` with the full next-character distribution,
in float16 (half the disk; the page shows four digits at most), and reused
while it matches (``store.traces.ensure_trace``); a model without
internals (an n-gram, an n-NN) gives its cached predictions only. Nothing is
read into memory up front: the arrays stay memory-mapped and the server
reads the windows it is asked for.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.analyses.interpretable_cells import default_quantity, find_interpretable_cells, quantity_keys
from rnnlens.analyses.onion.examples import legend
from rnnlens.analyses.onion.saved import read_onion
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models import registry
from rnnlens.models.predictor import Predictor
from rnnlens.models.trace import Trace, layer_key
from rnnlens.render.onion_page import ink
from rnnlens.store import atomic
from rnnlens.store.predictions import predictions_for
from rnnlens.store.traces import ensure_trace, is_trace_directory, open_trace

TRACES = "traces"  # where a run directory keeps the traces the explorer made of it
CELL_POSITIONS = 50_000  # discovered cells computed on demand score the first this many positions: seconds, not minutes
TANH_CELL = "tanh_cell"


class TanhView:
    """tanh of a ``(T, units)`` array, computed only on the rows and columns read (``view[rows, columns]``)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape = array, array.shape

    def __getitem__(self, index) -> np.ndarray:
        return np.tanh(np.asarray(self.array[index], dtype=np.float32))


@dataclass(frozen=True)
class OnionOverlay:
    """A model's errors by onion category: ``category`` ``(T,)`` int16 as ``rnnlens onion`` saved it (row ``t``:
    the prediction of character ``t + 1``; -1 no error, ``k`` the ``k``-th of ``legend``), memory-mapped."""

    source: str
    legend: list[dict]  # {"label", "colour", "ink"} per category: the slices, then unexplained
    category: np.ndarray
    errors: int

    def summary(self) -> dict:
        return {"source": self.source, "legend": self.legend, "errors": self.errors}


@dataclass
class ExploredModel:
    """One model as the explorer shows it.

    ``prob`` ``(T,)``: p(true next character) at each position; ``distributions``
    ``(T, V)`` (or None) every character's probability, columns labelled by
    ``chars``; ``trace`` None for a model without internals; ``cells`` the
    discovered-cells result (``cells.json``'s content) once read or computed;
    ``notes`` say what is missing and why; ``text_identity`` the text's
    (``Text.identity``); ``onion`` its errors' categories, given with ``--onion``.
    """

    name: str
    description: str
    identity: dict
    text: str
    prob: np.ndarray
    trace: Trace | None = None
    distributions: np.ndarray | None = None
    chars: str | None = None
    cells: dict | None = None
    notes: list[str] = field(default_factory=list)
    text_identity: dict = field(default_factory=dict)
    onion: OnionOverlay | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def quantities(self) -> dict[int, list[str]]:
        """Per layer, what can be shown: ``tanh_cell`` (where there is a cell) and every stored quantity."""
        if self.trace is None:
            return {}
        shown = {}
        for layer in self.trace.layers:
            stored = self.trace.quantities(layer)
            shown[layer] = ([TANH_CELL] if "cell" in stored else []) + stored
        return shown

    def default_quantity(self) -> str | None:
        return None if self.trace is None else default_quantity(list(self.trace))

    def values(self, layer: int, quantity: str):
        """``(T, units)`` values of ``quantity`` in ``layer``, read lazily (tanh_cell: tanh of the cell)."""
        if quantity == TANH_CELL:
            return TanhView(self.trace[layer_key(layer, "cell")])
        return self.trace[layer_key(layer, quantity)]

    def summary(self) -> dict:
        """What the page needs to know about the model (JSON)."""
        quantities = self.quantities()
        units = {layer: int(self.trace[layer_key(layer, self.trace.quantities(layer)[0])].shape[1])
                 for layer in quantities}
        return {"name": self.name, "description": self.description, "kind": self.identity.get("kind"),
                "run_dir": self.identity.get("run_dir"), "has_trace": self.trace is not None,
                "layers": sorted(quantities), "quantities": {str(k): v for k, v in quantities.items()},
                "units": {str(k): v for k, v in units.items()}, "default_quantity": self.default_quantity(),
                "gates": self.trace.gates() if self.trace is not None else [],
                "topk": self.distributions is not None and self.chars is not None,
                "cells_source": self.cells["source"] if self.cells is not None else None,
                "onion": self.onion.summary() if self.onion is not None else None, "notes": self.notes}


def _predictor_of_trace(trace: Trace, notes: list[str]) -> Predictor | None:
    """The predictor a trace was made of, if its run directory still holds those weights; else None, noted."""
    model = trace.info.get("model", {})
    run_dir, weights = model.get("run_dir"), model.get("weights", "best")
    if not run_dir or not Path(run_dir).is_dir():
        notes.append(f"top-k predictions need the model's run directory {run_dir!r}, which is gone")
        return None
    try:
        predictor = registry.load_predictor(run_dir, weights=weights)
    except RnnlensError as err:
        notes.append(f"top-k predictions unavailable: {run_dir}: {err}")
        return None
    if predictor.identity != model:
        notes.append(f"top-k predictions unavailable: {run_dir} no longer holds the weights this trace was made of")
        return None
    return predictor


def from_trace(trace: Trace, name: str, predictor: Predictor | None = None,
               log: Callable[[str], None] = lambda _: None) -> ExploredModel:
    """A traced model: states from the trace; top-k from its ``distribution`` or the run's cached predictions."""
    notes: list[str] = []
    if predictor is None:
        predictor = _predictor_of_trace(trace, notes)
    distributions = trace["distribution"] if "distribution" in trace else None
    if distributions is None and predictor is not None:
        log(f"{name}: the trace has no distribution; reading or computing the run's predictions for top-k")
        text = Text(predictor.vocab.encode(trace.text), trace.info.get("text", {}).get("source", "the trace's text"))
        distributions = predictions_for(predictor, text, distributions=True).distributions
    return ExploredModel(name, trace.info.get("model_description", name), trace.info.get("model", {}), trace.text,
                         trace["prob"], trace, distributions, predictor.vocab.chars if predictor else None,
                         notes=notes, text_identity=trace.info.get("text", {}))


def from_predictions(predictor: Predictor, text: Text, name: str) -> ExploredModel:
    """A model without internals (n-gram, n-NN): its predictions only (cached in its run directory)."""
    predictions = predictions_for(predictor, text, distributions=True)
    return ExploredModel(name, predictor.description, predictor.identity, predictor.vocab.decode(text.ids),
                         np.exp(predictions.log_probs), None, predictions.distributions,
                         predictor.vocab.chars, notes=["no internal states to show: predictions only"],
                         text_identity=text.identity())


def load_model(path: str | os.PathLike, name: str, text_of: Callable[[Predictor], Text], weights: str = "best",
               device: str = "cpu", progress: bool = False,
               log: Callable[[str], None] = lambda _: None) -> ExploredModel:
    """A trace directory, or a run directory over the text ``text_of(predictor)`` gives (traced on first use)."""
    if is_trace_directory(path):
        trace = open_trace(path)
        log(f"read trace {path}: {trace.description}")
        return from_trace(trace, name, log=log)
    predictor = registry.load_predictor(path, weights=weights, device=device)
    text = text_of(predictor)
    if not registry.can_trace(predictor):
        log(f"read {path}: {predictor.description} (predictions only)")
        return from_predictions(predictor, text, name)
    keep = Path(path) / TRACES / f"{weights}-{text.sha256[:16]}"
    try:
        trace, status = ensure_trace(keep, predictor, text, full_distribution=True, float16=True, progress=progress,
                                     log=log)
    except OSError as err:  # a run directory we may not write into
        raise RnnlensError(f"cannot keep the trace in {keep} ({err.strerror or err}); trace the model elsewhere "
                           f"(rnnlens trace {path} --full-distribution --float16 --out TRACE_DIR) and explore "
                           "TRACE_DIR") from None
    log(f"trace {keep} {status}: {trace.description}")
    return from_trace(trace, name, predictor)


def check_same_text(models: list[ExploredModel]) -> None:
    """Refuse models shown over different texts: their positions would not line up."""
    first, *rest = models
    for other in rest:
        if other.text != first.text:
            raise RnnlensError(f"{other.name} is over another text than {first.name} ({len(other.text):,} and "
                               f"{len(first.text):,} characters): explore models over one text (the same split or "
                               "--text, or traces of one text)")


def attach_cells(models: list[ExploredModel], cells_dirs: list[str]) -> None:
    """Give each ``cells`` result directory to the model and text it was computed on (or refuse it)."""
    for directory in cells_dirs:
        path = Path(directory) / "cells.json"
        if not path.is_file():
            raise RnnlensError(f"{directory}: no cells.json; give a directory written by rnnlens cells")
        result = atomic.read_json(path, RnnlensError, "run rnnlens cells again")
        owner = next((m for m in models if m.trace is not None and result.get("info", {}).get("model") == m.identity
                      and result["info"].get("text") == m.trace.info.get("text")), None)
        if owner is None:
            raise RnnlensError(f"{directory}: its cells are of another model or text than the ones explored; give "
                               "the cells of a model over this text")
        owner.cells = {**result, "source": f"read from {directory}"}


def attach_onions(models: list[ExploredModel], onion_dirs: list[str]) -> None:
    """Give each model of an ``rnnlens onion`` result directory that is explored here its categories: the same
    model (identity: kind, run directory, weights and their sha256) over the same text (sha256 of its ids).
    A directory none of whose models is explored, or whose model is explored over another text, is refused."""
    for directory in onion_dirs:
        attached = 0
        for saved in read_onion(directory):
            model = next((m for m in models if m.identity == saved.entry["identity"]), None)
            if model is None:
                continue
            text = saved.entry["text"]
            if text.get("ids_sha256") != model.text_identity.get("ids_sha256"):
                raise RnnlensError(f"{directory}: the onion of {model.name} is over {text.get('source')} "
                                   f"({text.get('chars', 0):,} characters), not over the text explored "
                                   f"({model.text_identity.get('source')}): run rnnlens onion over the same text")
            if model.onion is not None:
                raise RnnlensError(f"{directory}: {model.name} already has the onion of {model.onion.source}; give "
                                   "one onion result per model")
            model.onion = OnionOverlay(str(directory), [{"label": c.label, "colour": c.colour, "ink": ink(c.colour)}
                                                        for c in legend(saved.slices)],
                                       saved.category, int(saved.entry["errors"]))
            attached += 1
        if not attached:
            raise RnnlensError(f"{directory}: its onion is of a model not explored here (another run directory or "
                               "weights): give the onion of one of the models explored")


def discovered_cells(model: ExploredModel) -> dict:
    """The model's cells result: given with ``--cells``, or computed once on its first ``CELL_POSITIONS`` positions."""
    if model.trace is None:
        raise RnnlensError(f"{model.name} has no trace, so no cells to discover")
    with model.lock:
        if model.cells is None:
            n = min(model.trace.positions, CELL_POSITIONS)
            quantity = default_quantity(list(model.trace))
            keys = {"prob"} | quantity_keys(list(model.trace), quantity)
            head = Trace({k: model.trace[k][:n] for k in keys}, model.text[:n + 1], model.trace.info)
            result = find_interpretable_cells(head, quantity=quantity)
            model.cells = {**result.to_dict(), "source": f"computed on the first {n:,} positions"}
    return model.cells
