"""Select and match, LSTMVis's rules: which units a brushed stretch of text turns on, and where else they are on.

Values are ``(T, units)`` arrays (one per layer, memory-mapped or not) of one
quantity; a unit is a column. Only the rows a rule needs are read, as
``block[rows]`` or ``block[rows, columns]`` (an array-like that transforms
what it reads, as tanh of a cell, works too).

**On.** Unit ``u`` is on at row ``t`` when ``sign * v[t, u] >= threshold``:
``sign=+1`` asks for high values, ``sign=-1`` for low ones (LSTMVis gets the
same by splitting signed states into their positive and negative parts).

**Selection.** A brush is the rows ``[start, end)``. With padding
``(left, right)`` (LSTMVis's default ``(1, 0)``), a unit is selected when it
is on at every row of the brush and off at each of the ``left`` rows just
before it and the ``right`` rows just after it (padding rows outside the
text are ignored).

**Candidates.** ``count[t]`` is how many selected units are on at ``t``. For
``k = |selected|, |selected| - 1, ..., 1``, every maximal run of rows where
``count >= k``, at least ``min_length`` long, is a candidate (each run once;
runs that overlap an excluded stretch, normally the brush itself, are
dropped), until ``max_candidates`` are found: runs where more of the
selection is on together come first.

**Score.** For a candidate ``[a, b)``, ``active`` is the set of *all* units of
the arrays that are on over the whole run and off on its padding, exactly as
a selection of ``[a, b)`` would be. ``overlap = |active & selected|`` and
``union = |active | selected|``.

**Ranking.** Largest overlap, then smallest union, then longest run, then
earliest start (LSTMVis's order, with a last key so that ties are
reproducible). Scoring reads every unit of the candidate's rows, so it stops
after ``max_rows`` rows in all; ``truncated`` then says that weaker
candidates were not scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

ROW_CHUNK = 4096  # rows read at a time when counting or scoring: bounds memory on long traces


@dataclass(frozen=True)
class Rule:
    """When a unit is on (``sign * value >= threshold``), the padding that must be off, the shortest run."""

    threshold: float
    sign: int = 1
    left: int = 1
    right: int = 0
    min_length: int = 2

    def on(self, values: np.ndarray) -> np.ndarray:
        """Boolean array of the same shape: where ``values`` count as on."""
        return self.sign * np.asarray(values, dtype=np.float64) >= self.threshold


@dataclass(frozen=True)
class Match:
    """A stretch of rows ``[start, start + length)`` where selected units are on together, with its score."""

    start: int
    length: int
    overlap: int  # selected units active over the whole stretch
    union: int  # units active there or selected
    active: int  # units active over the whole stretch (of every array)

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.start + self.length, "length": self.length,
                "overlap": self.overlap, "union": self.union, "active": self.active}


@dataclass(frozen=True)
class Matches:
    """Ranked matches, how many candidates were found and scored, and whether scoring stopped early."""

    matches: list[Match]
    candidates: int
    scored: int
    truncated: bool


def _on_over(block, start: int, end: int, rule: Rule, columns: np.ndarray | None = None) -> np.ndarray:
    """``(units,)`` or ``(len(columns),)``: which units are on at every row of ``[start, end)`` of ``block``.

    Read in chunks, keeping only the units still on, so a long run costs
    little once most units have dropped out.
    """
    alive = np.arange(block.shape[1]) if columns is None else np.asarray(columns)
    keep = np.ones(len(alive), bool)
    for row in range(start, end, ROW_CHUNK):
        if not keep.any():
            break
        index = np.flatnonzero(keep)
        rows = np.asarray(block[row:min(row + ROW_CHUNK, end), alive[index]])
        keep[index] = rule.on(rows).all(axis=0)
    return keep


def _off_over(block, start: int, end: int, rule: Rule) -> np.ndarray:
    """``(units,)``: which units are off at every row of ``[start, end)`` (clipped to the text; empty: all)."""
    start, end = max(start, 0), min(end, block.shape[0])
    if end <= start:
        return np.ones(block.shape[1], bool)
    return ~rule.on(np.asarray(block[start:end])).any(axis=0)


def active_units(block, start: int, end: int, rule: Rule) -> np.ndarray:
    """``(units,)`` bool: units of ``block`` on over ``[start, end)`` and off on the rule's padding around it."""
    return (_on_over(block, start, end, rule) & _off_over(block, start - rule.left, start, rule)
            & _off_over(block, end, end + rule.right, rule))


def select(blocks: Sequence, start: int, end: int, rule: Rule) -> list[np.ndarray]:
    """The selected units of each block (ascending column indices) for the brush ``[start, end)``."""
    return [np.flatnonzero(active_units(block, start, end, rule)) for block in blocks]


def count_on(blocks: Sequence, selected: Sequence[np.ndarray], rule: Rule) -> np.ndarray:
    """``(T,)`` int: how many of the selected units of all blocks are on at each row."""
    rows = blocks[0].shape[0]
    count = np.zeros(rows, np.int32)
    for block, units in zip(blocks, selected):
        if len(units) == 0:
            continue
        for row in range(0, rows, ROW_CHUNK):
            chunk = np.asarray(block[row:row + ROW_CHUNK, units])
            count[row:row + len(chunk)] += rule.on(chunk).sum(axis=1, dtype=np.int32)
    return count


def runs_at_least(count: np.ndarray, k: int, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the maximal runs of ``count >= k`` at least ``min_length`` long."""
    edges = np.diff(np.concatenate([[0], (count >= k).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long_enough = ends - starts >= min_length
    return starts[long_enough], ends[long_enough]


def candidates(count: np.ndarray, most: int, rule: Rule, exclude: tuple[int, int] | None,
               max_candidates: int) -> list[tuple[int, int]]:
    """Candidate runs ``(start, end)``, those where more selected units are on together first (see the module)."""
    found: dict[tuple[int, int], None] = {}
    for k in range(most, 0, -1):
        starts, ends = runs_at_least(count, k, rule.min_length)
        if exclude is not None:
            apart = (ends <= exclude[0]) | (starts >= exclude[1])
            starts, ends = starts[apart], ends[apart]
        for run in zip(starts.tolist(), ends.tolist()):
            found.setdefault(run, None)
            if len(found) >= max_candidates:
                return list(found)
    return list(found)


def match(blocks: Sequence, selected: Sequence[np.ndarray], rule: Rule, exclude: tuple[int, int] | None = None,
          limit: int = 50, max_candidates: int = 1000, max_rows: int = 2_000_000) -> Matches:
    """The places where the ``selected`` units (column indices per block) are on together, ranked (see the module).

    ``exclude`` is a stretch ``[start, end)`` whose overlapping runs are not
    matches (the brush); ``limit`` matches are returned.
    """
    chosen = [np.asarray(units, dtype=np.int64) for units in selected]
    total = sum(len(units) for units in chosen)
    if total == 0:
        return Matches([], 0, 0, False)
    runs = candidates(count_on(blocks, chosen, rule), total, rule, exclude, max_candidates)
    scored, rows_read = [], 0
    for start, end in runs:
        if rows_read >= max_rows:
            break
        rows_read += end - start + rule.left + rule.right
        overlap = active = 0
        for block, units in zip(blocks, chosen):
            on = active_units(block, start, end, rule)
            overlap += int(on[units].sum())
            active += int(on.sum())
        scored.append(Match(start, end - start, overlap, active + total - overlap, active))
    scored.sort(key=lambda m: (-m.overlap, m.union, -m.length, m.start))
    return Matches(scored[:limit], len(runs), len(scored), len(scored) < len(runs))
