"""Model sizing and shape: the parameter budget solver against the module itself."""

import pytest
import torch

from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import CharRNN, ModelConfig, count_parameters, solve_hidden_size
from rnnlens.models.rnn.trace import compute_trace

PAPER_BUDGETS = {64: 50_000, 128: 130_000, 256: 400_000, 512: 1_300_000}


@pytest.mark.parametrize("model_type", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_parameter_count_matches_the_module(model_type, layers):
    model = CharRNN(ModelConfig(model_type, 87, 37, layers))
    assert count_parameters(model_type, layers, 87, 37) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("hidden, budget", PAPER_BUDGETS.items())
def test_solver_reproduces_the_paper_budgets_for_a_one_layer_lstm(hidden, budget):
    solved = solve_hidden_size("lstm", 1, 87, budget)
    assert abs(count_parameters("lstm", 1, 87, solved) - budget) <= 0.10 * budget
    # the paper's hidden sizes give its budgets within 11%, and the solver lands near them
    assert abs(count_parameters("lstm", 1, 87, hidden) - budget) <= 0.11 * budget
    assert abs(solved - hidden) <= 0.1 * hidden


def test_solver_picks_the_closest_count():
    budget = 400_000
    solved = solve_hidden_size("gru", 2, 82, budget)
    gaps = {h: abs(count_parameters("gru", 2, 82, h) - budget) for h in range(1, 400)}
    assert gaps[solved] == min(gaps.values())


def test_forward_gives_logits_per_position_and_carries_state():
    torch.manual_seed(0)
    model = CharRNN(ModelConfig("lstm", 10, 8, 2)).eval()
    ids = torch.randint(0, 10, (3, 12))
    logits, state = model(ids)
    assert logits.shape == (3, 12, 10) and state[0].shape == (2, 3, 8)
    first, mid = model(ids[:, :5])
    rest, _ = model(ids[:, 5:], mid)
    assert torch.allclose(torch.cat([first, rest], 1), logits, atol=1e-6)


def test_forget_bias_opens_the_forget_gates_of_every_layer_and_nothing_else():
    model = CharRNN(ModelConfig("lstm", 10, 8, 2))
    torch.manual_seed(0)
    model.init_uniform(0.08, forget_bias=2.0)
    trace = compute_trace(model, torch.randint(0, 10, (50,)).numpy(), workers=0)
    for k in (1, 2):  # sigmoid(2 +- small) ~ 0.88; the other gates stay near sigmoid(0) = 0.5
        assert 0.8 < trace[f"layer{k}.forget_gate"].mean() < 0.95
        assert 0.4 < trace[f"layer{k}.input_gate"].mean() < 0.6
        assert 0.4 < trace[f"layer{k}.output_gate"].mean() < 0.6
    with pytest.raises(RnnlensError, match="no forget gate"):
        CharRNN(ModelConfig("gru", 10, 8, 1)).init_uniform(0.08, forget_bias=1.0)
