"""Gate saturation (the paper's Figure 3): how often each gate is nearly shut or nearly open.

For every gate unit of every layer, the fraction of time steps at which it
is left-saturated (activation < 0.1) and right-saturated (> 0.9). The plot
has one row per gate type (LSTM: input, forget, output; GRU: update, reset)
and one panel per layer, each gate a dot at (left fraction, right fraction),
with the diagonal x + y = 1 where a gate is always saturated one way or the
other, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.result import Result
from rnnlens.checks import FRACTION
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import Trace, layer_key
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv

LOW, HIGH = 0.1, 0.9
ROW_BLOCK = 65536  # time steps read at a time from a memory-mapped trace


def saturation_fractions(gate: np.ndarray, low: float = LOW, high: float = HIGH) -> tuple[np.ndarray, np.ndarray]:
    """``(left, right)``, each ``(units,)``: fraction of rows of ``gate`` ``(T, units)`` below ``low`` / above ``high``."""
    if len(gate) == 0:
        raise RnnlensError("no time steps to measure saturation on: give a longer text")
    left = np.zeros(gate.shape[1], np.int64)
    right = np.zeros(gate.shape[1], np.int64)
    for start in range(0, len(gate), ROW_BLOCK):
        block = np.asarray(gate[start:start + ROW_BLOCK])
        left += np.count_nonzero(block < low, axis=0)
        right += np.count_nonzero(block > high, axis=0)
    return left / len(gate), right / len(gate)


@dataclass
class GateSaturation(Result):
    """Left/right saturation fractions per (layer, gate) as ``(units,)`` arrays."""

    name = "saturation"
    layers: list[int]
    gates: list[str]
    left: dict[tuple[int, str], np.ndarray]
    right: dict[tuple[int, str], np.ndarray]
    low: float
    high: float
    info: dict

    def rows(self) -> list[dict]:
        """Per layer and gate: mean fractions and how many units are mostly shut or open (> 50% of steps)."""
        rows = []
        for (layer, gate), left in self.left.items():
            right = self.right[(layer, gate)]
            rows.append({"layer": layer, "gate": gate, "units": len(left),
                         "mean_left": float(left.mean()), "mean_right": float(right.mean()),
                         "mostly_left": int((left > 0.5).sum()), "mostly_right": int((right > 0.5).sum())})
        return rows

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "gates": self.gates, "layers": self.layers, "info": self.info,
                "summary": self.rows()}

    def summary(self) -> str:
        lines = [f"{'layer':>5} {'gate':<12} {'units':>5} {'mean <' + str(self.low):>9} {'mean >' + str(self.high):>9} "
                 f"{'>50% left':>9} {'>50% right':>10}", "-" * 66]
        for r in self.rows():
            lines.append(f"{r['layer']:>5} {r['gate']:<12} {r['units']:>5} {r['mean_left']:>9.3f} "
                         f"{r['mean_right']:>9.3f} {r['mostly_left']:>9} {r['mostly_right']:>10}")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """saturation.csv (every unit), saturation.png and .svg."""
        rows = [[layer, gate, unit, float(l), float(r)]
                for (layer, gate), left in self.left.items()
                for unit, (l, r) in enumerate(zip(left, self.right[(layer, gate)]))]
        write_csv(out / "saturation.csv", ["layer", "gate", "unit", "left_saturated", "right_saturated"], rows)
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
    """Saturation fractions of every gate unit of every layer over the whole trace (the gates the trace names)."""
    FRACTION.check("low", low)
    FRACTION.check("high", high)
    if low >= high:
        raise RnnlensError(f"low {low} must be below high {high}: a gate is left-saturated below low, "
                           "right-saturated above high")
    gates = trace.gates()
    if not gates:
        raise RnnlensError(f"{trace.info.get('model_description', 'this model')} has no gates; "
                           "gate saturation needs an LSTM or a GRU")
    left, right = {}, {}
    for layer in trace.layers:
        for gate in gates:
            left[(layer, gate)], right[(layer, gate)] = saturation_fractions(trace[layer_key(layer, gate)], low, high)
    info = {k: trace.info[k] for k in ("model", "model_description", "text") if k in trace.info}
    return GateSaturation(trace.layers, gates, left, right, low, high, info)

