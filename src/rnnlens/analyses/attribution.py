"""Which earlier characters moved one prediction: gradient x input or integrated gradients over the one-hot inputs.

For a position ``P`` of a text the model reads the characters before it (all
of them, or the last ``window``) from a zero state, and ``f`` is the
log-probability it gives the character at ``P`` (or a chosen ``target``).
Each input character's score is its attribution summed over the vocabulary
axis (Captum's ``InputXGradient`` and ``IntegratedGradients``):

- **gradient x input**: ``x * df/dx`` at the text's one-hot rows, a local,
  first-order reading;
- **integrated gradients** (Sundararajan et al. 2017): the path integral of
  the gradient from the baseline, all zeros (no character at any position),
  to the text. The scores add up to ``f(text) - f(baseline)`` (completeness);
  ``completeness_gap`` is how far the ``steps``-point quadrature misses that.
  Near the baseline a recurrent network reads tiny inputs, and over a long
  window its state can swing chaotically there (the best War and Peace LSTM
  over 300 characters: f jumps by nats between nearby points of the path,
  with gradients of 1e6), so the gap can be large: the summary says when it
  exceeds ``GAP_TOLERANCE``; more steps or a shorter window close it.

Positive scores (blue in the figure) raised the target's log-probability,
negative ones (red) lowered it. Scores are in nats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients
from matplotlib.patches import Rectangle

from rnnlens.analyses.result import Result
from rnnlens.data.spelling import spell
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.render.cell_pictures import CellPicture, layout, plot_pictures
from rnnlens.render.figures import save_figure
from rnnlens.store import atomic

METHODS = ("integrated_gradients", "gradient_x_input")
DRAWN = 800  # characters before the position shown in the figure: ten lines of text
COLUMNS = 100
FONTSIZE = 9 * 72 / (0.602 * 150)  # 9 px a character at save_figure's 150 dpi: Agg rounds each glyph's advance to
# whole pixels, so at 7 pt (8.8 px) the text drifts from its colours by a cell every 40 characters
GAP_TOLERANCE = 0.05  # nats of completeness gap beyond which the summary says the integral is unreliable
BATCH_CHARS = 100_000  # inputs of one integrated-gradients batch (steps x characters): bounds the memory


@dataclass
class AttributionResult(Result):
    """``scores[i]`` (nats) is how much ``chars[i]``, text index ``start + i``, moved ``log_prob``, the model's
    log-probability of ``target`` at ``position``; ``completeness_gap`` only for integrated gradients."""

    model: str
    chars: str
    scores: np.ndarray
    start: int
    position: int
    target: str
    method: str
    log_prob: float
    completeness_gap: float | None = None
    steps: int | None = None

    name = "attribution"

    def to_dict(self) -> dict:
        characters = [{"index": self.start + i, "char": c, "score": float(s)}
                      for i, (c, s) in enumerate(zip(self.chars, self.scores))]
        extra = {"completeness_gap": self.completeness_gap, "steps": self.steps} if self.steps else {}
        return {"model": self.model, "position": self.position, "target": self.target, "log_prob": self.log_prob,
                "method": self.method, "start": self.start, "characters": characters, **extra}

    def strongest(self, count: int) -> np.ndarray:
        """Indices into ``scores`` of the ``count`` largest scores by size, largest first."""
        return np.argsort(-np.abs(self.scores), kind="stable")[:count]

    def summary(self) -> str:
        lines = [f"{self.model}: ln p({spell(self.target)!s} at {self.position:,}) = {self.log_prob:.4f} nats; "
                 f"{self.method.replace('_', ' ')} over {len(self.scores):,} characters from {self.start:,}"]
        if self.steps:
            lines.append(f"completeness gap (sum of scores - (f(text) - f(no characters))): "
                         f"{self.completeness_gap:+.2e} nats with {self.steps} steps")
            if abs(self.completeness_gap) > GAP_TOLERANCE:
                lines.append(f"the gap exceeds {GAP_TOLERANCE} nats, so these scores are unreliable: raise the "
                             "steps or shorten the window")
        lines.append("index    back  char   score (nats)")
        for i in self.strongest(10):
            index = self.start + int(i)
            lines.append(f"{index:>7,} {self.position - index:>5}  {spell(self.chars[i]):<5} {self.scores[i]:+.4f}")
        return "\n".join(lines)

    def plot(self):
        """The last ``DRAWN`` characters before the position coloured by score (scaled so the largest is
        +-1), the target a boxed cell after them."""
        shown = slice(max(0, len(self.chars) - DRAWN), len(self.chars))
        scores = self.scores[shown]
        scale = float(np.abs(self.scores).max()) or 1.0
        text = self.chars[shown] + self.target
        cut = f", the last {DRAWN} of {len(self.chars):,} characters" if shown.start else ""
        title = (f"{self.model}: {self.method.replace('_', ' ')} of ln p({spell(self.target)}) = "
                 f"{self.log_prob:.3f} at position {self.position:,} (boxed){cut}; blue raised it, red lowered "
                 f"it; colour = score / {scale:.3g} nats")
        figure = plot_pictures([CellPicture(text, np.append(scores / scale, 0.0), title)], COLUMNS, FONTSIZE)
        legend, picture = figure.axes
        legend.texts[-1].set_text("background: the character's attribution score / the largest score's size")
        rows, cols = layout(text, COLUMNS)
        picture.add_patch(Rectangle((cols[-1], rows[-1]), 1, 1, fill=False, edgecolor="black", linewidth=1.5))
        return figure

    def write_files(self, out_dir: Path) -> None:
        rows = [[c["index"], spell(c["char"]), f"{c['score']:.6g}"] for c in self.to_dict()["characters"]]
        atomic.write_csv(out_dir / "attribution.csv", ["index", "char", "score"], rows)
        save_figure(self.plot(), out_dir / "attribution.png")


def attribute(predictor: Predictor, text: str, position: int, method: str = "integrated_gradients",
              target: str | None = None, window: int | None = None, steps: int = 50) -> AttributionResult:
    """How much each character before ``position`` of ``text`` (all of them, or the last ``window``) moved the
    model's log-probability of ``text[position]`` (or of ``target``, which may also follow the whole text:
    ``position == len(text)``); ``scores`` ``(n,)`` float64 nats, one per character from ``start``.
    ``steps``: integrated gradients' quadrature points."""
    check_differentiable(predictor)
    if method not in METHODS:
        raise RnnlensError(f"unknown attribution method {method!r}; choose {' or '.join(METHODS)}")
    target = check_position(text, position, target)
    if window is not None and window < 1:
        raise RnnlensError(f"window {window}: too small", advice="give at least 1 character", option="window")
    start = 0 if window is None else max(0, position - window)
    ids = torch.as_tensor(predictor.vocab.encode(text[start:position]))
    target_id = int(predictor.vocab.encode(target)[0])
    inputs = torch.nn.functional.one_hot(ids, len(predictor.vocab)).float()[None]

    def log_prob(one_hot: torch.Tensor) -> torch.Tensor:
        """``(B,)`` ln p(target) after each of ``one_hot`` ``(B, n, V)``."""
        return predictor.log_probs_of_inputs(one_hot)[:, -1, target_id]

    gap = None
    if method == "integrated_gradients":
        batch = max(1, min(steps, BATCH_CHARS // len(ids)))
        scores, delta = IntegratedGradients(log_prob).attribute(
            inputs, baselines=torch.zeros_like(inputs), n_steps=steps, internal_batch_size=batch,
            return_convergence_delta=True)
        gap = float(delta.item())
    else:
        scores = InputXGradient(log_prob).attribute(inputs.requires_grad_())
    with torch.no_grad():
        value = float(log_prob(inputs).item())
    return AttributionResult(model_name(predictor), text[start:position], scores[0].detach().sum(-1).double().cpu().numpy(),
                             start, position, target, method, value, gap,
                             steps if method == "integrated_gradients" else None)


def check_differentiable(predictor: Predictor) -> None:
    """Refuse a kind whose predictions cannot be differentiated with respect to one-hot inputs."""
    if not hasattr(predictor, "log_probs_of_inputs"):
        kind = (getattr(predictor, "facts", None) or {}).get("type", f"{predictor.kind} model")
        article = "an" if kind[0].lower() in "aeinou" else "a"  # "an n-gram", "an n-NN": n is read "en"
        raise RnnlensError(f"attribution needs a differentiable model; {model_name(predictor)} is {article} {kind}")


def check_position(text: str, position: int, target: str | None) -> str:
    """The character whose log-probability is attributed: ``target`` or ``text[position]``; refuse a position
    with no characters before it or none to predict."""
    last = len(text) if target is not None else len(text) - 1
    if not 1 <= position <= last:
        raise RnnlensError(f"position {position} is outside 1..{last}: attribution needs characters before the "
                           "position and one to predict there", advice=f"choose one from 1 to {last}",
                           option="position")
    if target is not None and len(target) != 1:
        raise RnnlensError(f"target {target!r} is not one character", advice="give one", option="target")
    return target if target is not None else text[position]


def model_name(predictor: Predictor) -> str:
    """The run directory's base name, else what the model is."""
    run_dir = (getattr(predictor, "identity", None) or {}).get("run_dir")
    return Path(run_dir).name if run_dir else predictor.description
