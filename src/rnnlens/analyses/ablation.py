"""Ablation: how much the loss rises when chosen units are replaced, against random units of the same layer.

Each chosen unit is replaced at every position (zeroed, clamped to a value, or
set to its mean over the text) and the loss is measured overall and on the
positions where a text feature holds, and where it ends (the prediction of the
character that closes it: for ``inside_quotes``, the closing quote). As
Lakretz et al. (2019) did for the number units of an LSTM, each chosen unit is
set against ``K`` random units of the same layer and quantity, each replaced
alone the same way: a unit **stands out** on a set of positions when the
lower end of its loss change's 95% interval (paired block bootstrap over
positions) lies above the 95th percentile of the random units' changes; it is
**within random** when the upper end lies below it; otherwise, or on fewer
than ``MIN_COUNT`` positions, **cannot say**.

The model is run through its public interventions (``models/interventions``):
all variants of a hook point side by side in one pass (``rows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.intervals import MIN_COUNT, Interval, difference_interval
from rnnlens.analyses.result import Result
from rnnlens.data.texts import Text
from rnnlens.errors import RnnlensError
from rnnlens.models.interventions import Clamp, Intervention, MeanAblate, ZeroAblate
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store import atomic

OVERALL = "all positions"


@dataclass(frozen=True)
class Replacement:
    """What an ablated unit becomes: ``zero``, ``value`` (a clamp to ``value``) or ``mean`` (over the text)."""

    how: str = "zero"
    value: float = 0.0

    def words(self) -> str:
        return {"zero": "set to 0", "mean": "set to its mean over the text"}.get(self.how, f"clamped to {self.value:g}")

    def intervention(self, units: list[int], rows: list[int], means: np.ndarray | None) -> Intervention:
        if self.how == "zero":
            return ZeroAblate(units=units, rows=rows)
        if self.how == "mean":
            return MeanAblate(units=units, rows=rows, means=[float(means[u]) for u in units])
        return Clamp(units=units, rows=rows, value=self.value)


@dataclass
class SetEffect:
    """One unit's loss change on one set of positions, beside the random units' changes there."""

    positions: int
    baseline_nats: float
    nats: float
    delta: Interval
    random_deltas: np.ndarray

    @property
    def random_p95(self) -> float:
        return float(np.percentile(self.random_deltas, 95)) if len(self.random_deltas) else float("nan")

    @property
    def verdict(self) -> str:
        if self.positions < MIN_COUNT or not len(self.random_deltas) or not np.isfinite(self.delta.low):
            return "cannot say"
        if self.delta.low > self.random_p95:
            return "stands out"
        return "within random" if self.delta.high < self.random_p95 else "cannot say"

    def to_dict(self) -> dict:
        return {"positions": self.positions, "baseline_nats": self.baseline_nats, "nats": self.nats,
                "delta_nats": self.nats - self.baseline_nats, "delta": self.delta.to_dict(),
                "random_p95": self.random_p95 if len(self.random_deltas) else None,
                "random_rank": float(np.mean(self.random_deltas >= self.delta.estimate))
                if len(self.random_deltas) else None, "verdict": self.verdict}


@dataclass
class UnitAblation:
    key: str
    unit: int
    effects: dict[str, SetEffect]  # position set -> effect; OVERALL first

    @property
    def label(self) -> str:
        return f"{self.key}:{self.unit}"


class Ablation(Result):
    """Every chosen unit's loss change on every set of positions, with the random units' changes."""

    name = "ablation"

    def __init__(self, baseline_nats: float, units: list[UnitAblation], random_units: dict[str, list[int]],
                 replacement: Replacement, text: dict, model: dict) -> None:
        self.baseline_nats, self.units, self.random_units = baseline_nats, units, random_units
        self.replacement, self.text, self.model = replacement, text, model

    def to_dict(self) -> dict:
        return {
            "baseline_nats": self.baseline_nats,
            "replacement": {"how": self.replacement.how, "value": self.replacement.value,
                            "words": self.replacement.words()},
            "units": [{"unit": u.label, "nats": u.effects[OVERALL].nats,
                       "delta_nats": u.effects[OVERALL].nats - self.baseline_nats,
                       "feature": {name: e.to_dict() for name, e in u.effects.items()}} for u in self.units],
            "random": {"count": sum(map(len, self.random_units.values())), "units": self.random_units,
                       "rule": "stands out: the unit's loss change (95% CI, paired block bootstrap over positions) "
                               "lies above the 95th percentile of the random units' changes; within random: below "
                               f"it; cannot say otherwise or on fewer than {MIN_COUNT} positions"},
            "text": self.text, "model": self.model,
        }

    def summary(self) -> str:
        lines = [f"baseline {self.baseline_nats:.4f} nats/char; each unit {self.replacement.words()} at every position"]
        for u in self.units:
            for name, e in u.effects.items():
                lines.append(f"{u.label} on {name}: loss change {e.delta.words(4, unit=' nats', cases='positions')}; "
                             f"95th percentile of {len(e.random_deltas)} random units {e.random_p95:+.4f}: {e.verdict}")
        return "\n".join(lines)

    def write_files(self, out_dir: Path) -> None:
        rows = [[u.label, name, e.positions, e.baseline_nats, e.nats, e.delta.estimate, e.delta.low, e.delta.high,
                 e.random_p95, e.verdict] for u in self.units for name, e in u.effects.items()]
        atomic.write_csv(out_dir / "ablation.csv", ["unit", "positions_set", "positions", "baseline_nats", "nats",
                                                    "delta_nats", "delta_low", "delta_high", "random_p95",
                                                    "verdict"], rows)
        figure = self.plot()
        if figure is not None:
            save_figure(figure, out_dir / "ablation.png")

    def plot(self):
        if not self.units:
            return None
        widest = max(len(u.effects) for u in self.units)
        figure = new_figure(figsize=(max(6.0, 1.6 * widest), 3.2 * len(self.units)), layout="constrained")
        for ax, u in zip(figure.subplots(len(self.units), 1, squeeze=False)[:, 0], self.units):
            sets = list(u.effects)
            for x, name in enumerate(sets):
                e = u.effects[name]
                jitter = np.random.default_rng(x).uniform(-0.15, 0.15, len(e.random_deltas))
                ax.scatter(x + jitter, e.random_deltas, s=9, color="0.6", label="random units" if x == 0 else None)
                ax.hlines(e.random_p95, x - 0.25, x + 0.25, color="0.3", linestyles="dashed",
                          label="95th percentile of random" if x == 0 else None)
                ax.errorbar([x], [e.delta.estimate], yerr=[[e.delta.estimate - e.delta.low],
                                                          [e.delta.high - e.delta.estimate]],
                            fmt="D", color="tab:red", label=u.label if x == 0 else None)
            ax.axhline(0, color="0.8", linewidth=0.8)
            ax.set_xticks(range(len(sets)), [f"{n}\n({u.effects[n].positions:,})" for n in sets], fontsize=8)
            ax.set_ylabel("loss change (nats/char)")
            ax.set_title(f"{u.label} {self.replacement.words()}", fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
        return figure


def position_sets(features: dict[str, np.ndarray], positions: int) -> dict[str, np.ndarray]:
    """Boolean masks over rows for each binary feature: where it holds (row ``t`` belongs to ``text[t]``) and
    ``NAME:end``, where it holds and not at the next character (the prediction of the character that ends it)."""
    sets = {}
    for name, values in features.items():
        on = np.asarray(values[:positions + 1]) > 0.5
        sets[name] = on[:positions]
        ends = on[:positions] & ~on[1:positions + 1]
        if not np.array_equal(ends, sets[name]):  # spans of one character end where they hold
            sets[f"{name}:end"] = ends
    return sets


def ablate(predictor, text: Text, units: list[tuple[str, int]], replacement: Replacement = Replacement(),
           sets: dict[str, np.ndarray] | None = None, random_count: int = 50, seed: int = 0,
           means: dict[str, np.ndarray] | None = None,
           sets_of: dict[tuple[str, int], list[str]] | None = None) -> Ablation:
    """Replace each of ``units`` (``(key, unit)``) alone at every position of ``text`` and compare the loss
    with the clean model's and with ``random_count`` random units of each key (``means`` per key for the mean
    replacement); ``sets`` are boolean masks ``(N-1,)`` over positions (``position_sets``), each unit measured
    on all positions and on the sets ``sets_of`` names for it (default: every set)."""
    if not units:
        raise RnnlensError("no units to ablate: name some (KEY:UNIT) or let cells find them (auto)")
    if not getattr(predictor, "supports_interventions", False):
        raise RnnlensError(f"{predictor.description} has no hook points to ablate")
    baseline = -predictor.predict_log_probs(text.ids)
    sets = {OVERALL: np.ones(len(baseline), bool), **(sets or {})}
    rng = np.random.default_rng(seed)
    losses, random_units = {}, {}
    for key in dict.fromkeys(k for k, _ in units):
        chosen = [u for k, u in units if k == key]
        width = predictor.hook_point_units(key)
        pool = np.setdiff1d(np.arange(width), chosen)
        random_units[key] = sorted(int(u) for u in rng.choice(pool, min(random_count, len(pool)), replace=False))
        every = chosen + random_units[key]
        hooks = {key: [replacement.intervention(every, list(range(len(every))), (means or {}).get(key))]}
        rows = -predictor.predict_variant_log_probs(text.ids, hooks, len(every))
        losses[key] = dict(zip(every, rows))
    ablations = []
    for key, unit in units:
        effects = {}
        chosen_sets = [OVERALL, *sets_of[(key, unit)]] if sets_of and (key, unit) in sets_of else list(sets)
        for name, mask in ((n, sets[n]) for n in chosen_sets):
            randoms = np.array([losses[key][r][mask].mean() - baseline[mask].mean() for r in random_units[key]]) \
                if mask.any() else np.zeros(0)
            effects[name] = SetEffect(int(mask.sum()), float(baseline[mask].mean()) if mask.any() else float("nan"),
                                      float(losses[key][unit][mask].mean()) if mask.any() else float("nan"),
                                      difference_interval(losses[key][unit][mask], baseline[mask]), randoms)
        ablations.append(UnitAblation(key, unit, effects))
    return Ablation(float(baseline.mean()), ablations, random_units, replacement, text.identity(),
                    dict(predictor.identity))
