"""The reading of Figure 3 on hand-made results."""

from __future__ import annotations

from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_saturation


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def test_saturation_reading_compares_layers_and_counts_integrating_forget_gates_as_a_share():
    def gate(layer, name, units, left, right, mostly_right):
        return {"layer": layer, "gate": name, "units": units, "mean_left": left, "mean_right": right,
                "mostly_left": 0, "mostly_right": mostly_right}
    rows = [gate(1, "forget_gate", 10, .1, .1, 0), gate(1, "input_gate", 10, .1, .1, 0),
            gate(2, "forget_gate", 40, .1, .3, 8), gate(2, "input_gate", 40, .3, .2, 0)]
    result = {"summary": rows, "low": 0.1, "high": 0.9, "info": {"model": {"run_dir": "runs/lstm-l2"}}}
    diffuse, integrators = read_saturation([result], context()).findings
    assert diffuse.verdict == "holds" and "1: 0.200, 2: 0.450" in diffuse.ours  # (0.2 + 0.2) / 2, (0.4 + 0.5) / 2
    assert integrators.verdict == "holds"
    assert integrators.ours.startswith("8 of 40 forget-gate units of layers 2+ (20%)")
    assert "their mean fraction above it is 0.300" in integrators.ours
    rows[2] = gate(2, "forget_gate", 40, .1, .3, 0)
    assert read_saturation([result], context()).findings[1].verdict == "differs"
