"""Table 2: the 20-gram against the paper, n-gram and n-NN of the same small n, the best network against the
20-gram; each decided from an interval.

- **The 20-gram's loss** holds when its interval (bootstrap over positions
  in blocks) lies within ``LOSS_TOLERANCE`` of the paper's (``near``).
- **Close** holds when, for every n of at most ``SMALL_N``, the paired
  interval of the n-NN's loss less the n-gram's lies within plus or minus
  ``LOSS_TOLERANCE``; it differs for an n where it lies wholly beyond.
- **The best network beats the 20-gram** reads the paired loss difference
  the advantage analysis (Figure 4 right) saved: holds when its whole
  interval shows the network ahead, differs when it shows the 20-gram ahead.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import MIN_COUNT, Interval
from rnnlens.report.readings.common import (LOSS_TOLERANCE, Context, Finding, Reading, Table, against_paper, combine,
                                            near, signed)

SMALL_N = 3
NGRAM, NNN = "n-gram", "n-NN"


def read_table2(results: list[dict], ctx: Context) -> Reading:
    table = results[0]
    by = {(r["family"], r["context"]): r for r in table["rows"]}
    contexts = sorted({r["context"] for r in table["rows"]})
    rows = [[str(n), *(loss_words(by[(f, n)]) if (f, n) in by else "-" for f in (NGRAM, NNN))] for n in contexts]
    reading = Reading([Table(f"{table['split']} loss, nats/char [95% interval]", ["n", NGRAM, NNN], rows)])
    twenty = by.get((NGRAM, 20))
    if twenty is not None:
        reading.findings.append(against_paper("the 20-gram's test loss", Interval.from_dict(twenty["interval"]),
                                              ctx.paper_value("table2", "ngram20"), LOSS_TOLERANCE, ctx,
                                              cases="positions"))
    small = [n for n in contexts if n <= SMALL_N and (NGRAM, n) in by and (NNN, n) in by]
    if small:
        reading.findings.append(close_finding(table["differences"], small, ctx))
    reading.findings.append(best_finding(twenty, ctx))
    return reading


def loss_words(row: dict) -> str:
    loss = Interval.from_dict(row["interval"])
    return f"{loss.estimate:.3f} [{loss.low:.3f}, {loss.high:.3f}]"


def close_finding(differences: list[dict], small: list[int], ctx: Context) -> Finding:
    """n-gram and n-NN of each n in ``small``: the paired difference within ``LOSS_TOLERANCE`` of 0."""
    entries = {n: next(e for e in differences if e["context"] == n and set(e["families"]) == {NGRAM, NNN})
               for n in small}
    gaps = {n: Interval.from_dict(e["loss_difference"]) for n, e in entries.items()}
    verdicts = {n: close(gap) for n, gap in gaps.items()}
    verdict = combine([v for v, _ in verdicts.values()])
    why = "; ".join(f"n={n}: {reason}" for n, (v, reason) in verdicts.items() if v != "holds")
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    example = next(iter(gaps.values()))
    return Finding(
        f"n-gram and n-NN models of the same small n (at most {SMALL_N}) are close", verdict,
        ", ".join(f"n={n}: {' - '.join(entries[n]['families'])} {signed(g.estimate)} [{signed(g.low)}, "
                  f"{signed(g.high)}]" for n, g in gaps.items()) + f" nats/char over {example.count:,} positions", "",
        {f"n={n}": g.to_dict() for n, g in gaps.items()},
        f"{round(100 * example.level)}% interval of the paired loss difference by {example.method}; holds when "
        f"every n's lies within plus or minus {LOSS_TOLERANCE:g} nats/char", why)


def close(gap: Interval) -> tuple[str, str]:
    """The verdict on a paired loss difference the paper says is about 0."""
    if gap.count < MIN_COUNT:
        return "cannot say", f"only {gap.count:,} positions, fewer than {MIN_COUNT}"
    verdict, _ = near(gap, 0.0, LOSS_TOLERANCE)
    return verdict, {"holds": "", "differs": f"the interval lies wholly beyond {LOSS_TOLERANCE:g}",
                     "cannot say": f"the interval reaches both within and beyond {LOSS_TOLERANCE:g}"}[verdict]


def best_finding(twenty: dict | None, ctx: Context) -> Finding:
    """The best network against the 20-gram, from the advantage analysis's paired loss difference."""
    advantage = (ctx.results.get("advantage") or [{}])[0]
    network, ngram = (advantage.get("models") or ["the best recurrent network", "the 20-gram"])[:2]
    claim = f"the best recurrent network ({network}) beats the 20-gram ({ngram})"
    paper_best, paper_twenty = ctx.paper_value("table2", "best_rnn"), ctx.paper_value("table2", "ngram20")
    paper = "" if paper_best is None else f"paper: {paper_best} against {paper_twenty}"
    losses = model_losses(network, twenty, ctx)
    if "loss_difference" not in advantage:
        why = ("the advantage analysis (Figure 4 right) was not run" if not ctx.results.get("advantage") else
               "the advantage result holds no paired loss difference (an older rnnlens wrote it)")
        return Finding(claim, "cannot say", losses or "no paired loss difference", paper, why=why)
    gap = Interval.from_dict(advantage["loss_difference"])
    if gap.count < MIN_COUNT:
        verdict, why = "cannot say", f"only {gap.count:,} positions, fewer than {MIN_COUNT}"
    elif gap.below(0):
        verdict, why = "holds", ""
    elif gap.above(0):
        verdict, why = "differs", f"the 20-gram is ahead; {ctx.why_differs()}"
    else:
        verdict, why = "cannot say", "the interval covers both directions"
    ours = f"{network} - {ngram}: {gap.words(unit=' nats/char', cases='positions')}" + (f" ({losses})" if losses else "")
    return Finding(claim, verdict, ours, paper, {"loss_difference": gap.to_dict()},
                   f"{round(100 * gap.level)}% interval of {network}'s loss less {ngram}'s by {gap.method}; holds "
                   "when it lies wholly below 0 (the network ahead)", why)


def model_losses(network: str, twenty: dict | None, ctx: Context) -> str:
    """The two models' losses with their intervals, where the comparison and the table give them."""
    found = [m for r in ctx.results.get("compare", []) for m in r.get("models", []) if m.get("name") == network]
    parts = [f"{network} {loss_words(found[0])}" if found and "interval" in found[0] else "",
             f"20-gram {loss_words(twenty)}" if twenty is not None else ""]
    return ", ".join(p for p in parts if p)
