"""Figure 5 (right): which n-NN a run resembles as it trains."""

from __future__ import annotations

from rnnlens.report.readings.common import Context, Finding, Reading, Table, against, SHOWN_ROWS


def evenly(rows: list, most: int) -> list:
    """At most ``most`` of ``rows``, evenly spaced, the first and the last among them."""
    if len(rows) <= most:
        return rows
    return [rows[round(k * (len(rows) - 1) / (most - 1))] for k in range(most)]


def read_dynamics(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        n_of = {a["name"]: a["n"] for a in result["against"]}
        snapshots = result["snapshots"]
        shown = evenly(snapshots, SHOWN_ROWS)
        note = "" if len(shown) == len(snapshots) else \
            f" ({len(shown)} of {len(snapshots)}, evenly spaced; all in dynamics.csv)"
        reading.tables.append(Table(
            f"{str(result['run']).rsplit('/', 1)[-1]}: symmetric KL (nats) to each n-NN, by snapshot{note}",
            ["batch", "epoch", "loss", *n_of, "closest"],
            [[str(s["batch"]), f"{s['epoch']:.2f}", f"{s['loss']:.3f}", *(f"{s['kl'][n]:.3f}" for n in n_of),
              s["closest"]] for s in shown]))
        order = [n_of[s["closest"]] for s in snapshots if n_of.get(s["closest"]) is not None]
        steps = [n for k, n in enumerate(order) if k == 0 or n != order[k - 1]]
        rising = all(b >= a for a, b in zip(order, order[1:]))
        verdict = "cannot say" if len(steps) < 2 else "holds" if rising else "partly" if order[-1] > order[0] else "differs"
        reading.findings.append(Finding(
            "the run resembles the 1-NN first, then n-NNs of growing n", verdict,
            "closest n-NN over training: " + " -> ".join(str(n) for n in steps)))
    return reading
