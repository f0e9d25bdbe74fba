"""Finding interpretable cells: rank every unit of every layer by how well it tracks each text feature.

The paper found its cells (line position, inside quotes, indentation...) by
eye. Here every unit's value after each character (by default tanh(c) for an
LSTM, as the paper plots, else h) is scored against every feature of
``rnnlens.data.features``: numeric features by the absolute Pearson correlation
|r|, on/off features by the ROC AUC of the unit's value as a detector of the
feature, folded to max(AUC, 1 - AUC) so a unit that is *lower* inside scores
as well as one that is higher (the direction is reported).

A best unit **tracks** its feature when the 95% interval of its score lies
above two bars:

- chance: the best of hundreds of units always scores something, so the
  chance level is that same choice, the best unit's score, made against the
  feature shifted circularly along the text (``null_shifts``), the highest
  over the shifts. Score and chance are both a maximum over units, so the
  optimism of choosing the best is on both sides of the comparison.
- ``MIN_STRENGTH``: a cell a reader would see follow its feature, not just
  one that beats chance on a long text (the issue saw |r| 0.082 called
  beyond chance).

The interval is a block bootstrap over positions (``intervals.BLOCK``
consecutive characters per block: line position, quotes and brackets run
over many characters). A feature on (or non-zero) at fewer than
``MIN_COUNT`` characters or in fewer than ``MIN_COUNT`` separate stretches
cannot decide: a high AUC on a handful of characters is a detector of those
characters, not a cell. The tracking units are drawn as cell pictures on the
stretch of text where their feature varies most; when none tracks, the one
closest to tracking is drawn, saying so, so that Figure 2 always shows what
the best units do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rnnlens.analyses.intervals import BLOCK, LEVEL, MIN_COUNT, RESAMPLES, Interval
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
# The least score of a cell the paper would call interpretable: |r| 0.3 shares 9% of the feature's variance
# (the issue's |r| 0.082 shares 0.7%); AUC 0.75 puts a random character inside above a random one outside 3
# times in 4, a separation of about one standard deviation, which at even odds is |r| 0.43.
MIN_STRENGTH = {"|r|": 0.3, "AUC": 0.75}
AUC_BINS = 128  # value bins that make a resampled AUC two matrix products instead of a sort (see auc_resamples)


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


def resample_weights(positions: int, resamples: int = RESAMPLES, seed: int = 0, block: int = BLOCK) -> np.ndarray:
    """``(resamples, blocks)``: how often each block of ``block`` consecutive positions is drawn in each
    block-bootstrap resample (as many draws as there are blocks, with replacement)."""
    blocks = -(-positions // block)
    rng = np.random.default_rng(seed)
    return rng.multinomial(blocks, np.full(blocks, 1 / blocks), size=resamples).astype(np.float64)


def block_sums(values: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """``(blocks, ...)``: the sums of ``values`` ``(T, ...)`` over consecutive blocks of ``block`` rows."""
    return np.add.reduceat(values, np.arange(0, len(values), block), axis=0)


def correlation_resamples(x: np.ndarray, y: np.ndarray, weights: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Pearson r of ``x`` and ``y`` ``(T,)`` in each resample that ``weights`` ``(resamples, blocks)`` draws.

    A resample's r needs only its sums of 1, x, y, x², y², xy: each block's
    sums, weighted by how often the resample drew the block.
    """
    x, y = x - x.mean(), y - y.mean()  # centred: the sums of squares lose no digits to a large mean
    n, sx, sy, sxx, syy, sxy = (weights @ block_sums(np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], 1),
                                                     block)).T
    with np.errstate(invalid="ignore", divide="ignore"):
        return (n * sxy - sx * sy) / np.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy))


def within_bin_aucs(x: np.ndarray, positive: np.ndarray, bin_of: np.ndarray, bins: int) -> np.ndarray:
    """``(bins,)``: the AUC of ``x`` among the positive and negative positions of each bin (0.5 if one is empty).

    Bins hold ranges of values and equal values share a bin, so a position's
    rank within its bin is its rank in the text less the sizes of the bins
    below.
    """
    sizes = np.bincount(bin_of, minlength=bins)
    local = midranks(x[:, None])[0] - (np.cumsum(sizes) - sizes)[bin_of]
    n1 = np.bincount(bin_of, weights=positive, minlength=bins)
    pairs = n1 * (sizes - n1)
    ranks = np.bincount(bin_of, weights=local * positive, minlength=bins)
    return np.where(pairs > 0, (ranks - n1 * (n1 + 1) / 2) / np.where(pairs > 0, pairs, 1), 0.5)


def auc_resamples(x: np.ndarray, positive: np.ndarray, weights: np.ndarray, block: int = BLOCK,
                  bins: int = AUC_BINS) -> np.ndarray:
    """ROC AUC of ``x`` as a score for ``positive`` ``(T,)`` in each resample that ``weights`` draws.

    Each value falls in one of ``bins`` quantile bins. A positive beats every
    negative of a lower bin and, within its own bin, the share of negatives it
    beats in the whole text (``within_bin_aucs``). A resample then costs two
    ``(resamples, blocks) @ (blocks, bins)`` products instead of a sort, and
    the unresampled text gets its AUC exactly.
    """
    positive = np.asarray(positive, dtype=bool)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    bin_of = np.searchsorted(edges, x, side="right")
    count = len(edges) + 1
    blocks = weights.shape[1]
    cell = (positive * blocks + np.arange(len(x)) // block) * count + bin_of
    counts = np.bincount(cell, minlength=2 * blocks * count).reshape(2, blocks, count).astype(np.float64)
    negatives, positives = weights @ counts[0], weights @ counts[1]  # (resamples, bins)
    below = np.cumsum(negatives, axis=1) - negatives
    beaten = (positives * (below + within_bin_aucs(x, positive, bin_of, count) * negatives)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return beaten / (positives.sum(axis=1) * negatives.sum(axis=1))


def score_interval(column: np.ndarray, feature: np.ndarray, kind: str, value: float, weights: np.ndarray,
                   block: int = BLOCK) -> Interval:
    """The folded score of one unit ``column`` ``(T,)`` against ``feature`` ``(T,)``, with its block-bootstrap
    interval. ``value`` is the unit's raw r or AUC on the whole text; each resample is folded the same way
    as ``value``, so the interval says how sure the unit's direction is too (it may reach below chance)."""
    column = np.asarray(column, dtype=np.float64)
    if kind == "numeric":
        scores = np.sign(value) * correlation_resamples(column, feature, weights, block)
    else:
        raw = auc_resamples(column, feature != 0, weights, block)
        scores = raw if value >= 0.5 else 1 - raw
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.nanpercentile(np.where(np.isfinite(scores), scores, np.nan), [tail, 100 - tail])  # NaN: constant
    return Interval(float(fold(value, kind)), float(low), float(high), len(column),
                    f"bootstrap over positions in blocks of {block}, {len(weights)} resamples")


def stretches(feature: np.ndarray) -> int:
    """How many separate stretches of consecutive positions ``feature`` is on (non-zero) in."""
    on = np.asarray(feature) != 0
    return int(on[:1].sum() + np.count_nonzero(on[1:] & ~on[:-1]))


def bar_to_clear(chance: float, metric: str) -> tuple[str, float]:
    """What a best unit's interval must lie above to track, and its name: chance or ``MIN_STRENGTH``, the higher."""
    bars = {"chance": chance, "the least strength of a cell": MIN_STRENGTH[metric]}
    return max(bars.items(), key=lambda item: item[1])


def cell_verdict(interval: Interval, chance: float, metric: str, support: int, events: int) -> tuple[str, str]:
    """``tracks``, ``does not track`` or ``cannot say``, and why when it does not track.

    It tracks when the interval lies above both chance and ``MIN_STRENGTH``;
    it does not when the interval lies below either; fewer than
    ``MIN_COUNT`` characters or stretches decide nothing.
    """
    if min(support, events) < MIN_COUNT:
        few = "of either" if max(support, events) < MIN_COUNT else "characters" if support < MIN_COUNT else "stretches"
        return "cannot say", (f"on at {support:,} characters in {events:,} stretch{'es' * (events != 1)}: fewer "
                              f"than {MIN_COUNT} {few}")
    name, bar = bar_to_clear(chance, metric)
    if interval.low > bar:
        return "tracks", ""
    if interval.high < bar:
        return "does not track", f"the interval lies below {name} ({bar:.3f})"
    return "cannot say", f"the interval reaches both sides of {name} ({bar:.3f})"


@dataclass(frozen=True)
class CellMatch:
    """The best unit for one feature: where it is, its score with its interval against chance, which way it
    goes, and whether it tracks the feature (``cell_verdict``).

    ``support`` is how many characters carry the feature: on, for a binary
    one; non-zero, for a numeric one (zero is where every built-in numeric
    feature is off: the first column, depth 0, no indentation, outside a
    word); ``events`` is in how many separate stretches (lines, quotations,
    bracketed spans). An AUC of 0.93 earned on 51 characters is a detector of
    those few, not a cell.
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
    beyond_chance: bool  # the score's interval lies above null_score
    interval: Interval  # the score's block-bootstrap interval over positions
    events: int  # stretches where the feature is on (non-zero)
    verdict: str  # "tracks", "does not track" or "cannot say"
    why: str  # what keeps it from tracking; "" when it tracks

    @property
    def tracks(self) -> bool:
        """The unit is an interpretable cell of its feature (``cell_verdict``)."""
        return self.verdict == "tracks"

    def describe(self) -> str:
        """One line: ``in_double_quotes: layer 1 unit 3, AUC 0.998 [0.997, 0.998] (chance 0.556), lower inside,
        6,033 chars``."""
        return (f"{self.feature}: layer {self.layer} unit {self.unit}, {self.metric} {self.score:.3f} "
                f"[{self.interval.low:.3f}, {self.interval.high:.3f}] (chance {self.null_score:.3f}), "
                f"{self.direction}, {self.support:,} chars")

    def to_dict(self) -> dict:
        """Every field (the interval as ``Interval.to_dict``), with ``tracks`` and the strength it must pass."""
        return {**asdict(self), "window": list(self.window), "tracks": self.tracks,
                "min_strength": MIN_STRENGTH[self.metric]}


@dataclass
class InterpretableCells(Result):
    """Scores of every unit against every feature, the best unit per feature and its chance level.

    ``scores[feature]`` is ``(layers, units)``: r for numeric features, the
    raw AUC for binary ones (NaN where the feature is constant on the text).
    ``pictures`` are those of the ``findings``, the best units that track
    their feature, in their order (or of ``closest_to_tracking`` when none does).
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
        """The best units that track their feature: the ones drawn (the closest is, when none does)."""
        return [m for m in self.best if m.tracks]

    def summary(self) -> str:
        """The best unit of each feature, one line per feature: its score's interval, chance, support, verdict."""
        lines = [f"{'feature':<20} {'kind':<8} {'layer':>5} {'unit':>5} {'metric':>6} {'score':>7} "
                 f"{'95% CI':>15} {'null':>7} {'chars':>9} {'runs':>6}  verdict", "-" * 110]
        for m in self.best:
            because = f" ({m.why})" if m.why else f", {m.direction}"
            lines.append(f"{m.feature:<20} {m.kind:<8} {m.layer:>5} {m.unit:>5} {m.metric:>6} {m.score:>7.3f} "
                         f"{f'[{m.interval.low:.3f}, {m.interval.high:.3f}]':>15} {m.null_score:>7.3f} "
                         f"{m.support:>9,} {m.events:>6,}  {m.verdict}{because}")
        lines += [f"(chars: characters of the {self.positions:,} scored where the feature is on or non-zero, runs: "
                  "in how many stretches; 95% CI: block bootstrap over positions;",
                  f" null: the best unit's score against the feature shifted circularly, the highest of "
                  f"{len(self.shifts)} shifts; tracks: the CI lies above the null and above "
                  f"{' or '.join(f'{k} {v}' for k, v in MIN_STRENGTH.items())}; fewer than {MIN_COUNT} chars "
                  "or runs cannot say)"]
        skipped = [name for name in self.features if name not in {m.feature for m in self.best}]
        if skipped:
            lines.append(f"(constant on this text, not scored: {', '.join(skipped)})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "info": self.info,
            "positions": self.positions,
            "chance": {"shifts": self.shifts, "min_strength": MIN_STRENGTH, "min_count": MIN_COUNT,
                       "rule": "tracks: the score's interval (block bootstrap over positions) lies above null_score "
                               "and above min_strength, with at least min_count characters (support) and "
                               "stretches (events); beyond_chance: the interval lies above null_score; "
                               "null_score: the best unit's score against the feature rolled by each shift, "
                               "the highest"},
            "best": [m.to_dict() for m in self.best],
            "features": {n: {"kind": f.kind, "description": f.description} for n, f in self.features.items()},
        }

    def heading(self) -> str:
        run = self.info.get("model", {}).get("run_dir", "")
        return f"Best cells per feature: {self.info.get('model_description', '')} {run}, quantity {self.quantity}"

    def chance_note(self) -> str:
        """One sentence naming the features whose best unit does not surely track them, and why, or ''."""
        left = [f"{m.feature} ({m.metric} {m.score:.3f}, chance {m.null_score:.3f}: {m.verdict}, {m.why})"
                for m in self.best if not m.tracks]
        return f"No unit surely tracks these: {'; '.join(left)}." if left else ""

    def write_files(self, out: Path) -> None:
        """best_cells.csv, scores.csv (every unit), cells.html and cells.png beside cells.json."""
        write_csv(out / "best_cells.csv",
                  ["feature", "kind", "metric", "layer", "unit", "score", "value", "direction",
                   "window_start", "window_end", "support", "null_score", "beyond_chance", "score_low",
                   "score_high", "events", "verdict"],
                  [[m.feature, m.kind, m.metric, m.layer, m.unit, m.score, m.value, m.direction, *m.window,
                    m.support, m.null_score, m.beyond_chance, m.interval.low, m.interval.high, m.events, m.verdict]
                   for m in self.best])
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
        """The cell pictures, stacked (PNG/SVG via ``save_figure``)."""
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


def best_unit(raw: np.ndarray, kind: str) -> tuple[int, int, float]:
    """Row (layer index), unit and null score of the best unit of ``raw`` ``(1 + shifts, layers, units)``:
    the highest folded score unshifted, and the highest of the shifted rows (the best unit against chance)."""
    folded = fold(raw, kind)
    row, unit = np.unravel_index(np.nanargmax(folded[0]), folded[0].shape)
    null = float(np.nanmax(folded[1:])) if len(folded) > 1 else float("nan")
    return int(row), int(unit), null


def best_match(name: str, feature: Feature, raw: np.ndarray, layers: list[int], values: np.ndarray,
               column_of: Callable[[int, int], np.ndarray], weights: np.ndarray,
               window: tuple[int, int]) -> CellMatch:
    """The best unit of ``raw`` ``(1 + shifts, layers, units)``, its interval and verdict against chance and
    ``MIN_STRENGTH``. ``values`` ``(T,)`` is the feature, ``column_of(row, unit)`` the unit's ``(T,)`` values.

    Chance is measured, not assumed: with 64 shifts per feature on the traces
    of two LSTMs (2x64 on 400K and 2x128 on 1M kernel characters, 14
    features) the best unit's chance |r| was 0.06-0.10 on features as
    autocorrelated as brace depth, and on a feature carried by 26 characters
    the chance best AUC had median 0.71 and reached 0.77, which is why few
    characters decide nothing.
    """
    row, unit, null = best_unit(raw, feature.kind)
    value = float(raw[0, row, unit])
    if feature.kind == "numeric":
        metric, direction = "|r|", f"{'rises' if value > 0 else 'falls'} with the feature"
    else:
        metric, direction = "AUC", "higher inside" if value >= 0.5 else "lower inside"
    interval = score_interval(column_of(row, unit), values, feature.kind, value, weights)
    support, events = int(np.count_nonzero(values)), stretches(values)
    verdict, why = cell_verdict(interval, null, metric, support, events)
    return CellMatch(name, feature.kind, metric, layers[row], unit, interval.estimate, value, direction, window,
                     support, null, bool(interval.low > null), interval, events, verdict, why)


def closest_to_tracking(best: list[CellMatch]) -> list[CellMatch]:
    """The one best unit whose interval comes nearest to clearing its bar (chance or ``MIN_STRENGTH``), among
    the features with enough characters to decide if any has; [] for no feature."""
    decidable = [m for m in best if min(m.support, m.events) >= MIN_COUNT] or best
    return [max(decidable, key=lambda m: m.interval.low - bar_to_clear(m.null_score, m.metric)[1])] if best else []


def find_interpretable_cells(trace: Trace, features: list[str] | dict[str, Feature] | None = None,
                             quantity: str | None = None, window: int = 400,
                             resamples: int = RESAMPLES) -> InterpretableCells:
    """Score every unit of every layer of ``trace`` against ``features`` (names, or Feature objects by name).

    ``quantity`` is a per-layer trace quantity (``hidden``, ``cell``, a gate)
    or ``tanh_cell`` (default for an LSTM); ``window`` is the length in
    characters of each picture; ``resamples`` those of each best unit's
    block bootstrap. Each best unit is set against the chance level of
    ``null_shifts`` and ``MIN_STRENGTH``; only those that track get a picture.
    """
    chosen = choose_features(features)
    COUNT.check("window", window)
    COUNT.check("resamples", resamples)
    quantity = quantity or default_quantity(list(trace))
    layers, positions = trace.layers, trace.positions
    if positions < 2:
        raise RnnlensError("the text is too short to score cells: give at least 3 characters")
    text = trace.text[:positions]  # row t belongs to text[t]
    values_of = {name: feature(trace.text)[:positions] for name, feature in chosen.items()}
    shifts = null_shifts(positions)
    raw = score_units(trace, quantity, chosen, values_of, shifts)
    weights = resample_weights(positions, resamples)  # the same resamples serve every feature
    line_starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), "<u4") == 10) + 1])
    best = [best_match(name, feature, raw[name], layers, values_of[name],
                       lambda row, unit: unit_values(trace, layers[row], quantity, np.s_[:, unit]), weights,
                       representative_window(values_of[name], line_starts, window))
            for name, feature in chosen.items() if not np.isnan(raw[name][0]).all()]
    pictures = []
    for match in [m for m in best if m.tracks] or closest_to_tracking(best):
        start, end = match.window
        column = unit_values(trace, match.layer, quantity, np.s_[start:end, match.unit])
        verdict = "" if match.tracks else f": {match.verdict} ({match.why}), drawn as the closest to a cell"
        pictures.append(CellPicture(text[start:end], np.asarray(column, dtype=np.float64),
                                    f"{match.describe()}; {quantity}{verdict}"))
    info = {k: trace.info[k] for k in ("model", "model_description", "text") if k in trace.info}
    return InterpretableCells(quantity, layers, chosen, {n: raw[n][0] for n in chosen},
                              best, pictures, info, positions, shifts)
