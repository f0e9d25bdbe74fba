"""Figure 5 (right): which n-NN a run resembles as it trains.

A snapshot counts only where its closest n-NN is decided: the interval of
the gap in symmetric KL to the runner-up (block bootstrap over positions)
lies above 0. The finding reads the decided snapshots in training order.
"""

from __future__ import annotations

from rnnlens.analyses.intervals import Interval
from rnnlens.report.readings.common import SHOWN_ROWS, Context, Finding, Reading, Table, signed


def evenly(rows: list, most: int) -> list:
    """At most ``most`` of ``rows``, evenly spaced, the first and the last among them."""
    if len(rows) <= most:
        return rows
    return [rows[round(k * (len(rows) - 1) / (most - 1))] for k in range(most)]


def gap_cell(snapshot: dict) -> str:
    """``+0.012 [+0.008, +0.016] to 2``, or ``-`` without a runner-up."""
    gap = snapshot["gap"]
    if gap is None:
        return "-"
    return (f"{signed(gap['estimate'])} [{signed(gap['low'])}, {signed(gap['high'])}] to "
            f"{snapshot['runner_up']}")


def read_dynamics(results: list[dict], ctx: Context) -> Reading:
    reading = Reading()
    for result in results:
        n_of = {a["name"]: a["n"] for a in result["against"]}
        snapshots = result["snapshots"]
        shown = evenly(snapshots, SHOWN_ROWS)
        note = "" if len(shown) == len(snapshots) else \
            f" ({len(shown)} of {len(snapshots)}, evenly spaced; all in dynamics.csv)"
        reading.tables.append(Table(
            f"{run_name(result)}: symmetric KL (nats) to each n-NN, by snapshot{note}; gap: the runner-up's KL "
            "minus the closest's, 95% interval by block bootstrap over positions",
            ["batch", "epoch", "loss", *n_of, "closest", "gap", "decided"],
            [[str(s["batch"]), f"{s['epoch']:.2f}", f"{s['loss']:.3f}", *(f"{s['kl'][n]:.3f}" for n in n_of),
              s["closest"], gap_cell(s), "yes" if s["decided"] else "no"] for s in shown]))
        reading.findings.append(order_finding(result, ctx))
    return reading


def run_name(result: dict) -> str:
    return str(result["run"]).rsplit("/", 1)[-1]


def order_finding(result: dict, ctx: Context) -> Finding:
    """Holds when the decided closest n never falls and takes at least two values; differs when it falls between
    two decided snapshots; otherwise cannot say."""
    n_of = {a["name"]: a["n"] for a in result["against"]}
    snapshots = result["snapshots"]
    decided = [s for s in snapshots if s["decided"] and n_of.get(s["closest"]) is not None]
    order = [n_of[s["closest"]] for s in decided]
    steps = [n for k, n in enumerate(order) if k == 0 or n != order[k - 1]]
    falls = [(a, b) for a, b in zip(decided, decided[1:]) if n_of[b["closest"]] < n_of[a["closest"]]]
    claim = f"the run ({run_name(result)}) resembles the 1-NN first, then n-NNs of growing n"
    ours = (f"closest n-NN at the {len(decided)} of {len(snapshots)} snapshots where it is decided: "
            + (" -> ".join(str(n) for n in steps) or "none"))
    test = ("a snapshot's closest n-NN counts when the 95% interval of its gap in mean symmetric KL to the runner-up "
            "(paired block bootstrap over positions) lies above 0; holds when the counted n never falls over training "
            "and takes at least two values, differs when it falls between two counted snapshots")
    numbers = {f"batch {s['batch']}: {s['closest']} before {s['runner_up']}": s["gap"] for s in decided}
    if falls:
        a, b = falls[0]
        why = (f"the closest n falls from {n_of[a['closest']]} at batch {a['batch']} to {n_of[b['closest']]} at "
               f"batch {b['batch']} (gap {Interval.from_dict(b['gap']).words(cases='positions')})"
               + (f", and {len(falls) - 1} more time{'s' if len(falls) > 2 else ''}" if len(falls) > 1 else "")
               + f"; {ctx.why_differs()}")
        return Finding(claim, "differs", ours, numbers=numbers, test=test, why=why)
    if len(steps) < 2:
        why = (f"{len(set(order))} distinct n among the decided snapshots ({len(decided)} of {len(snapshots)} "
               "decided), fewer than two")
        return Finding(claim, "cannot say", ours, numbers=numbers, test=test, why=why)
    return Finding(claim, "holds", ours, numbers=numbers, test=test)
