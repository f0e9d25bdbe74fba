"""The reading of Figure 5 (right), which n-NN a run resembles as it trains: on hand-made results, and on
synthetic distributions with no effect and with a clear one, through the analysis itself."""

from __future__ import annotations

import numpy as np

from rnnlens.analyses.intervals import Interval
from rnnlens.analyses.training_dynamics import training_dynamics
from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_dynamics
from rnnlens.store.predictions import Predictions
from verdict_rates import SEEDS, holds_in
AGAINST = [{"name": "n1", "n": 1}, {"name": "n2", "n": 2}, {"name": "n3", "n": 3}]


def context() -> Context:
    return Context("war-and-peace", paper_numbers(), {})


def snapshot(batch: int, closest: str, runner_up: str, gap: tuple[float, float, float]) -> dict:
    kl = {"n1": 0.3, "n2": 0.3, "n3": 0.3, closest: 0.3 - gap[0]}
    return {"batch": batch, "epoch": batch / 100, "loss": 2.0, "kl": kl, "closest": closest, "runner_up": runner_up,
            "gap": Interval(*gap, 20_000, "paired bootstrap over positions in blocks of 100").to_dict(),
            "decided": gap[1] > 0}


SURE, UNSURE = (0.05, 0.03, 0.07), (0.01, -0.01, 0.03)


def read(snapshots: list[dict]):
    return read_dynamics([{"snapshots": snapshots, "against": AGAINST, "run": "runs/lstm"}], context())


def test_decided_snapshots_of_growing_n_hold_and_undecided_ones_do_not_count():
    snapshots = [snapshot(0, "n1", "n2", SURE), snapshot(50, "n3", "n1", UNSURE), snapshot(100, "n2", "n1", SURE),
                 snapshot(150, "n3", "n2", SURE)]
    reading = read(snapshots)
    (finding,) = reading.findings
    assert finding.verdict == "holds"
    assert finding.ours == "closest n-NN at the 3 of 4 snapshots where it is decided: 1 -> 2 -> 3"
    assert finding.numbers["batch 100: n2 before n1"]["low"] == 0.03 and len(finding.numbers) == 3
    (table,) = reading.tables
    assert table.header == ["batch", "epoch", "loss", "n1", "n2", "n3", "closest", "gap", "decided"]
    assert table.rows[1] == ["50", "0.50", "2.000", "0.300", "0.300", "0.290", "n3", "+0.010 [-0.010, +0.030] to n1",
                             "no"]


def test_a_fall_between_decided_snapshots_differs_and_one_decided_n_cannot_say():
    falls = read([snapshot(0, "n1", "n2", SURE), snapshot(50, "n3", "n2", SURE), snapshot(100, "n2", "n3", SURE)])
    (finding,) = falls.findings
    assert finding.verdict == "differs"
    assert finding.why.startswith("the closest n falls from 3 at batch 50 to 2 at batch 100 (gap +0.050, 95% CI "
                                  "[+0.030, +0.070], 20,000 positions)")
    one = read([snapshot(0, "n1", "n2", SURE), snapshot(50, "n3", "n1", UNSURE), snapshot(100, "n1", "n2", SURE)])
    assert one.findings[0].verdict == "cannot say"
    assert one.findings[0].why == "1 distinct n among the decided snapshots (2 of 3 decided), fewer than two"


def test_a_long_run_shows_sixteen_snapshots_evenly_spaced():
    many = [snapshot(b, "n1", "n2", SURE) for b in range(0, 310, 10)]  # 31 snapshots: 16 shown, 0 and 300 among them
    (table,) = read(many).tables
    assert [row[0] for row in table.rows] == [str(b) for b in (0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220,
                                                               240, 260, 280, 300)]
    assert "(16 of 31, evenly spaced; all in dynamics.csv)" in table.caption


def synthetic(seed: int, effect: float) -> dict:
    """Three references' random distributions over 5 characters at 3,000 positions, and 6 snapshots: each a
    mixture of the references' mean and, with weight ``effect``, the n-NN of n 1, 1, 2, 2, 3, 3 in turn."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 5, 3000)
    identity = {"source": f"synthetic {seed}", "ids_sha256": str(seed), "chars": 3001}

    def predictions(distributions: np.ndarray) -> Predictions:
        return Predictions({}, identity, np.log(distributions[np.arange(3000), targets]), distributions)

    references = rng.dirichlet(np.ones(5), (3, 3000))
    mean = references.mean(axis=0)
    snapshots = []
    for k, n in enumerate((1, 1, 2, 2, 3, 3)):
        noisy = mean * rng.lognormal(0, 0.3, mean.shape)
        mixed = (1 - effect) * noisy / noisy.sum(axis=1, keepdims=True) + effect * references[n - 1]
        snapshots.append(({"weights": f"snapshot-{k}", "batch": 10 * k, "epoch": k / 6}, predictions(mixed)))
    against = {f"n{n}": predictions(references[n - 1]) for n in (1, 2, 3)}
    return training_dynamics(snapshots, against, {f"n{n}": n for n in (1, 2, 3)}, run="synthetic",
                             resamples=300).to_dict()


def test_with_no_effect_the_order_rarely_holds():
    assert holds_in(read_dynamics, lambda seed: synthetic(seed, 0.0), context()) <= 0.05 * SEEDS


def test_with_a_clear_effect_the_order_holds():
    assert holds_in(read_dynamics, lambda seed: synthetic(seed, 0.3), context()) >= 0.95 * SEEDS
