"""The reading of Figure 3: on hand-made results, and on synthetic gates with and without the paper's effects."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from rnnlens.analyses.gate_saturation import gate_saturation
from rnnlens.analyses.intervals import Interval, binomial_interval
from rnnlens.models.trace import Trace
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_saturation
from test_readings_cells import autocorrelated

GATES = ("input_gate", "forget_gate", "output_gate")
SEEDS = 200


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


CONTEXT = context()


def row(layer, gate, units, left, right, mostly_left=0, mostly_right=0, of_left=None, of_right=None):
    return {"layer": layer, "gate": gate, "units": units, "mean_left": left, "mean_right": right,
            "mostly_left": mostly_left, "mostly_right": mostly_right,
            "mean_left_of_mostly_left": of_left, "mean_right_of_mostly_right": of_right}


def first_layer(difference: Interval, mostly: dict[str, tuple[int, int]]) -> dict:
    return {"layer": 1, "deeper": [2], "rare_bound": 0.5, "difference": difference.to_dict(),
            "first_mean": Interval(0.2, 0.18, 0.22, 147, "bootstrap over units").to_dict(),
            "deeper_mean": Interval(0.5, 0.45, 0.55, 147, "bootstrap over units").to_dict(),
            "mostly_saturated": {gate: binomial_interval(*counts).to_dict() for gate, counts in mostly.items()}}


def integrators(surely: int, surely_not: int, units: int = 49, mostly: int = 9, mean: float | None = 0.819) -> dict:
    return {"gate": "forget_gate", "layers": [2], "units": units, "surely_mostly_right": surely,
            "surely_not_mostly_right": surely_not, "share": binomial_interval(surely, units).to_dict(),
            "clearest": Interval(0.93, 0.88, 0.98, 40_000, "batch means").to_dict(), "mostly_right": mostly,
            "mean_right_of_mostly_right": mean, "test": "a unit is right-saturated on most steps when ..."}


def hand_made(first: dict | None, found: dict | None) -> dict:
    rows = [row(1, "forget_gate", 49, .1, .1), row(1, "input_gate", 49, .05, .6, 0, 31, None, .74),
            row(2, "forget_gate", 49, .05, .289, 0, 9, None, .819)]
    return {"summary": rows, "low": 0.1, "high": 0.9, "info": {"model": {"run_dir": "runs/lstm-l2"}},
            "first_layer": first, "integrators": found}


def test_the_integrators_are_counted_by_a_per_unit_test_and_their_own_mean_is_said():
    # the issue: 9 of 49 forget-gate units mostly right-saturated, their own mean 0.819 (0.289 is all 49 units')
    result = hand_made(None, integrators(surely=6, surely_not=30))
    result["first_layer"] = first_layer(Interval(0.3, 0.25, 0.35, 294, "bootstrap over units"),
                                        {g: (0, 49) for g in GATES})
    reading = read_saturation([result], context())
    diffuse, found = reading.findings
    assert found.verdict == "holds" and found.why == ""
    assert found.ours.startswith("6 of 49 (12.2%, 95% CI 4.6% to 24.8%) forget-gate units of layer 2 are above 0.9 "
                                 "on most steps by a per-unit test; 9 are by point estimate, their mean fraction "
                                 "above 0.9 is 0.819; the clearest unit: 0.930, 95% CI [0.880, 0.980], 40,000 steps")
    assert found.numbers["share"]["low"] > 0 and found.numbers["mean_right_of_mostly_right"] == 0.819
    assert "0.289" not in found.ours
    table = reading.tables[0]
    assert table.rows[2][-1] == "9 (mean 0.819)" and table.rows[0][-1] == "0"

    result["integrators"] = integrators(surely=0, surely_not=40)
    undecided = read_saturation([result], context()).findings[1]
    assert undecided.verdict == "cannot say" and undecided.why == "no unit's interval lies above 0.5, and 9 reach it"
    result["integrators"] = integrators(surely=0, surely_not=49, mostly=0, mean=None)
    none = read_saturation([result], context()).findings[1]
    assert none.verdict == "differs" and none.why.startswith("every unit's interval lies below 0.5; smaller models")
    assert "0 are by point estimate;" in none.ours


def test_a_first_layer_less_saturated_than_deeper_ones_yet_mostly_saturated_is_not_diffuse():
    # the issue: the comparison held while 31 of 49 first-layer input gates were mostly right-saturated
    mostly = {"input_gate": (31, 49), "forget_gate": (2, 49), "output_gate": (0, 49)}
    result = hand_made(first_layer(Interval(0.12, 0.08, 0.16, 294, "bootstrap over units"), mostly), None)
    diffuse = read_saturation([result], context()).findings[0]
    assert diffuse.verdict == "partly"  # the comparison holds, the input gates are not rarely saturated
    assert diffuse.why == "layer 1 input gates: 31 of 49 (63.3%, 95% CI 48.3% to 76.6%) mostly saturated, not surely " \
                          "below 50.0%"
    assert "+0.120, 95% CI [+0.080, +0.160], 294 units" in diffuse.ours
    assert diffuse.numbers["mostly_saturated"]["input_gate"]["estimate"] == 31 / 49

    mostly["input_gate"] = (40, 49)
    result["first_layer"] = first_layer(Interval(-0.02, -0.06, 0.02, 294, "bootstrap over units"), mostly)
    diffuse = read_saturation([result], context()).findings[0]
    assert diffuse.verdict == "cannot say"  # the comparison cannot say, the input gates differ
    assert diffuse.why.startswith("deeper layers less the first: the interval covers both directions; layer 1 input "
                                  "gates: 40 of 49 (81.6%, 95% CI 68.0% to 91.2%) mostly saturated, above 50.0%")

    mostly["input_gate"] = (3, 49)
    result["first_layer"] = first_layer(Interval(0.12, 0.08, 0.16, 294, "bootstrap over units"), mostly)
    assert read_saturation([result], context()).findings[0].verdict == "holds"


def test_one_layer_cannot_be_compared():
    result = hand_made(None, None)
    (finding,) = read_saturation([result], context()).findings
    assert finding.verdict == "cannot say" and "one layer" in finding.ours


def gate_values(rng, right: np.ndarray, left: np.ndarray, steps: int) -> np.ndarray:
    """``(steps, units)`` gates above 0.9 on a share ``right`` of the steps and below 0.1 on ``left``, in runs."""
    normal = autocorrelated(rng, steps, len(right))
    values = np.full(normal.shape, 0.5, np.float32)
    values[normal > norm.ppf(1 - right)] = 0.95
    values[normal < norm.ppf(left)] = 0.05
    return values


def synthetic_reading(seed: int, right_of, units: int = 10, steps: int = 3000):
    """The reading of a 2-layer LSTM's synthetic gates; ``right_of(rng, layer, gate)`` draws each unit's share
    of steps above 0.9 (and as many steps again below 0.1, times a uniform draw, stays under 1)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for layer in (1, 2):
        for gate in GATES:
            right = right_of(rng, layer, gate)
            arrays[f"layer{layer}.{gate}"] = gate_values(rng, right, (1 - right) * rng.uniform(0, 0.3, units), steps)
    trace = Trace(arrays, "x" * (steps + 1), {"gates": list(arrays)})
    return read_saturation([gate_saturation(trace).to_dict()], CONTEXT).findings


def test_diffuse_first_layer_holds_rarely_without_a_difference_and_nearly_always_with_one():
    same = [synthetic_reading(seed, lambda rng, layer, gate: rng.uniform(0, 0.4, 10))[0].verdict
            for seed in range(SEEDS)]
    effect = [synthetic_reading(seed, lambda rng, layer, gate: rng.uniform(0, 0.2, 10) if layer == 1
                                else rng.uniform(0.3, 0.9, 10))[0].verdict for seed in range(SEEDS)]
    assert same.count("holds") <= 0.05 * SEEDS  # measured 4 of 200
    assert effect.count("holds") >= 0.95 * SEEDS  # measured 200 of 200


def test_integrators_hold_rarely_when_every_unit_is_saturated_half_the_time_and_nearly_always_with_two():
    def half(rng, layer, gate):
        return np.full(10, 0.5)  # the worst case of no integrator: every unit exactly at half the steps

    def two(rng, layer, gate):
        right = rng.uniform(0, 0.4, 10)
        right[:2] = 0.8 if (layer, gate) == (2, "forget_gate") else right[:2]
        return right

    null = [synthetic_reading(seed, half)[1].verdict for seed in range(SEEDS)]
    effect = [synthetic_reading(seed, two)[1].verdict for seed in range(SEEDS)]
    assert null.count("holds") <= 0.05 * SEEDS  # measured 0 of 200
    assert effect.count("holds") >= 0.95 * SEEDS  # measured 200 of 200
