"""The reading of Figure 1 on hand-made results."""

from __future__ import annotations

from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_compare


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def model(kind: str, layers: int, nats: float, column: str = "50K") -> dict:
    return {"name": f"{kind.lower()}{layers}", "type": kind, "layers": layers, "params": 50000, "column": column,
            "nats": nats, "std": 0.01}


def test_compare_reading_checks_depth_families_and_agreement():
    models = [model("LSTM", 1, 1.50), model("LSTM", 2, 1.40), model("GRU", 1, 1.52), model("GRU", 2, 1.53),
              model("RNN", 1, 1.80), model("RNN", 2, 1.70)]
    agreement = [[1.0, .9, .9, .9, .5, .5], [.9, 1.0, .9, .9, .5, .5], [.9, .9, 1.0, .9, .5, .5],
                 [.9, .9, .9, 1.0, .5, .5], [.5, .5, .5, .5, 1.0, .8], [.5, .5, .5, .5, .8, 1.0]]
    reading = read_compare([{"models": models, "agreement": agreement, "text": {"source": "t", "chars": 10}}],
                           context())
    depth, family, apart = reading.findings
    assert depth.verdict == "partly" and depth.ours.startswith("deeper is better in 2 of 3")
    assert family.verdict == "holds" and family.ours.startswith("both ahead of the RNN in 2 of 2 (closer to each "
                                                                 "other than to it in 2): 1 layer 50K: LSTM 1.500")
    assert apart.verdict == "holds" and "among LSTMs and GRUs 0.900, between them and the RNNs 0.500" in apart.ours
    assert reading.tables[0].rows[1] == ["LSTM 2", "1.400 ± 0.010"]
