"""The readings of Figure 5 (brackets, dynamics) on hand-made results."""

from __future__ import annotations

from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_brackets, read_dynamics


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def test_brackets_and_dynamics_readings_follow_distance_and_training():
    buckets = [{"lo": lo, "hi": lo + 19, "count": 50, "mean_prob": {"lstm": a, "20-gram": b}}
               for lo, a, b in ((1, .9, .85), (21, .8, .6), (41, .7, .4))]
    (grows,) = read_brackets([{"pair": "}", "matched": 150, "models": ["lstm", "20-gram"], "buckets": buckets}],
                             context()).findings
    assert grows.verdict == "holds" and "gain +0.050 in the first bin, +0.250 on average after it" in grows.ours
    snapshots = [{"batch": b, "epoch": b / 100, "loss": 2.0, "kl": {}, "closest": c}
                 for b, c in ((0, "n1"), (50, "n1"), (100, "n2"), (150, "n3"))]
    against = [{"name": "n1", "n": 1}, {"name": "n2", "n": 2}, {"name": "n3", "n": 3}]
    for s in snapshots:
        s["kl"] = {"n1": 0.1, "n2": 0.2, "n3": 0.3}
    (order,) = read_dynamics([{"snapshots": snapshots, "against": against, "run": "r"}], context()).findings
    assert order.verdict == "holds" and order.ours == "closest n-NN over training: 1 -> 2 -> 3"
    many = [{**snapshots[0], "batch": b} for b in range(0, 310, 10)]  # 31 snapshots: 16 shown, 0 and 300 among them
    (table,) = read_dynamics([{"snapshots": many, "against": against, "run": "r"}], context()).tables
    assert [row[0] for row in table.rows] == [str(b) for b in (0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220,
                                                               240, 260, 280, 300)]
    assert "(16 of 31, evenly spaced; all in dynamics.csv)" in table.caption
