"""Finding interpretable cells: rank every unit of every layer by how well it tracks each text feature.

The paper found its cells (line position, inside quotes, indentation...) by
eye. Here every unit's value after each character (by default tanh(c) for an
LSTM, as the paper plots, else h) is scored against every feature of
``rnnlens.data.features``: numeric features by the absolute Pearson correlation
|r|, on/off features by the ROC AUC of the unit's value as a detector of the
feature, folded to max(AUC, 1 - AUC) so a unit that is *lower* inside scores
as well as one that is higher (the direction is reported).

The best of hundreds of units always scores something, so each best score is
set against chance: the same best-unit score against the feature shifted
circularly along the text (``null_shifts``). A best unit that does not beat
that by ``CHANCE_MARGIN`` is reported as "no unit beyond chance" and not
drawn; the others are drawn as cell pictures on the stretch of text where
their feature varies most. Each best unit also says on how many characters
its feature is on (or non-zero): a high AUC on a handful of characters is a
detector of those characters, not a cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

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
NULL_SHIFTS = 8  # circular shifts of each feature whose best scores make its chance level (see null_shifts)
CHANCE_MARGIN = 0.05  # how far above that chance level a best unit must score to be a finding


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


def shifted_product(a: np.ndarray, b: np.ndarray, shift: int) -> np.ndarray:
    """``a @ np.roll(b, shift, axis=0)`` for ``a`` ``(U, T)`` and ``b`` ``(T, F)``, without a rolled copy of ``b``.

    Two products on views: the null scores cost a matmul per shift, not a
    ``(T, F)`` copy of every feature per shift held in memory.
    """
    n = a.shape[1]
    s = shift % n
    if s == 0:
        return a @ b
    return a[:, s:] @ b[:n - s] + a[:, :s] @ b[n - s:]


def correlations(values: np.ndarray, features: np.ndarray, shifts: Sequence[int] = (0,)) -> np.ndarray:
    """Pearson r of each column of ``values`` ``(T, U)`` with each of ``features`` ``(T, F)`` rolled by each shift.

    ``(U, F * len(shifts))``: the F columns for ``shifts[0]``, then those for
    ``shifts[1]``... (the default: ``(U, F)``, unshifted). NaN where a column
    or a feature is constant. The centred features sum to zero, so the values
    need no centred copy; rolling changes neither a feature's mean nor its
    norm, so only the products depend on the shift.
    """
    x = np.asarray(values, dtype=np.float64)
    f = features - features.mean(axis=0)
    mean = x.mean(axis=0)
    spread = np.sqrt(np.maximum(np.einsum("tu,tu->u", x, x) - len(x) * mean * mean, 0))
    norms = spread[:, None] * np.sqrt((f * f).sum(axis=0))[None, :]
    varies = (x.max(axis=0) > x.min(axis=0))[:, None] & (norms > 0)  # a saturated unit can be exactly constant
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.concatenate([np.where(varies, shifted_product(x.T, f, s) / norms, np.nan) for s in shifts],
                              axis=1)


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


def aucs(values: np.ndarray, positives: np.ndarray, shifts: Sequence[int] = (0,)) -> np.ndarray:
    """ROC AUC of each column of ``values`` ``(T, U)`` as a score for each of ``positives`` ``(T, F)``, per shift.

    ``(U, F * len(shifts))``, laid out as ``correlations``. The probability
    that a random positive position has a higher value than a random negative
    one, ties counting half (Mann-Whitney U from midranks); NaN when a feature
    has no positive or no negative position. The ranks, the costly part, are
    computed once for every shift.
    """
    positives = np.asarray(positives, dtype=bool)
    n1 = positives.sum(axis=0).astype(np.float64)
    n0 = len(positives) - n1
    ranks, weights, scored = midranks(values), positives.astype(np.float64), (n1 > 0) & (n0 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.concatenate([np.where(scored, (shifted_product(ranks, weights, s) - n1 * (n1 + 1) / 2) / (n1 * n0),
                                        np.nan) for s in shifts], axis=1)


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


def null_shifts(positions: int, count: int = NULL_SHIFTS) -> list[int]:
    """The circular shifts, in characters, of each feature that make its chance level: ``k * positions / (count + 1)``.

    A shift keeps everything about the feature but its alignment with the
    text: how many characters carry it, how long its runs last, how slowly it
    drifts; the units keep theirs. So the best unit's score against a shifted
    feature is what the best of all these units reaches *by accident*, given
    those autocorrelations. (Shuffling the characters would break the runs
    and make chance look far too low: against brace_depth on 400K kernel
    characters the best of a 2x64 LSTM's units reached |r| 0.097, a shuffled
    copy 0.002, the shifted copies up to 0.074.) Spreading the shifts
    over the text keeps the smallest at a ninth of it, far longer than a line,
    a quotation or a comment, and taking the highest of ``count`` makes the
    null a high quantile of chance rather than its middle.
    """
    return sorted({round(positions * k / (count + 1)) % positions for k in range(1, count + 1)} - {0})


def fold(values: np.ndarray, kind: str) -> np.ndarray:
    """Scores from raw values: |r| for a numeric feature, max(AUC, 1 - AUC) for a binary one."""
    return np.abs(values) if kind == "numeric" else np.maximum(values, 1 - values)


@dataclass(frozen=True)
class CellMatch:
    """The best unit for one feature: where it is, its score against chance, and which way it goes.

    ``support`` is how many characters carry the feature: on, for a binary
    one; non-zero, for a numeric one (zero is where every built-in numeric
    feature is off: the first column, depth 0, no indentation, outside a
    word). An AUC of 0.93 earned on 51 characters is a detector of those
    few, not a cell.
    """

    feature: str
    kind: str
    metric: str  # "|r|" or "AUC"
    layer: int
    unit: int  # from 0
    score: float  # |r| or max(AUC, 1 - AUC)
    value: float  # r, or the raw AUC
    direction: str  # numeric: "rises with" / "falls with"; binary: "higher inside" / "lower inside"
    window: tuple[int, int]
    support: int  # characters where the feature is on (binary) or non-zero (numeric)
    null_score: float  # the best unit's score against the feature shifted circularly, the highest over the shifts
    beyond_chance: bool  # score - null_score > CHANCE_MARGIN

    def describe(self) -> str:
        """One line: ``in_double_quotes: layer 1 unit 3, AUC 0.998 (chance 0.556), lower inside, 6,033 chars``."""
        verdict = "" if self.beyond_chance else ", no unit beyond chance"
        return (f"{self.feature}: layer {self.layer} unit {self.unit}, {self.metric} {self.score:.3f} "
                f"(chance {self.null_score:.3f}{verdict}), {self.direction}, {self.support:,} chars")


@dataclass
class InterpretableCells(Result):
    """Scores of every unit against every feature, the best unit per feature and its chance level.

    ``scores[feature]`` is ``(layers, units)``: r for numeric features, the
    raw AUC for binary ones (NaN where the feature is constant on the text).
    ``pictures`` are those of the ``findings``, the best units beyond chance,
    in their order.
    """

    name = "cells"
    quantity: str
    layers: list[int]
    features: dict[str, Feature]
    scores: dict[str, np.ndarray]
    best: list[CellMatch]
    pictures: list[CellPicture]
    info: dict
    positions: int = 0
    shifts: list[int] = field(default_factory=list)

    @property
    def findings(self) -> list[CellMatch]:
        """The best units that track their feature beyond chance: the ones drawn."""
        return [m for m in self.best if m.beyond_chance]

    def summary(self) -> str:
        """The best unit of each feature, one line per feature, with its chance level and support."""
        lines = [f"{'feature':<20} {'kind':<8} {'layer':>5} {'unit':>5} {'metric':>6} {'score':>7} {'null':>7} "
                 f"{'chars':>9}  direction", "-" * 96]
        for m in self.best:
            direction = m.direction if m.beyond_chance else f"no unit beyond chance (best {m.direction})"
            lines.append(f"{m.feature:<20} {m.kind:<8} {m.layer:>5} {m.unit:>5} {m.metric:>6} {m.score:>7.3f} "
                         f"{m.null_score:>7.3f} {m.support:>9,}  {direction}")
        lines += [f"(chars: characters of the {self.positions:,} scored where the feature is on or non-zero;",
                  f" null: the best unit's score against the feature shifted circularly, the highest of "
                  f"{len(self.shifts)} shifts; beyond chance: score - null > {CHANCE_MARGIN})"]
        skipped = [name for name in self.features if name not in {m.feature for m in self.best}]
        if skipped:
            lines.append(f"(constant on this text, not scored: {', '.join(skipped)})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "info": self.info,
            "positions": self.positions,
            "chance": {"shifts": self.shifts, "margin": CHANCE_MARGIN,
                       "rule": "beyond_chance: score - null_score > margin; null_score: the best unit's score "
                               "against the feature rolled by each shift, the highest"},
            "best": [{**asdict(m), "window": list(m.window)} for m in self.best],
            "features": {n: {"kind": f.kind, "description": f.description} for n, f in self.features.items()},
        }

    def heading(self) -> str:
        run = self.info.get("model", {}).get("run_dir", "")
        return f"Best cells per feature: {self.info.get('model_description', '')} {run}, quantity {self.quantity}"

    def chance_note(self) -> str:
        """One sentence naming the features whose best unit is within chance, or ''."""
        within = [f"{m.feature} ({m.metric} {m.score:.3f}, chance {m.null_score:.3f})"
                  for m in self.best if not m.beyond_chance]
        return f"No unit beyond chance, not drawn: {', '.join(within)}." if within else ""

    def write_files(self, out: Path) -> None:
        """best_cells.csv, scores.csv (every unit), cells.html and cells.png beside cells.json."""
        write_csv(out / "best_cells.csv",
                  ["feature", "kind", "metric", "layer", "unit", "score", "value", "direction",
                   "window_start", "window_end", "support", "null_score", "beyond_chance"],
                  [[m.feature, m.kind, m.metric, m.layer, m.unit, m.score, m.value, m.direction, *m.window,
                    m.support, m.null_score, m.beyond_chance] for m in self.best])
        rows = []
        for name, table in self.scores.items():
            for layer, values in zip(self.layers, table):
                for unit, value in enumerate(values):
                    rows.append([name, self.features[name].kind, layer, unit, value,
                                 fold(value, self.features[name].kind)])
        write_csv(out / "scores.csv", ["feature", "kind", "layer", "unit", "value", "score"], rows)
        save_html(out / "cells.html", self.pictures, self.heading(), self.chance_note())
        if self.pictures:
            save_figure(self.plot(), out / "cells.png")

    def plot(self):
        """The cell pictures of the best units beyond chance, stacked (PNG/SVG via ``save_figure``)."""
        return plot_pictures(self.pictures)


def choose_features(features: list[str] | dict[str, Feature] | None) -> dict[str, Feature]:
    """The features to score: all registered (None), the named ones, or the given Feature objects by name."""
    if features is None:
        return dict(FEATURES)
    if isinstance(features, dict):
        return dict(features)
    unknown = [n for n in features if n not in FEATURES]
    if unknown:
        raise RnnlensError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return {n: FEATURES[n] for n in features}


def score_units(trace: Trace, quantity: str, chosen: dict[str, Feature], values_of: dict[str, np.ndarray],
                shifts: Sequence[int]) -> dict[str, np.ndarray]:
    """``{feature: (1 + len(shifts), layers, units)}``: raw scores (r or AUC) of every unit, unshifted then per shift.

    Units are read ``UNIT_BLOCK`` at a time, which bounds memory on long
    traces; each block's ranks serve every shift.
    """
    numeric = [name for name, f in chosen.items() if f.kind == "numeric"]
    binary = [name for name, f in chosen.items() if f.kind == "binary"]
    every = [0, *shifts]
    numeric_values = np.stack([values_of[n] for n in numeric], axis=1) if numeric else None
    binary_values = np.stack([values_of[n] for n in binary], axis=1).astype(bool) if binary else None
    by_layer = []
    for layer in trace.layers:
        values = unit_values(trace, layer, quantity)
        blocks = []
        for start in range(0, values.shape[1], UNIT_BLOCK):
            block = values[:, start:start + UNIT_BLOCK]
            parts = []  # each (units, shifts, features of a kind)
            if numeric:
                r = correlations(block, numeric_values, every)
                parts.append(r.reshape(len(r), len(every), len(numeric)))
            if binary:
                auc = aucs(block, binary_values, every)
                parts.append(auc.reshape(len(auc), len(every), len(binary)))
            blocks.append(np.concatenate(parts, axis=2))
        by_layer.append(np.concatenate(blocks))  # (units, shifts, features)
    table = np.stack(by_layer, axis=2)  # (units, shifts, layers, features)
    return {name: table[..., i].transpose(1, 2, 0) for i, name in enumerate(numeric + binary)}


def best_match(name: str, feature: Feature, raw: np.ndarray, layers: list[int], support: int,
               window: tuple[int, int]) -> CellMatch:
    """The best unit of ``raw`` ``(1 + shifts, layers, units)`` against the best of its shifted rows (the null).

    Beyond chance: the score beats the null by more than ``CHANCE_MARGIN``,
    the same 0.05 for |r| and for the folded AUC, both of which chance puts
    near their floor. Measured with 64 shifts per feature on the traces of
    two LSTMs (2x64 on 400K and 2x128 on 1M kernel characters, 14 features):
    one chance best beat the highest of 8 others in 11-12% of 896 trials (it
    must, 1 in 9), by more than 0.02 in 1.0-1.3%, by more than 0.05 in 0.2%
    and 0%. On a feature carried by 26 characters the chance best AUC had
    median 0.71 and reached 0.77; in 128 trials on such sparse features none
    beat 8 others by 0.05.
    """
    folded = fold(raw, feature.kind)
    row, unit = np.unravel_index(np.nanargmax(folded[0]), folded[0].shape)
    value, score = float(raw[0, row, unit]), float(folded[0, row, unit])
    null = float(np.nanmax(folded[1:])) if len(folded) > 1 else float("nan")
    if feature.kind == "numeric":
        metric, direction = "|r|", f"{'rises' if value > 0 else 'falls'} with the feature"
    else:
        metric, direction = "AUC", "higher inside" if value >= 0.5 else "lower inside"
    return CellMatch(name, feature.kind, metric, layers[row], int(unit), score, value, direction, window, support,
                     null, bool(score - null > CHANCE_MARGIN))


def find_interpretable_cells(trace: Trace, features: list[str] | dict[str, Feature] | None = None,
                             quantity: str | None = None, window: int = 400) -> InterpretableCells:
    """Score every unit of every layer of ``trace`` against ``features`` (names, or Feature objects by name).

    ``quantity`` is a per-layer trace quantity (``hidden``, ``cell``, a gate)
    or ``tanh_cell`` (default for an LSTM); ``window`` is the length in
    characters of each picture. Each best unit is set against the chance
    level of ``null_shifts``; only those beyond it get a picture.
    """
    chosen = choose_features(features)
    COUNT.check("window", window)
    quantity = quantity or default_quantity(list(trace))
    layers, positions = trace.layers, trace.positions
    if positions < 2:
        raise RnnlensError("the text is too short to score cells: give at least 3 characters")
    text = trace.text[:positions]  # row t belongs to text[t]
    values_of = {name: feature(trace.text)[:positions] for name, feature in chosen.items()}
    shifts = null_shifts(positions)
    raw = score_units(trace, quantity, chosen, values_of, shifts)
    line_starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), "<u4") == 10) + 1])
    best, pictures = [], []
    for name, feature in chosen.items():
        if np.isnan(raw[name][0]).all():
            continue
        span = representative_window(values_of[name], line_starts, window)
        match = best_match(name, feature, raw[name], layers, int(np.count_nonzero(values_of[name])), span)
        best.append(match)
        if match.beyond_chance:
            column = unit_values(trace, match.layer, quantity, np.s_[span[0]:span[1], match.unit])
            pictures.append(CellPicture(text[span[0]:span[1]], np.asarray(column, dtype=np.float64),
                                        f"{match.describe()}; {quantity}"))
    info = {k: trace.info[k] for k in ("model", "model_description", "text") if k in trace.info}
    return InterpretableCells(quantity, layers, chosen, {n: raw[n][0] for n in chosen},
                              best, pictures, info, positions, shifts)
