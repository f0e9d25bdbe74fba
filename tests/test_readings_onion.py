"""The reading of Figure 6 on hand-made results."""

from __future__ import annotations

from rnnlens.report.build import paper_numbers
from rnnlens.report.readings import Context, read_onion


def context(results: dict | None = None) -> Context:
    return Context("war-and-peace", paper_numbers(), results or {})


def onion(model_name: str, chars: int, removed: dict[str, int], unexplained: int) -> dict:
    errors = sum(removed.values()) + unexplained
    return {"model": model_name, "chars": chars, "errors": errors, "error_rate": errors / chars, "unexplained": unexplained,
            "slices": [{"oracle": k, "name": k, "removed": v, "share": v / errors} for k, v in removed.items()]}


def test_onion_reading_compares_error_rates_shares_and_scaling_with_the_paper():
    small = onion("small", 1000, {"n-gram": 200, "memory": 30, "rare words": 40, "word model": 200}, 90)  # 560
    big = onion("big", 1000, {"n-gram": 80, "memory": 25, "rare words": 38, "word model": 155}, 122)  # 420
    scaling = [{"oracle": "n-gram", "removed_by_big": 150}, {"oracle": "word model", "removed_by_big": 40}]
    findings = read_onion([{"models": [small, big], "scaling": scaling}], context()).findings
    rates = {f.claim: f for f in findings}
    assert rates["error rate of the small model (small)"].verdict == "holds"
    assert "56.0% against the paper's 56.0% (+0.0 points)" in rates["error rate of the small model (small)"].ours
    share = rates["share of big's errors explained by the n-gram oracle"]
    assert share.verdict == "holds" and "19.0% against the paper's 18.0% (+1.0 points)" in share.ours
    word = rates["share of big's errors explained by the word model oracle"]
    assert "36.9% against the paper's 37.0%" in word.ours
    scale = rates["scaling up removes mostly n-gram errors"]
    assert scale.verdict == "holds"
    assert "removes 190 of the small one's errors, 150 of them n-gram errors (of the small one's 200)" in scale.ours
