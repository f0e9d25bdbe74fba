"""Finding interpretable cells: rank every unit of every layer by how well it tracks each text feature.

The paper found its cells (line position, inside quotes, indentation...) by
eye. Here every unit's value after each character (by default tanh(c) for an
LSTM, as the paper plots, else h) is scored against every feature of
``rnnlens.data.features``: numeric features by the absolute Pearson correlation
|r|, on/off features by the ROC AUC of the unit's value as a detector of the
feature, folded to max(AUC, 1 - AUC) so a unit that is *lower* inside scores
as well as one that is higher (the direction is reported). The best unit of
each feature is drawn as a cell picture on the stretch of text where the
feature varies most.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.result import Result
from rnnlens.checks import COUNT
from rnnlens.data.features import FEATURES, Feature
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import Trace, layer_key
from rnnlens.render.cell_pictures import CellPicture, plot_pictures, save_html
from rnnlens.render.figures import save_figure
from rnnlens.store.atomic import write_csv

UNIT_BLOCK = 64  # units scored at a time: bounds memory on long traces


def default_quantity(keys: list[str]) -> str:
    """tanh(c) for a model with a cell, as an LSTM (what the paper colours), h otherwise."""
    return "tanh_cell" if any(key.endswith(".cell") for key in keys) else "hidden"


def unit_values(trace: Trace, layer: int, quantity: str, index=np.s_[:, :]) -> np.ndarray:
    """Values of ``quantity`` in ``layer`` at ``index`` of its ``(positions, units)`` array.

    ``tanh_cell`` is tanh of the LSTM cell; any other name is a stored quantity.
    """
    if quantity == "tanh_cell":
        return np.tanh(trace[layer_key(layer, "cell")][index])
    return np.asarray(trace[layer_key(layer, quantity)][index])


def quantity_keys(keys: list[str], quantity: str | None) -> set[str]:
    """The keys among a model's ``keys`` that ``unit_values`` reads for ``quantity`` (None: the default)."""
    quantity = quantity or default_quantity(keys)
    stored = "cell" if quantity == "tanh_cell" else quantity
    return {key for key in keys if key.startswith("layer") and key.split(".")[-1] == stored}


def correlations(values: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Pearson r ``(U, F)`` of each column of ``values`` ``(T, U)`` with each of ``features`` ``(T, F)``.

    NaN where a column or a feature is constant. The centred features sum to
    zero, so the values need no centred copy.
    """
    x = np.asarray(values, dtype=np.float64)
    f = features - features.mean(axis=0)
    mean = x.mean(axis=0)
    spread = np.sqrt(np.maximum(np.einsum("tu,tu->u", x, x) - len(x) * mean * mean, 0))
    norms = spread[:, None] * np.sqrt((f * f).sum(axis=0))[None, :]
    varies = (x.max(axis=0) > x.min(axis=0))[:, None] & (norms > 0)  # a saturated unit can be exactly constant
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(varies, (x.T @ f) / norms, np.nan)


def midranks(values: np.ndarray) -> np.ndarray:
    """``(U, T)``: the rank (1..T) of each entry of ``values`` ``(T, U)`` within its column; ties share their mean."""
    columns = np.ascontiguousarray(values.T)
    ranks = np.empty(columns.shape, np.float64)
    new = np.empty(columns.shape[1], bool)
    for u, column in enumerate(columns):
        order = np.argsort(column)
        ordered = column[order]
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(column))
        ranks[u, order] = ((starts + ends + 1) / 2)[np.cumsum(new) - 1]
    return ranks


def aucs(values: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """ROC AUC ``(U, F)`` of each column of ``values`` ``(T, U)`` as a score for each of ``positives`` ``(T, F)``.

    The probability that a random positive position has a higher value than a
    random negative one, ties counting half (Mann-Whitney U from midranks);
    NaN when a feature has no positive or no negative position.
    """
    positives = np.asarray(positives, dtype=bool)
    n1 = positives.sum(axis=0).astype(np.float64)
    n0 = len(positives) - n1
    sums = midranks(values) @ positives.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n1 > 0) & (n0 > 0), (sums - n1 * (n1 + 1) / 2) / (n1 * n0), np.nan)


def pearson(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Correlation ``(U,)`` of each column of ``values`` ``(T, U)`` with ``feature`` ``(T,)``."""
    return correlations(values, np.asarray(feature, dtype=np.float64)[:, None])[:, 0]


def roc_auc(values: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC ``(U,)`` of each column of ``values`` ``(T, U)`` as a score for ``positive`` ``(T,)``."""
    return aucs(values, np.asarray(positive)[:, None])[:, 0]


def representative_window(feature: np.ndarray, starts: np.ndarray, width: int) -> tuple[int, int]:
    """The ``[start, start+width)`` among candidate ``starts`` where ``feature`` varies most (first on ties)."""
    n = len(feature)
    if n <= width:
        return 0, n
    starts = starts[starts + width <= n]
    if len(starts) == 0:
        starts = np.array([0])
    s1 = np.concatenate([[0.0], np.cumsum(feature)])
    s2 = np.concatenate([[0.0], np.cumsum(feature * feature)])
    mean = (s1[starts + width] - s1[starts]) / width
    variance = (s2[starts + width] - s2[starts]) / width - mean ** 2
    start = int(starts[np.argmax(np.round(variance, 9))])
    return start, start + width


@dataclass(frozen=True)
class CellMatch:
    """The best unit for one feature: where it is, its score, and which way it goes."""

    feature: str
    kind: str
    metric: str  # "|r|" or "AUC"
    layer: int
    unit: int  # from 0
    score: float  # |r| or max(AUC, 1 - AUC)
    value: float  # r, or the raw AUC
    direction: str  # numeric: "rises with" / "falls with"; binary: "higher inside" / "lower inside"
    window: tuple[int, int]

    def describe(self) -> str:
        return f"{self.feature}: layer {self.layer} unit {self.unit}, {self.metric} {self.score:.3f} ({self.direction})"


@dataclass
class InterpretableCells(Result):
    """Scores of every unit against every feature, and the best unit per feature.

    ``scores[feature]`` is ``(layers, units)``: r for numeric features, the
    raw AUC for binary ones (NaN where the feature is constant on the text).
    """

    name = "cells"
    quantity: str
    layers: list[int]
    features: dict[str, Feature]
    scores: dict[str, np.ndarray]
    best: list[CellMatch]
    pictures: list[CellPicture]
    info: dict

    def summary(self) -> str:
        """The best unit of each feature, one line per feature."""
        lines = [f"{'feature':<20} {'kind':<8} {'layer':>5} {'unit':>5} {'metric':>6} {'score':>7}  direction",
                 "-" * 72]
        for m in self.best:
            lines.append(f"{m.feature:<20} {m.kind:<8} {m.layer:>5} {m.unit:>5} {m.metric:>6} {m.score:>7.3f}  "
                         f"{m.direction}")
        skipped = [name for name in self.features if name not in {m.feature for m in self.best}]
        if skipped:
            lines.append(f"(constant on this text, not scored: {', '.join(skipped)})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "info": self.info,
            "best": [{**asdict(m), "window": list(m.window)} for m in self.best],
            "features": {n: {"kind": f.kind, "description": f.description} for n, f in self.features.items()},
        }

    def heading(self) -> str:
        run = self.info.get("model", {}).get("run_dir", "")
        return f"Best cells per feature: {self.info.get('model_description', '')} {run}, quantity {self.quantity}"

    def write_files(self, out: Path) -> None:
        """best_cells.csv, scores.csv (every unit), cells.html and cells.png beside cells.json."""
        write_csv(out / "best_cells.csv",
                  ["feature", "kind", "metric", "layer", "unit", "score", "value", "direction",
                   "window_start", "window_end"],
                  [[m.feature, m.kind, m.metric, m.layer, m.unit, m.score, m.value, m.direction, *m.window]
                   for m in self.best])
        rows = []
        for name, table in self.scores.items():
            for layer, values in zip(self.layers, table):
                for unit, value in enumerate(values):
                    score = abs(value) if self.features[name].kind == "numeric" else max(value, 1 - value)
                    rows.append([name, self.features[name].kind, layer, unit, value, score])
        write_csv(out / "scores.csv", ["feature", "kind", "layer", "unit", "value", "score"], rows)
        save_html(out / "cells.html", self.pictures, self.heading())
        if self.pictures:
            save_figure(self.plot(), out / "cells.png")

    def plot(self):
        """The cell pictures of the best units, stacked (PNG/SVG via ``save_figure``)."""
        return plot_pictures(self.pictures)


def find_interpretable_cells(trace: Trace, features: list[str] | dict[str, Feature] | None = None,
                             quantity: str | None = None, window: int = 400) -> InterpretableCells:
    """Score every unit of every layer of ``trace`` against ``features`` (names, or Feature objects by name).

    ``quantity`` is a per-layer trace quantity (``hidden``, ``cell``, a gate)
    or ``tanh_cell`` (default for an LSTM); ``window`` is the length in
    characters of each picture.
    """
    if features is None:
        chosen = dict(FEATURES)
    elif isinstance(features, dict):
        chosen = dict(features)
    else:
        unknown = [n for n in features if n not in FEATURES]
        if unknown:
            raise RnnlensError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
        chosen = {n: FEATURES[n] for n in features}
    COUNT.check("window", window)
    quantity = quantity or default_quantity(list(trace))
    layers = trace.layers
    positions = trace.positions
    if positions < 2:
        raise RnnlensError("the text is too short to score cells: give at least 3 characters")
    text = trace.text[:positions]  # row t belongs to text[t]
    values_of = {name: feature(trace.text)[:positions] for name, feature in chosen.items()}
    numeric = [name for name, f in chosen.items() if f.kind == "numeric"]
    binary = [name for name, f in chosen.items() if f.kind == "binary"]
    numeric_values = np.stack([values_of[n] for n in numeric], axis=1) if numeric else None
    binary_values = np.stack([values_of[n] for n in binary], axis=1).astype(bool) if binary else None
    blocks = []  # (units, features) per block of units, layer by layer
    for layer in layers:
        values = unit_values(trace, layer, quantity)
        for start in range(0, values.shape[1], UNIT_BLOCK):
            block = values[:, start:start + UNIT_BLOCK]
            parts = []
            if numeric:
                parts.append(correlations(block, numeric_values))
            if binary:
                parts.append(aucs(block, binary_values))
            blocks.append((layer, np.concatenate(parts, axis=1)))
    by_layer = [np.concatenate([b for layer_, b in blocks if layer_ == layer]) for layer in layers]
    scores = {name: np.stack([table[:, i] for table in by_layer]) for i, name in enumerate(numeric + binary)}
    scores = {name: scores[name] for name in chosen}

    line_starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), "<u4") == 10) + 1])
    best, pictures = [], []
    for name, feature in chosen.items():
        table = scores[name]
        if np.isnan(table).all():
            continue
        folded = np.abs(table) if feature.kind == "numeric" else np.maximum(table, 1 - table)
        row, unit = np.unravel_index(np.nanargmax(folded), folded.shape)
        value = float(table[row, unit])
        if feature.kind == "numeric":
            metric, direction = "|r|", "rises with" if value > 0 else "falls with"
        else:
            metric, direction = "AUC", "higher inside" if value >= 0.5 else "lower inside"
        span = representative_window(values_of[name], line_starts, window)
        match = CellMatch(name, feature.kind, metric, layers[row], int(unit), float(folded[row, unit]), value,
                          f"{direction} the feature" if feature.kind == "numeric" else direction, span)
        best.append(match)
        column = unit_values(trace, match.layer, quantity, np.s_[span[0]:span[1], match.unit])
        pictures.append(CellPicture(text[span[0]:span[1]], np.asarray(column, dtype=np.float64),
                                    f"{match.describe()}; {quantity} of layer {match.layer} unit {match.unit}"))
    info = {k: trace.info[k] for k in ("model", "model_description", "text") if k in trace.info}
    return InterpretableCells(quantity, layers, chosen, scores, best, pictures, info)
