"""Model comparison (the paper's Figure 1): a loss table by family, depth and budget; agreement; a t-SNE map.

- **Loss table.** Each model's mean loss ± bootstrap std (``analyses.evaluation``)
  on one text, one row per family and depth ("LSTM 2"; models without layers
  get a row of their own label, "5-gram", "3-NN") and one column per parameter
  budget. A model's budget is the one it records (``facts["budget"]``), else
  its parameter count; sorted ascending, budgets within ``BUDGET_FACTOR`` of
  the smallest one not yet in a column share a column, named by their geometric
  mean (2 significant figures). Models without a parameter count (n-grams)
  share a last column, "-".
- **Loss differences.** For every two models of one budget column (the
  pairs Figure 1 compares: depths of one type, types of one depth), the mean
  of their per-position loss difference with its paired bootstrap interval
  over positions in blocks (``intervals.difference_interval``).
- **Agreement.** For two models, the fraction of positions where their most
  likely next character (argmax of the distribution) is the same; a square
  matrix in the models' order, 1 on the diagonal.
- **Apart.** Whether the RNNs' predictions lie apart from the gated models'
  (LSTM, GRU): at each position, the distance ``1 - agreement`` averaged over
  the pairs of a gated model and an RNN, less ``APART_RATIO`` times the same
  averaged over the pairs of gated models; its mean over positions, with a
  bootstrap interval in blocks, lies above 0 when the RNNs lie at least
  ``APART_RATIO`` times as far from the gated models as these from each other.
  A map of agreement shows a group apart only when it is that much further
  away: 0.262 against 0.241 (1.09 times) puts no RNN apart in a t-SNE map.
- **t-SNE.** The models embedded in 2-D from the distances 1 - agreement
  (scikit-learn, precomputed distances, random init, exact gradients, a fixed
  seed, perplexity ``(M - 1) / 3`` capped at 30); with fewer than ``TSNE_MIN_MODELS`` models
  there is no embedding and the result says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Mapping

import matplotlib
import numpy as np
from matplotlib.ticker import NullLocator

from rnnlens.analyses.evaluation import Evaluation
from rnnlens.analyses.intervals import RESAMPLES, difference_interval, mean_interval
from rnnlens.analyses.model_set import common_text
from rnnlens.analyses.result import Result
from rnnlens.errors import RnnlensError
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

BUDGET_FACTOR = 1.3
TSNE_MIN_MODELS = 4
NO_BUDGET = "-"
ROW_BLOCK = 65536  # positions read at a time from memory-mapped distributions
DEPTH_MARKERS = {None: "X", 1: "o", 2: "s", 3: "^", 4: "D"}  # deeper networks: "P"
DEPTH_LINES = {1: "-", 2: "--", 3: ":"}
GATED, PLAIN = ("LSTM", "GRU"), "RNN"  # the families the paper's apart finding sets against each other
APART_RATIO = 1.5
MIDDLE_AREA = 110.0  # points², a t-SNE marker whose size tells no budget apart
SHOWN_MATRIX = 12  # models up to which the summary prints the agreement matrix and the t-SNE map names them
MODEL_KEYS = ("name", "dir", "kind", "type", "layers", "params", "budget", "label", "column", "nats", "std")


def argmax_chars(distributions: np.ndarray) -> np.ndarray:
    """``(N,)`` int16: the most likely character of each row of ``(N, V)`` distributions, read block by block."""
    out = np.empty(len(distributions), np.int16)
    for start in range(0, len(distributions), ROW_BLOCK):
        out[start:start + ROW_BLOCK] = np.argmax(distributions[start:start + ROW_BLOCK], axis=1)
    return out


def agreement_matrix(choices: np.ndarray) -> np.ndarray:
    """``(M, M)``: fraction of positions where models i and j choose the same character, from ``(M, N)`` choices."""
    models, positions = choices.shape
    agreement = np.eye(models)
    for i in range(models):
        for j in range(i + 1, models):
            agreement[i, j] = agreement[j, i] = np.count_nonzero(choices[i] == choices[j]) / positions
    return agreement


def loss_differences(names: list[str], columns: list[str], losses: np.ndarray,
                     resamples: int = RESAMPLES) -> list[dict]:
    """For every two models of one budget column, ``{"models": [a, b], "loss_difference": Interval dict}``: the
    mean over positions of ``loss_a - loss_b`` (nats/char; negative: ``a`` better) from ``losses`` ``(M, N)``."""
    return [{"models": [names[i], names[j]],
             "loss_difference": difference_interval(losses[i], losses[j], resamples=resamples).to_dict()}
            for i, j in combinations(range(len(names)), 2) if columns[i] == columns[j]]


def pair_agreement(choices: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """``(N,)``: at each position, the fraction of ``pairs`` of models that choose the same character."""
    return np.mean([choices[i] == choices[j] for i, j in pairs], axis=0)


def apart(names: list[str], types: list[str], choices: np.ndarray, resamples: int = RESAMPLES) -> dict | None:
    """Whether the RNNs lie apart from the gated models (module docstring); None without two gated models and
    an RNN. ``within``/``across``: mean agreement of gated pairs / of gated-RNN pairs; ``excess``: the interval of
    ``(1 - across) - APART_RATIO (1 - within)`` over positions."""
    gated = [i for i, t in enumerate(types) if str(t).upper() in GATED]
    plain = [i for i, t in enumerate(types) if str(t).upper() == PLAIN]
    if len(gated) < 2 or not plain:
        return None
    within = pair_agreement(choices, list(combinations(gated, 2)))
    across = pair_agreement(choices, [(i, j) for i in gated for j in plain])
    excess = (1 - across) - APART_RATIO * (1 - within)
    return {"gated": [names[i] for i in gated], "rnns": [names[i] for i in plain], "ratio": APART_RATIO,
            "within": float(within.mean()), "across": float(across.mean()),
            "excess": mean_interval(excess, resamples=resamples).to_dict()}


def budget_columns(budgets: list[int | None], factor: float = BUDGET_FACTOR) -> list[str]:
    """The column of each budget: budgets within ``factor`` of a column's smallest share it (None: ``NO_BUDGET``)."""
    column_of: dict[int, str] = {}
    pending = sorted({b for b in budgets if b is not None})
    while pending:
        members = [b for b in pending if b <= pending[0] * factor]
        name = short_count(math.exp(np.mean(np.log(members))))
        column_of.update((b, name) for b in members)
        pending = pending[len(members):]
    return [NO_BUDGET if b is None else column_of[b] for b in budgets]


def short_count(value: float) -> str:
    """A count to 2 significant figures: ``850``, ``64K``, ``3.3M``."""
    rounded = float(f"{value:.2g}")
    for unit, scale in (("M", 1e6), ("K", 1e3)):
        if rounded >= scale:
            return f"{rounded / scale:g}{unit}"
    return f"{rounded:g}"


def tsne_embedding(agreement: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """``(M, 2)`` t-SNE coordinates from distances ``1 - agreement``, or None below ``TSNE_MIN_MODELS`` models."""
    if len(agreement) < TSNE_MIN_MODELS:
        return None
    from sklearn.manifold import TSNE  # imported here: slow to import, and only this step needs it

    distances = np.clip(1.0 - (agreement + agreement.T) / 2, 0.0, None)
    np.fill_diagonal(distances, 0.0)
    perplexity = min(30.0, (len(agreement) - 1) / 3)
    # exact gradients: a few dozen models take a fraction of a second, where Barnes-Hut's threads took seconds
    return TSNE(n_components=2, metric="precomputed", init="random", perplexity=perplexity, method="exact",
                random_state=seed).fit_transform(distances)


@dataclass
class Comparison(Result):
    """Loss, agreement and t-SNE coordinates of several models scored on one text.

    ``models``: one dict per model with ``MODEL_KEYS`` and ``interval`` (its loss's, an ``Interval`` dict);
    ``agreement`` ``(M, M)``; ``tsne`` ``(M, 2)`` or None; ``dataset`` the corpus the models were trained on;
    ``differences`` (``loss_differences``) and ``apart`` (``apart``).
    """

    name = "compare"
    dataset: str
    text: dict
    models: list[dict]
    agreement: np.ndarray
    tsne: np.ndarray | None
    seed: int = 0
    differences: list[dict] = field(default_factory=list)
    apart: dict | None = None

    @property
    def names(self) -> list[str]:
        return [m["name"] for m in self.models]

    @property
    def tsne_note(self) -> str | None:
        if self.tsne is not None:
            return None
        return (f"no t-SNE map: {len(self.models)} models, it needs at least {TSNE_MIN_MODELS}; "
                "the heat map shows their agreement")

    def table(self) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
        """Rows, columns and the model of each filled ``(row, column)`` cell of the loss table.

        Rows go by family in the order first given, then depth; columns by budget.
        A second model of one cell (another seed, say) gets a row named after it.
        """
        families = list(dict.fromkeys(m["type"] for m in self.models))
        rows: list[str] = []
        cells: dict[tuple[str, str], dict] = {}
        for m in sorted(self.models, key=lambda m: (families.index(m["type"]), m["layers"] or 0, m["label"])):
            row = m["label"] if (m["label"], m["column"]) not in cells else f"{m['label']} ({m['name']})"
            rows += [row] if row not in rows else []
            cells[(row, m["column"])] = m
        smallest = {}
        for m in self.models:
            smallest[m["column"]] = min(smallest.get(m["column"], math.inf), m["budget"] or math.inf)
        return rows, sorted(smallest, key=smallest.get), cells

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "text": self.text, "budget_factor": BUDGET_FACTOR,
                "models": self.models, "agreement": self.agreement.tolist(),
                "family_agreement": self.family_agreement(),
                "tsne": None if self.tsne is None else self.tsne.tolist(), "tsne_seed": self.seed,
                "tsne_note": self.tsne_note, "differences": self.differences, "apart": self.apart}

    def family_agreement(self) -> dict[str, dict[str, float | None]]:
        """Mean agreement over pairs of distinct models of two families (None: no such pair)."""
        types = [m["type"] for m in self.models]
        families = list(dict.fromkeys(types))
        mean = {}
        for a in families:
            for b in families:
                pairs = [self.agreement[i, j] for i, ti in enumerate(types) for j, tj in enumerate(types)
                         if i != j and (ti, tj) == (a, b)]
                mean.setdefault(a, {})[b] = float(np.mean(pairs)) if pairs else None
        return mean

    def summary(self) -> str:
        lines = [f"{self.dataset}: loss on {self.text['source']} ({self.text['chars']:,} characters), "
                 "nats/char ± bootstrap std", f"columns: parameter budgets (recorded, else counted) within "
                 f"{BUDGET_FACTOR}x of a column's smallest", *self.table_lines(), "",
                 "agreement (fraction of positions with the same most likely next character):"]
        if len(self.models) <= SHOWN_MATRIX:
            lines += matrix_lines(self.names, self.agreement.tolist())
        else:
            lines.append(f"{len(self.models)} models: the matrix is in agreement.csv and agreement.png")
        families = self.family_agreement()
        lines += ["", "mean agreement of two models by family:",
                  *matrix_lines(list(families), [list(row.values()) for row in families.values()])]
        if self.apart:
            far, near = 1 - self.apart["across"], 1 - self.apart["within"]
            times = f"{far / near:.2f} times" if near > 0 else "the LSTMs and GRUs all agree"
            lines += ["", f"RNNs against LSTMs and GRUs: distance (1 - agreement) {far:.3f} to them, {near:.3f} among "
                          f"them ({times}; apart at {self.apart['ratio']:g} times or more)"]
        if self.tsne_note:
            lines += ["", self.tsne_note]
        return "\n".join(lines)

    def table_lines(self) -> list[str]:
        """The loss table as text: a header of budget columns, a row per family and depth."""
        rows, columns, cells = self.table()
        width = max(len(r) for r in rows)
        lines = [" " * width + "".join(f"{c:>17}" for c in columns)]
        for row in rows:
            values = [cells.get((row, c)) for c in columns]
            lines.append(f"{row:<{width}}" + "".join(
                f"{m['nats']:>9.4f} ± {m['std']:.4f}" if m else " " * 17 for m in values))
        return lines

    def write_files(self, out: Path) -> None:
        """compare.csv (a row per model, with its t-SNE place), agreement.csv, losses.png, agreement.png, tsne.png."""
        places = self.tsne.tolist() if self.tsne is not None else [[None, None]] * len(self.models)
        write_csv(out / "compare.csv", [*MODEL_KEYS, "tsne_x", "tsne_y"],
                  [[m[k] for k in MODEL_KEYS] + place for m, place in zip(self.models, places)])
        write_csv(out / "agreement.csv", ["model", *self.names],
                  [[name, *map(float, values)] for name, values in zip(self.names, self.agreement)])
        save_figure(self.plot(), out / "losses.png")
        save_figure(agreement_figure(self.names, self.agreement, self.dataset), out / "agreement.png")
        if self.tsne is not None:
            save_figure(tsne_figure(self.models, self.tsne, f"{self.dataset} (seed {self.seed})"), out / "tsne.png")

    def plot(self):
        """Loss against parameter budget, one line per table row (the table as a chart)."""
        return losses_figure(self.models, f"{self.dataset}: loss on {self.text['source']}")


def matrix_lines(names: list[str], matrix: list[list[float | None]]) -> list[str]:
    """A square matrix as text: numbered rows named, numbered columns, 3 decimals (None: "-")."""
    width = max(len(n) for n in names)
    lines = [" " * (width + 4) + "".join(f"{k + 1:>6}" for k in range(len(names)))]
    for k, (name, values) in enumerate(zip(names, matrix)):
        lines.append(f"{k + 1:>2}. {name:<{width}}" + "".join("     -" if v is None else f"{v:>6.3f}" for v in values))
    return lines


def family_colors(models: list[dict]) -> dict[str, str]:
    """One colour per family (``type``), in the order first given."""
    return {t: f"C{k % 10}" for k, t in enumerate(dict.fromkeys(m["type"] for m in models))}


def depth_marker(layers: int | None) -> str:
    return DEPTH_MARKERS.get(layers, "P")


def column_budgets(models: list[dict]) -> dict[str, float]:
    """The geometric-mean budget of each budget column, in the order first given (models without a budget: none)."""
    return {c: math.exp(np.mean([math.log(m["budget"]) for m in models if m["column"] == c]))
            for c in dict.fromkeys(m["column"] for m in models if m["budget"])}


def budget_areas(models: list[dict]) -> dict[str, float]:
    """The marker area (points²) of each budget column: 40 to 300 with the log of its budget, ``MIDDLE_AREA``
    where all share one budget and for models without one (``NO_BUDGET``)."""
    logs = {c: math.log(b) for c, b in column_budgets(models).items()}
    low, span = min(logs.values(), default=0.0), float(np.ptp(list(logs.values()))) if logs else 0.0
    areas = {c: MIDDLE_AREA if span == 0 else 40.0 + 260.0 * (v - low) / span for c, v in logs.items()}
    return {**areas, NO_BUDGET: MIDDLE_AREA}


def losses_figure(models: list[dict], title: str):
    """Loss ± std against budget (log axis), a line per row label; models without a budget as flat lines."""
    colors = family_colors(models)
    figure = new_figure(figsize=(7, 4.5))
    ax = figure.subplots()
    for label in dict.fromkeys(m["label"] for m in models):
        group = sorted((m for m in models if m["label"] == label), key=lambda m: m["budget"] or 0)
        color = colors[group[0]["type"]]
        if group[0]["budget"] is None:
            for m in group:
                ax.axhline(m["nats"], color=color, lw=1, ls="-.", label=label)
            continue
        ax.errorbar([m["budget"] for m in group], [m["nats"] for m in group], yerr=[m["std"] for m in group],
                    color=color, marker=depth_marker(group[0]["layers"]), ms=5, capsize=2, label=label,
                    ls=DEPTH_LINES.get(group[0]["layers"], "-"))
    columns = column_budgets(models)
    if columns:  # a tick per column of the table, named as the table names it
        ax.set_xscale("log")
        ax.set_xticks(list(columns.values()), list(columns), fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("parameters (recorded budget, else count; a tick per budget column of the table)")
    ax.set_ylabel("loss (nats/char)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    return figure


def agreement_figure(names: list[str], agreement: np.ndarray, title: str):
    """Heat map of the agreement matrix with the models' names, values written in the cells when they fit. The
    colours span the off-diagonal values only: the diagonal's ones would take the whole scale and leave every
    other cell one colour."""
    size = len(names)
    off = ~np.eye(size, dtype=bool)
    low, high = (agreement[off].min(), agreement[off].max()) if size > 1 else (0.0, 1.0)
    high = high if high > low else low + 1e-3  # one pair (or all equal): a scale that still has a width
    figure = new_figure(figsize=(2.5 + 0.45 * size, 1.8 + 0.45 * size))
    ax = figure.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_where(~off, agreement), cmap=cmap, vmin=low, vmax=high)
    ax.set_xticks(range(size), names, rotation=90, fontsize=8)
    ax.set_yticks(range(size), names, fontsize=8)
    if size <= 20:
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(agreement):
            ax.text(j, i, f"{value:.2f}" if i != j else "1", ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                    label="same most likely next character\n(other models; the diagonal is 1)")
    ax.set_title(f"{title}: agreement", fontsize=10)
    figure.tight_layout()
    return figure


def tsne_figure(models: list[dict], coordinates: np.ndarray, title: str):
    """The t-SNE map: colour = family, marker = depth, area = budget column (log scale), each point named."""
    colors = family_colors(models)
    areas = budget_areas(models)
    figure = new_figure(figsize=(6.5, 5))
    ax = figure.subplots()
    for m, (x, y) in zip(models, coordinates):
        ax.scatter(x, y, s=areas[m["column"]], color=colors[m["type"]], marker=depth_marker(m["layers"]),
                   alpha=0.8, edgecolors="black", linewidths=0.5)
        if len(models) <= SHOWN_MATRIX:  # more names than that pile up in the clusters
            ax.annotate(m["name"], (x, y), xytext=(5, 5), textcoords="offset points", fontsize=7)
    handles = [ax.scatter([], [], color=c, marker="o", label=t) for t, c in colors.items()]
    handles += [ax.scatter([], [], color="0.5", marker=depth_marker(d), label=f"{d} layer{'s' if d != 1 else ''}")
                for d in sorted({m["layers"] for m in models if m["layers"]})]
    if any(m["layers"] is None for m in models):
        handles.append(ax.scatter([], [], color="0.5", marker=depth_marker(None), label="no recurrent layers"))
    drawn = list(dict.fromkeys(m["column"] for m in sorted(models, key=lambda m: m["budget"] or math.inf)))
    handles += [ax.scatter([], [], s=areas[c], color="white", edgecolors="black", linewidths=0.5, marker="o",
                           label="no parameter budget" if c == NO_BUDGET else f"budget {c}") for c in drawn]
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), labelspacing=1.0,
              borderpad=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.15)  # room for the names
    ax.set_title(f"{title}: t-SNE of 1 - agreement", fontsize=10)
    figure.tight_layout()
    return figure


def compare_models(predictions: Mapping[str, Predictions], facts: Mapping[str, dict], dataset: str,
                   seed: int = 0, resamples: int = RESAMPLES) -> Comparison:
    """Compare models by name: their predictions of one text (with distributions) and their facts.

    ``facts[name]`` is ``models.predictor.model_facts`` of the model (``type``,
    ``layers``, ``params``, ``label``, optionally ``budget``); ``resamples``: of each bootstrap interval.
    """
    text = common_text(predictions, at_least=1)
    missing = [name for name, p in predictions.items() if p.distributions is None]
    if missing:
        raise RnnlensError(f"{missing[0]}: predictions without distributions; agreement needs every model's "
                           "distribution over the next character")
    budgets = [facts[name].get("budget") or facts[name]["params"] for name in predictions]
    columns = budget_columns(budgets)
    models = []
    for (name, p), budget, column in zip(predictions.items(), budgets, columns):
        loss = Evaluation.from_log_probs(p.log_probs)
        f = facts[name]
        models.append({"name": name, "dir": p.model.get("run_dir"), "kind": p.model.get("kind"), "type": f["type"],
                       "layers": f["layers"], "params": f["params"], "budget": budget, "label": f["label"],
                       "column": column, "nats": loss.nats, "std": loss.std,
                       "interval": mean_interval(-p.log_probs, resamples=resamples).to_dict()})
    names = list(predictions)
    losses = -np.stack([p.log_probs for p in predictions.values()])
    choices = np.stack([argmax_chars(p.distributions) for p in predictions.values()])
    agreement = agreement_matrix(choices)
    return Comparison(dataset, text, models, agreement, tsne_embedding(agreement, seed), seed,
                      loss_differences(names, columns, losses, resamples),
                      apart(names, [m["type"] for m in models], choices, resamples))
