"""Gate saturation (the paper's Figure 3): how often each gate is nearly shut or nearly open.

For every gate unit of every layer, the fraction of time steps at which it
is left-saturated (activation < 0.1) and right-saturated (> 0.9). The plot
has one row per gate type (LSTM: input, forget, output; GRU: update, reset)
and one panel per layer, each gate a dot at (left fraction, right fraction),
with the diagonal x + y = 1 where a gate is always saturated one way or the
other, as in the paper.

Two of the paper's observations are tested here, where the per-unit and
per-step data are:

- the first layer is diffuse: the difference in mean saturated fraction
  (left + right) between the units of deeper layers and the first, with a
  bootstrap interval over units, and for each gate of the first layer the
  share of its units that are mostly saturated (one way on over half the
  steps), with an exact binomial interval, against ``RARE``;
- some forget gates of deeper layers are right-saturated on most steps
  (near-perfect integrators): a unit is when its fraction of steps above
  ``high`` has an interval above 0.5. Steps are autocorrelated, so the
  interval rests on batch means (the fraction in each block of
  ``intervals.BLOCK`` steps: its standard error is what a block bootstrap
  converges to) with Student's t, Bonferroni-corrected over the units
  tested, so that the chance of any one of them passing by accident stays
  under 1 - ``LEVEL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import t as student

from rnnlens.analyses.intervals import (BLOCK, LEVEL, Interval, binomial_interval, mean_interval,
                                        unpaired_difference)
from rnnlens.analyses.result import Result
from rnnlens.checks import FRACTION
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import Trace, layer_key
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv

LOW, HIGH = 0.1, 0.9
ROW_BLOCK = 655 * BLOCK  # time steps read at a time from a memory-mapped trace: whole blocks of BLOCK steps
RARE = 0.5  # the first layer is rarely saturated: under this share of each gate's units is mostly saturated
INTEGRATOR_GATE = "forget_gate"  # right-saturated, it keeps the cell as it was: an integrator


def saturation_fractions(gate: np.ndarray, low: float = LOW,
                         high: float = HIGH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(left, right, right_error)``, each ``(units,)``: fraction of rows of ``gate`` ``(T, units)`` below
    ``low`` / above ``high``, and the standard error of ``right`` by batch means over blocks of ``BLOCK``
    rows (NaN with a single block)."""
    if len(gate) == 0:
        raise RnnlensError("no time steps to measure saturation on: give a longer text")
    left = np.zeros(gate.shape[1], np.int64)
    right = np.zeros(gate.shape[1], np.int64)
    batch, batch_squares = np.zeros(gate.shape[1]), np.zeros(gate.shape[1])
    for start in range(0, len(gate), ROW_BLOCK):
        rows = np.asarray(gate[start:start + ROW_BLOCK])
        above = rows > high
        left += np.count_nonzero(rows < low, axis=0)
        right += np.count_nonzero(above, axis=0)
        starts = np.arange(0, len(rows), BLOCK)
        sizes = np.diff(np.append(starts, len(rows)))[:, None]
        means = np.add.reduceat(above, starts, axis=0, dtype=np.float64) / sizes
        batch += means.sum(axis=0)
        batch_squares += (means * means).sum(axis=0)
    blocks = -(-len(gate) // BLOCK)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.maximum(batch_squares - batch * batch / blocks, 0) / (blocks - 1)
    return left / len(gate), right / len(gate), np.sqrt(variance / blocks)


def mean_of(values: np.ndarray, chosen: np.ndarray) -> float | None:
    """The mean of ``values`` where ``chosen``; None where nothing is chosen."""
    return float(values[chosen].mean()) if chosen.any() else None


@dataclass
class GateSaturation(Result):
    """Left/right saturation fractions per (layer, gate) as ``(units,)`` arrays, and the standard error of each
    right fraction over ``positions`` steps (batch means)."""

    name = "saturation"
    layers: list[int]
    gates: list[str]
    left: dict[tuple[int, str], np.ndarray]
    right: dict[tuple[int, str], np.ndarray]
    right_error: dict[tuple[int, str], np.ndarray]
    positions: int
    low: float
    high: float
    info: dict

    def rows(self) -> list[dict]:
        """Per layer and gate: mean fractions, how many units are mostly shut or open (> 50% of steps) and the
        mean fraction of those units (None where there are none)."""
        rows = []
        for (layer, gate), left in self.left.items():
            right = self.right[(layer, gate)]
            rows.append({"layer": layer, "gate": gate, "units": len(left),
                         "mean_left": float(left.mean()), "mean_right": float(right.mean()),
                         "mostly_left": int((left > 0.5).sum()), "mostly_right": int((right > 0.5).sum()),
                         "mean_left_of_mostly_left": mean_of(left, left > 0.5),
                         "mean_right_of_mostly_right": mean_of(right, right > 0.5)})
        return rows

    def saturated(self, layers: list[int]) -> np.ndarray:
        """The saturated fraction (left + right) of every gate unit of ``layers``."""
        return np.concatenate([self.left[(k, g)] + self.right[(k, g)] for k in layers for g in self.gates])

    def first_layer(self) -> dict | None:
        """Is the first layer diffuse? The deeper layers' mean saturated fraction less the first's, bootstrapped
        over units, and per gate of the first layer the share of units mostly saturated (None: one layer)."""
        if len(self.layers) < 2:
            return None
        first, deeper = self.layers[0], self.layers[1:]
        shares = {}
        for gate in self.gates:
            left, right = self.left[(first, gate)], self.right[(first, gate)]
            shares[gate] = binomial_interval(int(((left > 0.5) | (right > 0.5)).sum()), len(left)).to_dict()
        a, b = self.saturated(deeper), self.saturated([first])
        return {"layer": first, "deeper": deeper, "rare_bound": RARE,
                "first_mean": mean_interval(b, block=1, what="units").to_dict(),
                "deeper_mean": mean_interval(a, block=1, what="units").to_dict(),
                "difference": unpaired_difference(a, b).to_dict(), "mostly_saturated": shares}

    def integrators(self) -> dict | None:
        """How many forget-gate units of layers 2+ are right-saturated on most steps by a per-unit test (see the
        module's docstring), with the share's binomial interval (None: one layer, or no forget gate)."""
        if len(self.layers) < 2 or INTEGRATOR_GATE not in self.gates:
            return None
        deeper = self.layers[1:]
        right = np.concatenate([self.right[(k, INTEGRATOR_GATE)] for k in deeper])
        error = np.concatenate([self.right_error[(k, INTEGRATOR_GATE)] for k in deeper])
        blocks = -(-self.positions // BLOCK)
        reach = student.ppf(1 - (1 - LEVEL) / (2 * len(right)), blocks - 1) * error
        low, high = right - reach, right + reach
        surely, mostly = int((low > 0.5).sum()), right > 0.5
        clearest = int(np.nanargmax(low)) if np.isfinite(low).any() else int(np.argmax(right))
        method = (f"batch means over blocks of {BLOCK} steps, Student's t, Bonferroni over {len(right)} units")
        return {"gate": INTEGRATOR_GATE, "layers": deeper, "units": len(right), "surely_mostly_right": surely,
                "surely_not_mostly_right": int((high < 0.5).sum()),
                "share": binomial_interval(surely, len(right)).to_dict(),
                "clearest": Interval(float(right[clearest]), float(low[clearest]), float(high[clearest]),
                                     self.positions, method).to_dict(),
                "mostly_right": int(mostly.sum()), "mean_right_of_mostly_right": mean_of(right, mostly),
                "test": f"a unit is right-saturated on most steps when its fraction of steps above {self.high} "
                        f"has a {round(100 * LEVEL)}% interval above 0.5 by {method}"}

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "gates": self.gates, "layers": self.layers, "info": self.info,
                "positions": self.positions, "summary": self.rows(), "first_layer": self.first_layer(),
                "integrators": self.integrators()}

    def summary(self) -> str:
        def mean(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"
        lines = [f"{'layer':>5} {'gate':<12} {'units':>5} {'mean <' + str(self.low):>9} {'mean >' + str(self.high):>9} "
                 f"{'>50% left (mean)':>17} {'>50% right (mean)':>18}", "-" * 82]
        for r in self.rows():
            lines.append(f"{r['layer']:>5} {r['gate']:<12} {r['units']:>5} {r['mean_left']:>9.3f} "
                         f"{r['mean_right']:>9.3f} {r['mostly_left']:>9} ({mean(r['mean_left_of_mostly_left']):>5}) "
                         f"{r['mostly_right']:>10} ({mean(r['mean_right_of_mostly_right']):>5})")
        first, integrators = self.first_layer(), self.integrators()
        if first:
            lines.append(f"deeper layers less layer {first['layer']}, mean saturated fraction: "
                         f"{Interval.from_dict(first['difference']).words(cases='units')}")
        if integrators:
            lines.append(f"{integrators['gate']} units of layers {integrators['layers'][0]}+ "
                         f"above {self.high} on most steps by a per-unit test: {integrators['surely_mostly_right']} "
                         f"of {integrators['units']}")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """saturation.csv (every unit), saturation.png and .svg."""
        rows = [[layer, gate, unit, float(l), float(r), float(e)]
                for (layer, gate), left in self.left.items()
                for unit, (l, r, e) in enumerate(zip(left, self.right[(layer, gate)],
                                                      self.right_error[(layer, gate)]))]
        write_csv(out / "saturation.csv",
                  ["layer", "gate", "unit", "left_saturated", "right_saturated", "right_saturated_error"], rows)
        figure = self.plot()
        save_figure(figure, out / "saturation.png")
        save_figure(figure, out / "saturation.svg")

    def plot(self):
        """One row per gate type, one panel per layer; x: fraction left-saturated, y: right-saturated."""
        colors = {"input_gate": "tab:green", "forget_gate": "tab:red", "output_gate": "tab:blue",
                  "update_gate": "tab:purple", "reset_gate": "tab:orange"}
        figure = new_figure(figsize=(3.0 * len(self.layers), 3.0 * len(self.gates)))
        axes = figure.subplots(len(self.gates), len(self.layers), squeeze=False)
        for row, gate in enumerate(self.gates):
            for column, layer in enumerate(self.layers):
                ax = axes[row, column]
                ax.plot([0, 1], [1, 0], color="0.6", lw=0.8, ls="--")
                ax.scatter(self.left[(layer, gate)], self.right[(layer, gate)], s=9, alpha=0.6,
                           color=colors.get(gate, "black"), edgecolors="none")
                ax.set_xlim(-0.02, 1.02)
                ax.set_ylim(-0.02, 1.02)
                ax.set_aspect("equal")
                ax.set_title(f"layer {layer} {gate.replace('_', ' ')}", fontsize=9)
                if row == len(self.gates) - 1:
                    ax.set_xlabel(f"fraction < {self.low} (left saturated)", fontsize=8)
                if column == 0:
                    ax.set_ylabel(f"fraction > {self.high} (right saturated)", fontsize=8)
                ax.tick_params(labelsize=7)
        figure.suptitle(f"gate saturation: {self.info.get('model_description', '')}", fontsize=10)
        figure.tight_layout()
        return figure


def gate_saturation(trace: Trace, low: float = LOW, high: float = HIGH) -> GateSaturation:
    """Saturation fractions of every gate unit of every layer over the whole trace (the gates the trace names),
    with the standard errors the per-unit tests need."""
    FRACTION.check("low", low)
    FRACTION.check("high", high)
    if low >= high:
        raise RnnlensError(f"low {low} must be below high {high}: a gate is left-saturated below low, "
                           "right-saturated above high")
    gates = trace.gates()
    if not gates:
        raise RnnlensError(f"{trace.info.get('model_description', 'this model')} has no gates; "
                           "gate saturation needs an LSTM or a GRU")
    left, right, error = {}, {}, {}
    for layer in trace.layers:
        for gate in gates:
            key = (layer, gate)
            left[key], right[key], error[key] = saturation_fractions(trace[layer_key(layer, gate)], low, high)
    info = {k: trace.info[k] for k in ("model", "model_description", "text") if k in trace.info}
    positions = len(trace[layer_key(trace.layers[0], gates[0])])
    return GateSaturation(trace.layers, gates, left, right, error, positions, low, high, info)

