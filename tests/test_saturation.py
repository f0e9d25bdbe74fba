"""Gate saturation: fractions on known gate values, every gate of every layer, the command's files."""

import json

import numpy as np
import pytest

from rnnlens.analyses.gate_saturation import gate_saturation, saturation_fractions
from rnnlens.cli import main
from rnnlens.errors import RnnlensError
from rnnlens.models.trace import Trace
from test_trace import run_dir  # noqa: F401  (the fixture: a run directory with a random 2-layer LSTM)


def test_fractions_count_strictly_below_and_above_the_thresholds():
    gate = np.array([[0.05, 0.5], [0.1, 0.95], [0.0, 0.9], [0.95, 1.0]], dtype=np.float32)
    left, right, _ = saturation_fractions(gate)
    assert left.tolist() == [0.5, 0.0]  # 0.05 and 0.0; 0.1 itself is not below 0.1
    assert right.tolist() == [0.25, 0.5]  # 0.95; 0.95 and 1.0, but not 0.9
    left, right, _ = saturation_fractions(gate, low=0.6, high=0.99)
    assert left.tolist() == [0.75, 0.25] and right.tolist() == [0.0, 0.25]


def test_the_error_of_a_right_fraction_comes_from_its_blocks_of_steps():
    gate = np.full((300, 3), 0.5, np.float32)
    gate[:100, 0] = 0.95  # all of the first block, none of the others
    gate[::2, 1] = 0.95  # every other step: each block at half
    gate[250:, 2] = 0.95  # half of the last block
    _, right, error = saturation_fractions(gate)
    assert right.tolist() == pytest.approx([1 / 3, 0.5, 1 / 6])
    # batch means (1, 0, 0), (.5, .5, .5), (0, 0, .5): standard deviation over 3 blocks (ddof 1) / sqrt(3)
    assert error.tolist() == pytest.approx([np.std([1, 0, 0], ddof=1) / np.sqrt(3), 0, np.std([0, 0, .5], ddof=1)
                                            / np.sqrt(3)])
    assert np.isnan(saturation_fractions(gate[:100])[2]).all()  # one block: no error


def test_every_gate_of_every_layer_is_measured():
    rng = np.random.default_rng(0)
    always_open = np.full((100, 3), 0.97, np.float32)
    half_shut = np.where(np.arange(100)[:, None] < 50, 0.01, 0.5).astype(np.float32) * np.ones((1, 3), np.float32)
    arrays = {f"layer{k}.{g}": rng.uniform(0.2, 0.8, (100, 3)).astype(np.float32)
              for k in (1, 2) for g in ("update_gate", "reset_gate")}
    arrays["layer2.reset_gate"] = always_open
    arrays["layer1.update_gate"] = half_shut
    trace = Trace(arrays, "x" * 101, {"gates": sorted(arrays)})
    result = gate_saturation(trace)
    assert set(result.left) == {(k, g) for k in (1, 2) for g in ("update_gate", "reset_gate")}
    assert result.right[(2, "reset_gate")].tolist() == [1.0] * 3
    assert result.left[(1, "update_gate")].tolist() == [0.5] * 3
    assert result.left[(1, "reset_gate")].tolist() == [0.0] * 3
    rows = {(r["layer"], r["gate"]): r for r in result.rows()}
    assert rows[(2, "reset_gate")]["mostly_right"] == 3 and rows[(1, "update_gate")]["mostly_left"] == 0
    assert rows[(2, "reset_gate")]["mean_right_of_mostly_right"] == 1.0  # the mostly-right units' own mean
    assert rows[(1, "update_gate")]["mean_left_of_mostly_left"] is None  # at 0.5, no unit is mostly left
    saved = result.to_dict()
    assert saved["integrators"] is None  # a GRU has no forget gate
    first = saved["first_layer"]
    # layer 1: update gates 0.5 saturated, reset gates 0; layer 2: reset gates 1, update gates 0 (0.2-0.8)
    assert first["first_mean"]["estimate"] == pytest.approx(0.25) and first["deeper_mean"]["estimate"] == 0.5
    assert first["difference"]["estimate"] == pytest.approx(0.25) and first["difference"]["count"] == 12
    assert first["mostly_saturated"]["update_gate"]["estimate"] == 0  # half the steps is not most

    figure = result.plot()
    axes = figure.get_axes()
    assert len(axes) == 4  # one row per gate type, one panel per layer
    diagonal = axes[0].get_lines()[0].get_xydata()
    assert diagonal.tolist() == [[0, 1], [1, 0]]  # x + y = 1


def test_a_vanilla_rnn_has_no_gates_to_measure():
    trace = Trace({"layer1.hidden": np.zeros((5, 2), np.float32)}, "abcdef", {"gates": []})
    with pytest.raises(RnnlensError, match="no gates"):
        gate_saturation(trace)


def test_saturation_command_writes_csv_json_and_both_figures(run_dir, tmp_path, capsys):  # noqa: F811
    out, corpus = run_dir
    assert main(["saturation", str(out), "--split", "val", "--out", str(tmp_path / "sat")]) == 0
    table = capsys.readouterr().out
    assert "forget_gate" in table and "output_gate" in table
    saved = json.loads((tmp_path / "sat" / "saturation.json").read_text())
    summary = saved["summary"]
    assert len(summary) == 2 * 3
    assert saved["integrators"]["units"] == 16 and saved["integrators"]["layers"] == [2]
    assert saved["first_layer"]["difference"]["count"] == 2 * 3 * 16
    lines = (tmp_path / "sat" / "saturation.csv").read_text().splitlines()
    assert lines[0] == "layer,gate,unit,left_saturated,right_saturated,right_saturated_error"
    assert len(lines) == 1 + 2 * 3 * 16
    values = np.array([[float(x) for x in line.split(",")[3:5]] for line in lines[1:]])
    assert (values >= 0).all() and (values.sum(axis=1) <= 1).all() and values[:, 1].max() > 0
    assert (tmp_path / "sat" / "saturation.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "sat" / "saturation.svg").read_bytes()[:500]
