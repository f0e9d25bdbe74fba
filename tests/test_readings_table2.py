"""The reading of Table 2 on hand-made results."""

from __future__ import annotations

from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_table2


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def row(family: str, n: int, nats: float) -> dict:
    return {"family": family, "context": n, "nats": nats, "std": 0.01}


def test_table2_reading_sets_our_20_gram_and_best_network_against_the_paper():
    table = {"split": "test", "rows": [row("n-gram", 1, 2.40), row("n-NN", 1, 2.43), row("n-gram", 2, 1.90),
                                       row("n-NN", 2, 2.10), row("n-gram", 20, 1.30)]}
    compare = {"models": [{"name": "lstm2", "nats": 1.25}, {"name": "rnn1", "nats": 1.40}]}
    findings = read_table2([table], context({"compare": [compare]})).findings
    twenty, small, best = findings
    assert twenty.verdict == "differs" and "1.300 against the paper's 1.195 (+0.105)" in twenty.ours
    assert small.verdict == "differs" and "n=1: n-NN +0.030" in small.ours and "n=2: n-NN +0.200" in small.ours
    assert best.verdict == "holds" and "lstm2 1.250 against the 20-gram's 1.300 (ahead by 0.050)" in best.ours
    assert best.paper == "paper: 1.077 against 1.195"
    table["rows"][1] = row("n-NN", 1, 2.3999)  # 0.0001 ahead: shown as +0.000, never -0.000
    assert "n=1: n-NN +0.000," in read_table2([table], context({"compare": [compare]})).findings[1].ours
