"""Training dynamics (the paper's Figure 5 right): how an RNN's predictions approach other models' as it trains.

For each snapshot of a run (its weights after ``batch`` training batches) and
each reference model (an n-NN in the paper; any predictor with distributions):

- ``kl``: the symmetric KL divergence of their predictive distributions,
  ``D(p, q) = ½(KL(p‖q) + KL(q‖p)) = ½ Σ_c (p_c − q_c)(ln p_c − ln q_c)`` in
  nats (natural logs), where ``p`` is the snapshot's distribution of the next
  character and ``q`` the reference's, averaged over the positions of the
  text. Both are clipped below at ``FLOOR`` (1e-30) before the logs: a
  softmax stored in float32 underflows to exactly 0 far from its mode, and
  ln 0 would make the divergence infinite over a probability no model gave
  as 0. The clip leaves every probability above 1e-30 as it is and bounds a
  character's term near 69 nats (no renormalising: it moves each sum by at
  most ``V`` x 1e-30, and every term stays >= 0).
- ``loss_diff``: the snapshot's loss minus the reference's (mean cross-entropy
  of the true next characters over the same positions, nats/char); negative
  where the snapshot already predicts better.

- ``closest``: the reference of lowest mean KL, and whether that is decided:
  the ``gap`` to the ``runner_up`` (the mean over positions of the
  runner-up's KL minus the closest's) has a paired bootstrap interval, in
  blocks of positions, that lies above 0. The per-position KLs are computed
  anyway; the bootstrap adds a few milliseconds a snapshot.

The paper: in its first epochs the LSTM comes closest first to the 1-NN, then
to the 2-, 3- and 4-NN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from rnnlens.analyses.intervals import RESAMPLES, difference_interval
from rnnlens.analyses.model_set import common_text
from rnnlens.analyses.result import Result
from rnnlens.errors import RnnlensError
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

FLOOR = 1e-30  # smallest probability the logs see (see the module docstring)
ROW_BLOCK = 16384  # positions computed at a time: bounds the float64 copies of (positions, V)


def symmetric_kl(p: np.ndarray, q: np.ndarray, floor: float = FLOOR) -> np.ndarray:
    """``(N,)`` nats: ½(KL(p‖q) + KL(q‖p)) of each row of the distributions ``p`` and ``q`` ``(N, V)``."""
    p = np.maximum(np.asarray(p, np.float64), floor)
    q = np.maximum(np.asarray(q, np.float64), floor)
    return 0.5 * ((p - q) * (np.log(p) - np.log(q))).sum(axis=1)


def symmetric_kl_by_position(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``(N,)`` nats: ``symmetric_kl(p, q)`` of every position, a block of rows at a time (bounded float64
    copies of memory-mapped float32 distributions)."""
    if p.shape != q.shape:
        raise RnnlensError(f"distributions of shapes {p.shape} and {q.shape} do not compare: give predictions "
                           "of one text by models of one vocabulary")
    return np.concatenate([symmetric_kl(p[s:s + ROW_BLOCK], q[s:s + ROW_BLOCK]) for s in range(0, len(p), ROW_BLOCK)])


def closest_of(kl: Mapping[str, np.ndarray], resamples: int = RESAMPLES) -> dict:
    """Which reference is closest (lowest mean KL), the ``runner_up``, and the ``gap``: the interval of the mean
    over positions of the runner-up's KL minus the closest's (paired, blocks of positions). ``decided`` when the
    gap's interval lies above 0; with one reference there is no runner-up, and nothing is decided."""
    ranked = sorted(kl, key=lambda name: float(kl[name].mean()))
    if len(ranked) < 2:
        return {"closest": ranked[0], "runner_up": None, "gap": None, "decided": False}
    gap = difference_interval(kl[ranked[1]], kl[ranked[0]], resamples=resamples)
    return {"closest": ranked[0], "runner_up": ranked[1], "gap": gap.to_dict(), "decided": gap.above(0)}


def loss(predictions: Predictions) -> float:
    """Mean cross-entropy of the true next characters, nats/char."""
    return float(-np.mean(predictions.log_probs))


def distributions_of(name: str, predictions: Predictions) -> np.ndarray:
    if predictions.distributions is None:
        raise RnnlensError(f"the predictions of {name} hold no distributions; ask predictions_for for them "
                           "(distributions=True)")
    return predictions.distributions


@dataclass
class TrainingDynamics(Result):
    """Per snapshot (in training order): ``batch``, ``epoch`` (a fraction), ``weights``, ``loss`` (nats/char),
    ``kl`` and ``loss_diff`` by reference name, the ``closest`` reference (lowest KL), ``runner_up``, ``gap``
    and ``decided`` (``closest_of``); ``against``: the references (``name``, ``n``: their context length where
    they have one, ``loss``); ``text``: its identity."""

    name = "dynamics"
    snapshots: list[dict]
    against: list[dict]
    text: dict
    run: str = ""

    @property
    def names(self) -> list[str]:
        return [a["name"] for a in self.against]

    def to_dict(self) -> dict:
        return {"snapshots": self.snapshots, "against": self.against, "run": self.run, "text": self.text}

    def summary(self) -> str:
        width = max(10, *(len(n) for n in self.names))
        head = f"{'batch':>7} {'epoch':>6} {'loss':>7}  " + " ".join(f"{'KL ' + n:>{width + 3}}" for n in self.names)
        head += "  " + " ".join(f"{'Δloss ' + n:>{width + 6}}" for n in self.names) + "  closest"
        lines = [f"{self.run} against {', '.join(self.names)} on {self.text['source']} "
                 f"({self.text['chars'] - 1:,} predictions); KL: symmetric, nats; Δloss: run − reference, nats/char",
                 head, "-" * len(head)]
        for s in self.snapshots:
            lines.append(f"{s['batch']:>7} {s['epoch']:>6.2f} {s['loss']:>7.4f}  "
                         + " ".join(f"{s['kl'][n]:>{width + 3}.4f}" for n in self.names) + "  "
                         + " ".join(f"{s['loss_diff'][n]:>+{width + 6}.4f}" for n in self.names)
                         + f"  {s['closest'] if s['decided'] else '(' + s['closest'] + ')'}")
        lines.append("closest in parentheses: not decided (the 95% interval of its gap to the runner-up reaches 0)")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """dynamics.csv (one row per snapshot and reference), dynamics.png and .svg."""
        n_of = {a["name"]: a["n"] for a in self.against}
        rows = [[s["batch"], s["epoch"], s["weights"], s["loss"], name, n_of[name], s["kl"][name], s["loss_diff"][name],
                 int(name == s["closest"]), int(name == s["closest"] and s["decided"])]
                for s in self.snapshots for name in self.names]
        write_csv(out / "dynamics.csv", ["batch", "epoch", "weights", "loss", "against", "n", "kl", "loss_diff",
                                         "closest", "decided"], rows)
        figure = self.plot()
        save_figure(figure, out / "dynamics.png")
        save_figure(figure, out / "dynamics.svg")

    def plot(self):
        """Two panels over training batches (epochs on top): symmetric KL, and the loss difference, one curve
        per reference."""
        figure = new_figure(figsize=(7.0, 6.0))
        top, bottom = figure.subplots(2, 1, sharex=True)
        batches = [s["batch"] for s in self.snapshots]
        for i, a in enumerate(self.against):
            colour = colormaps["viridis"](0.85 * i / max(len(self.against) - 1, 1))  # n in order, dark to light
            label = a["name"] if a["n"] is None else f"n={a['n']}" if a["name"] == str(a["n"]) else \
                f"{a['name']} (n={a['n']})"
            top.plot(batches, [s["kl"][a["name"]] for s in self.snapshots], marker="o", ms=3, color=colour, label=label)
            bottom.plot(batches, [s["loss_diff"][a["name"]] for s in self.snapshots], marker="o", ms=3, color=colour,
                        label=label)
        decided = [s for s in self.snapshots if s["decided"]]
        top.plot([s["batch"] for s in decided], [s["kl"][s["closest"]] for s in decided], ls="none", marker="o",
                 ms=8, mfc="none", mec="black", mew=0.9, label="closest, decided")
        bottom.axhline(0, color="0.5", lw=0.8, ls="--")
        if all(v > 0 for s in self.snapshots for v in s["kl"].values()):
            top.set_yscale("log")  # the first snapshots are far off; a log scale keeps the crossings readable
            top.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 0.2, not 2 x 10^-1
            top.yaxis.set_minor_formatter(NullFormatter())
        top.set_ylabel("symmetric KL (nats)")
        bottom.set_ylabel("loss − reference loss (nats/char)")
        bottom.set_xlabel("training batches")
        top.legend(fontsize=8)
        per_epoch = next((s["batch"] / s["epoch"] for s in self.snapshots if s["epoch"]), None)
        if per_epoch:
            epochs = top.secondary_xaxis("top", functions=(lambda b: b / per_epoch, lambda e: e * per_epoch))
            epochs.set_xlabel("epochs")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        top.set_title(f"{self.run}: training dynamics on {self.text['source']}", fontsize=10)
        figure.tight_layout()
        return figure


def training_dynamics(snapshots: Iterable[tuple[dict, Predictions]], against: Mapping[str, Predictions],
                      contexts: Mapping[str, int | None] | None = None, run: str = "",
                      resamples: int = RESAMPLES) -> TrainingDynamics:
    """KL and loss difference of each snapshot's predictions against each reference's, over one text.

    ``snapshots`` yields ``(snapshot, predictions)`` in training order, ``snapshot`` as
    ``registry.snapshots`` lists it (``weights``, ``batch``, ``epoch``), read one at a time so that only
    one snapshot's distributions ``(N-1, V)`` need be in memory; ``against`` holds the references'
    predictions by name, ``contexts`` their context length (the n of an n-NN) where they have one. Every
    prediction must hold distributions, all of one text. Each snapshot's closest reference comes with its gap
    to the runner-up (``closest_of``, ``resamples`` bootstrap draws).
    """
    if not against:
        raise RnnlensError("no model to compare the snapshots with: give at least one")
    contexts = contexts or {}
    text = common_text(against)
    reference_loss = {name: loss(p) for name, p in against.items()}
    rows = []
    for snapshot, predictions in snapshots:
        common_text({snapshot["weights"]: predictions, **against})
        p = distributions_of(snapshot["weights"], predictions)
        kl = {name: symmetric_kl_by_position(p, distributions_of(name, q)) for name, q in against.items()}
        own = loss(predictions)
        rows.append({"batch": snapshot["batch"], "epoch": snapshot["epoch"], "weights": snapshot["weights"],
                     "loss": own, "kl": {name: float(k.mean()) for name, k in kl.items()},
                     "loss_diff": {name: own - reference_loss[name] for name in against},
                     **closest_of(kl, resamples)})
    if not rows:
        raise RnnlensError(f"{run or 'the run'} kept no snapshots to compare")
    references = [{"name": name, "n": contexts.get(name), "loss": reference_loss[name]} for name in against]
    return TrainingDynamics(rows, references, text, run)


def context_length(predictor) -> int | None:
    """How many characters the model sees (an n-NN's or n-gram's n), or None for one that sees them all."""
    return getattr(predictor, "context_length", None)


def names_by_context(references: list) -> list[str] | None:
    """The references' n as their names (the JSON's ``kl``/``loss_diff`` keys: ``{"1": ..., "2": ...}``) when each
    has a different one, else None (directory names)."""
    contexts = [context_length(p) for p in references]
    if None in contexts or len(set(contexts)) < len(contexts):
        return None
    return [str(n) for n in contexts]
