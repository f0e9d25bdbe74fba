"""Table 2: n-gram and n-NN baselines, the 20-gram against the paper, the best network against the 20-gram."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, signed, against, LOSS_TOLERANCE


def read_table2(results: list[dict], ctx: Context) -> Reading:
    table = results[0]
    by = {(r["family"], r["context"]): r for r in table["rows"]}
    contexts = sorted({r["context"] for r in table["rows"]})
    rows = [[str(n), *(f"{by[(f, n)]['nats']:.3f} ± {by[(f, n)]['std']:.3f}" if (f, n) in by else "-"
                       for f in ("n-gram", "n-NN"))] for n in contexts]
    reading = Reading([Table(f"{table['split']} loss, nats/char ± bootstrap std", ["n", "n-gram", "n-NN"], rows)])
    if ("n-gram", 20) in by:
        verdict, words = against(by[("n-gram", 20)]["nats"], ctx.paper_value("table2", "ngram20"), LOSS_TOLERANCE)
        reading.findings.append(Finding("the 20-gram's test loss", verdict, words))
    small = [n for n in contexts if n <= 3 and ("n-gram", n) in by and ("n-NN", n) in by]
    if small:
        gaps = {n: by[("n-NN", n)]["nats"] - by[("n-gram", n)]["nats"] for n in small}
        worst = max(gaps.values(), key=abs)
        reading.findings.append(Finding(
            "n-gram and n-NN models of the same small n (at most 3) are close", 
            "holds" if abs(worst) <= LOSS_TOLERANCE else "differs",
            ", ".join(f"n={n}: n-NN {signed(g)}" for n, g in gaps.items()) + f" against the n-gram (tolerance "
            f"{LOSS_TOLERANCE})"))
    best = best_model(ctx)
    if best is not None and ("n-gram", 20) in by:
        gain = by[("n-gram", 20)]["nats"] - best["nats"]
        paper_best = ctx.paper_value("table2", "best_rnn")
        paper = "" if paper_best is None else f"paper: {paper_best} against {ctx.paper_value('table2', 'ngram20')}"
        reading.findings.append(Finding(
            "the best recurrent network beats the 20-gram", "holds" if gain > 0 else "differs",
            f"{best['name']} {best['nats']:.3f} against the 20-gram's {by[('n-gram', 20)]['nats']:.3f} "
            f"({'ahead' if gain > 0 else 'behind'} by {abs(gain):.3f})", paper))
    return reading


def best_model(ctx: Context) -> dict | None:
    """The recurrent model of lowest loss in Figure 1's comparison, when it was run."""
    models = [m for r in ctx.results.get("compare", []) for m in r["models"]]
    return min(models, key=lambda m: m["nats"]) if models else None
