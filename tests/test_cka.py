"""Linear CKA against the HSIC formula written out, its invariances, and the command."""

import json

import numpy as np
import pytest

from rnnlens.analyses.cka import cka_matrix, linear_cka
from in_process import refused, rnnlens
from test_trace import run_dir  # noqa: F401  (the fixture: a run directory with a random 2-layer LSTM)


def hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA from n x n kernels: HSIC(K, L) = tr(K H L H) / (n - 1)^2, H the centring matrix (Kornblith eq. 3)."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h) / (n - 1) ** 2

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)) + 5  # an offset that centring must remove
    y = np.tanh(x[:, :5] @ rng.normal(size=(5, 12))) + 0.3 * rng.normal(size=(300, 12))
    return x, y


def test_cka_equals_the_hsic_formula_written_out(pair):
    x, y = pair
    expected = hsic_cka(x, y)
    assert 0.2 < expected < 0.95
    assert linear_cka(x, y) == pytest.approx(expected, abs=1e-10)


def test_cka_is_one_with_itself_and_invariant_to_rotation_and_isotropic_scaling(pair):
    x, y = pair
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(12, 12)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.7 * y @ rotation) == pytest.approx(linear_cka(x, y), abs=1e-12)
    stretched = y * np.linspace(0.1, 5, 12)  # not isotropic: CKA must see it
    assert abs(linear_cka(x, stretched) - linear_cka(x, y)) > 0.01


def test_the_matrix_is_symmetric_and_nan_for_a_constant_representation(pair):
    x, y = pair
    matrix = cka_matrix([x, y, np.ones((300, 3))])
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(hsic_cka(x, y))
    assert np.isnan(matrix[2]).all() and np.isnan(matrix[:, 2]).all()


def test_cka_command_labels_keys_and_runs(run_dir, tmp_path):  # noqa: F811
    run, _ = run_dir
    one = rnnlens("cka", run, "--split", "val", "--keys", "hidden", "cell", "--json", "--out", tmp_path / "one")
    assert one.code == 0, one.err
    result = json.loads(one.out)
    assert result == json.loads((tmp_path / "one" / "cka.json").read_text())
    assert result["labels"] == ["layer1.hidden", "layer1.cell", "layer2.hidden", "layer2.cell"]
    matrix = np.array(result["matrix"])
    assert matrix.shape == (4, 4) and np.allclose(np.diag(matrix), 1) and np.allclose(matrix, matrix.T)
    two = rnnlens("cka", run, run, "--names", "a", "b", "--split", "val", "--json", "--out", tmp_path / "two")
    result = json.loads(two.out)
    assert result["labels"] == ["a:layer1.hidden", "a:layer2.hidden", "b:layer1.hidden", "b:layer2.hidden"]
    assert np.array(result["matrix"])[0, 2] == pytest.approx(1.0)  # the same model twice
    assert (tmp_path / "two" / "cka.png").stat().st_size > 0


def test_cka_refuses_snapshots_a_run_did_not_keep(run_dir, tmp_path):  # noqa: F811
    run, _ = run_dir
    refused(rnnlens("cka", run, "--snapshots", "--out", tmp_path / "out"), "cka", "kept no snapshots.*--snapshot-every")
    assert not (tmp_path / "out").exists()
