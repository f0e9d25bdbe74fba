"""Sparse autoencoders on one trace key (Bricken et al. 2023; Gao et al. 2024 for TopK), with SAELens's metrics.

An SAE rewrites each row ``x`` ``(d,)`` of a key (a layer's cell, hidden
state...) as a sparse, non-negative code ``f`` ``(m,)`` over ``m`` latent
directions::

    f = act(W_enc (s x - b_dec) + b_enc)      x̂ = (W_dec f + b_dec) / s

``s`` scales the training rows to a mean squared norm of ``d`` (SAELens's
``expected_average_only_in``), so one learning rate and L1 coefficient suit
cells of any size. ``act`` is ReLU with an L1 penalty on ``f`` weighted by
each decoder row's norm (Anthropic's April 2024 update), or TopK: ReLU
keeping only the ``k`` largest (decoder rows kept at unit norm).

SAELens itself is not used: its 6.x release still requires TransformerLens,
transformers, datasets and wandb (62 packages for ``pip install sae-lens``),
and reads activations through a HookedTransformer. The metrics follow its
``evals.py``, on held-out rows:

- ``l0``: mean number of latents > 0 per row;
- ``variance_explained``: ``1 - Σ‖x - x̂‖² / Σ‖x - x̄‖²`` (its corrected
  ``explained_variance``, over all rows at once);
- ``dead_fraction``: share of latents never > 0 on the held-out text;
- ``loss_recovered``: ``(L_zero - L_sae) / (L_zero - L_clean)`` with the
  reconstruction spliced into the forward pass (``loss_recovered``).

Then, as ``cells`` does for units: each latent's top-activating contexts and
the text features it matches best (ROC AUC of its activation for an on/off
feature, Pearson r for a numeric one), and for each feature its best latent
against the key's best single unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from rnnlens.analyses.interpretable_cells import aucs, correlations, fold
from rnnlens.analyses.result import Result
from rnnlens.data.features import Feature
from rnnlens.data.spelling import spell
from rnnlens.errors import RnnlensError
from rnnlens.models.interventions import Transform, ZeroAblate, with_interventions
from rnnlens.models.predictor import Predictor
from rnnlens.models.trace import Trace
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.runs import save_tensors

BLOCK = 128  # latents scored against the features at a time: bounds the ranks' memory
CONTEXT = 40  # characters shown before the character a top context's row has just read
TOP = 5  # top-activating contexts kept per latent


@dataclass(frozen=True)
class SAEOptions:
    """How to train: ``latents`` directions, TopK ``topk`` or else ReLU with ``l1``; Adam over ``steps`` batches."""

    latents: int
    topk: int | None = 16
    l1: float = 5.0
    steps: int = 3000
    batch: int = 1024
    learning_rate: float = 1e-3
    seed: int = 0

    def describe(self) -> str:
        sparsity = f"TopK k={self.topk}" if self.topk else f"ReLU, L1 {self.l1:g}"
        return f"{self.latents} latents, {sparsity}, {self.steps} steps of {self.batch} rows, Adam {self.learning_rate:g}"


class SparseAutoencoder(torch.nn.Module):
    """The SAE of the module docstring; ``scale`` is ``s``."""

    def __init__(self, units: int, options: SAEOptions, scale: float, mean: np.ndarray) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(options.seed)
        decoder = torch.randn(options.latents, units, generator=generator)
        decoder /= decoder.norm(dim=1, keepdim=True)
        self.W_dec = torch.nn.Parameter(decoder)
        self.W_enc = torch.nn.Parameter(decoder.T.clone())  # tied at the start: fewer latents die early
        self.b_enc = torch.nn.Parameter(torch.zeros(options.latents))
        self.b_dec = torch.nn.Parameter(torch.as_tensor(mean * scale, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.topk = options.topk

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, m)`` codes of rows ``x`` ``(n, d)``."""
        pre = torch.relu((x * self.scale - self.b_dec) @ self.W_enc + self.b_enc)
        if self.topk is None or self.topk >= pre.shape[1]:
            return pre
        kept = pre.topk(self.topk, dim=1)
        return torch.zeros_like(pre).scatter(1, kept.indices, kept.values)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """``(n, d)`` rows rebuilt from codes ``f`` ``(n, m)``, in the key's own units."""
        return (f @ self.W_dec + self.b_dec) / self.scale

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """``decode(encode(x))`` of rows ``x`` ``(n, d)``, as float32 numpy."""
        with torch.no_grad():
            return self.decode(self.encode(torch.as_tensor(x, dtype=torch.float32))).numpy()

    def codes(self, x: np.ndarray, rows: int = 65_536) -> np.ndarray:
        """``(n, m)`` float32 codes of ``x`` ``(n, d)``, a block of ``rows`` at a time."""
        with torch.no_grad():
            return np.concatenate([self.encode(torch.as_tensor(x[i:i + rows], dtype=torch.float32)).numpy()
                                   for i in range(0, len(x), rows)])


def train_sae(x: np.ndarray, options: SAEOptions, log: Callable[[str], None] = lambda _: None) -> SparseAutoencoder:
    """An SAE fitted to rows ``x`` ``(n, d)``: Adam on mean squared error (+ weighted L1 without TopK)."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.sqrt(x.shape[1] / max(float(np.mean(np.sum(x.astype(np.float64) ** 2, axis=1))), 1e-12))
    sae = SparseAutoencoder(x.shape[1], options, scale, x.mean(axis=0))
    rows = torch.as_tensor(x)
    optimiser = torch.optim.Adam(sae.parameters(), lr=options.learning_rate)
    generator = torch.Generator().manual_seed(options.seed)
    for step in range(1, options.steps + 1):
        batch = rows[torch.randint(len(rows), (options.batch,), generator=generator)] * sae.scale
        f = sae.encode(batch / sae.scale)
        error = ((f @ sae.W_dec + sae.b_dec - batch) ** 2).sum(dim=1).mean()  # in the scaled space
        loss = error if options.topk else error + options.l1 * (f * sae.W_dec.norm(dim=1)).sum(dim=1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if options.topk:
            with torch.no_grad():
                sae.W_dec /= sae.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)
        if step % max(options.steps // 5, 1) == 0:
            log(f"sae step {step}/{options.steps}: scaled squared error {error.item():.4f}")
    return sae


def variance_explained(x: np.ndarray, rebuilt: np.ndarray) -> float:
    """``1 - Σ‖x - x̂‖² / Σ‖x - x̄‖²`` over rows ``(n, d)``."""
    x = np.asarray(x, dtype=np.float64)
    total = ((x - x.mean(axis=0)) ** 2).sum()
    return float(1 - ((x - rebuilt) ** 2).sum() / total) if total > 0 else float("nan")


def loss_recovered(predictor: Predictor, text, key: str, reconstruct: Callable[[np.ndarray], np.ndarray]) -> float | None:
    """``(L_zero - L_sae) / (L_zero - L_clean)``: the loss with ``key`` replaced by ``reconstruct`` of it at every
    step (so the replacement changes every later step), between the loss with it zeroed (0) and the clean loss
    (1), over ``text`` (a trace: its text). None for a kind without hook points."""
    if not getattr(predictor, "supports_interventions", False):
        return None
    ids = predictor.vocab.encode(text.text)
    units = range(predictor.hook_point_units(key))
    loss = lambda hooks: -with_interventions(predictor, hooks).predict_log_probs(ids).mean()  # noqa: E731
    clean = loss({})
    zero = loss({key: [ZeroAblate(units=units)]})
    rebuilt = loss({key: [Transform(units=units, function=reconstruct, label="sparse autoencoder")]})
    # nan where the spliced state diverged (a lossy reconstruction of a recurrent state compounds step by step)
    return float((zero - rebuilt) / (zero - clean)) if zero != clean and np.isfinite(rebuilt) else float("nan")


@dataclass
class LatentInfo:
    """One latent on the held-out rows: how often it fires, where it fires most, what it matches."""

    latent: int
    frequency: float  # share of rows where it is > 0
    mean_active: float  # its mean value where > 0
    contexts: list[str]  # the TOP contexts of its highest values, the character read in [brackets]
    matches: list[dict]  # {"feature", "metric", "score"}, best first (AUC for on/off features, r for numeric)


@dataclass
class SAEResult(Result):
    """An SAE's metrics on held-out rows, its latents and, per feature, its best latent against the best unit."""

    name = "sae"
    key: str
    options: SAEOptions
    l0: float
    variance_explained: float
    loss_recovered: float | None
    dead_fraction: float
    features: list[dict]  # {"feature", "metric", "latent", "score", "contexts", "best_unit": {"unit", "score"}}
    latents_info: list[LatentInfo]
    info: dict
    sae: SparseAutoencoder

    def to_dict(self) -> dict:
        return {"key": self.key, "latents": self.options.latents, "l0": self.l0,
                "variance_explained": self.variance_explained,
                "loss_recovered": self.loss_recovered if self.loss_recovered is None
                or np.isfinite(self.loss_recovered) else None,
                "loss_recovered_note": self.recovered_words(),
                "dead_fraction": self.dead_fraction, "features": self.features,
                "training": {**asdict(self.options), "described": self.options.describe()}, "info": self.info,
                "method": "metrics on the held-out rows (SAELens's definitions); a latent's AUC is of its activation "
                          "as a detector of an on/off feature (higher inside), r its Pearson correlation with a "
                          "numeric one; the best unit is the key's own unit scored as cells does (max(AUC, 1 - "
                          "AUC), |r|); loss_recovered: the reconstruction spliced into the forward pass at every step"}

    def recovered_words(self) -> str:
        """The loss recovered, or why there is none."""
        if self.loss_recovered is None:
            return "n/a: the model has no hook points"
        if not np.isfinite(self.loss_recovered):
            return ("n/a: with the reconstruction spliced in at every step the state diverged (non-finite loss): "
                    "the reconstruction's error compounds through the recurrence")
        return f"{self.loss_recovered:.3f}"

    def summary(self) -> str:
        recovered = self.recovered_words()
        lines = [f"SAE on {self.key}: {self.options.describe()}",
                 f"held out ({self.info['test']['positions']:,} rows of {self.info['test']['source']}): L0 "
                 f"{self.l0:.2f}, variance explained {self.variance_explained:.3f}, dead latents "
                 f"{self.dead_fraction:.1%}, loss recovered {recovered}",
                 f"{'feature':<20} {'metric':>6} {'latent':>7} {'score':>7} {'unit':>5} {'score':>7}  top context"]
        for f in self.features:
            context = f["contexts"][0] if f["contexts"] else ""
            lines.append(f"{f['feature']:<20} {f['metric']:>6} {f['latent']:>7} {f['score']:>7.3f} "
                         f"{f['best_unit']['unit']:>5} {f['best_unit']['score']:>7.3f}  {context[-30:]}")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """sae.safetensors (weights, options in the metadata), latents.csv (every live latent) and sae.png."""
        save_tensors(out / "sae.safetensors", {name: value for name, value in self.sae.state_dict().items()},
                     {"key": self.key, **asdict(self.options), "model": self.info.get("model")})
        write_csv(out / "latents.csv", ["latent", "frequency", "mean_active", "best_feature", "metric", "score",
                                        "top_contexts"],
                  [[i.latent, i.frequency, i.mean_active, *(
                      (i.matches[0]["feature"], i.matches[0]["metric"], i.matches[0]["score"]) if i.matches
                      else ("", "", "")), " | ".join(i.contexts)] for i in self.latents_info])
        save_figure(self.plot(), out / "sae.png")

    def plot(self):
        """Left: how often each latent fires on held-out text; right: per feature, best latent against best unit."""
        figure = new_figure(figsize=(11, 0.3 * max(len(self.features), 8) + 1.5))
        left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.4]})
        frequencies = np.array([i.frequency for i in self.latents_info])
        live = frequencies[frequencies > 0]
        if len(live):
            left.hist(np.log10(live), bins=40, color="tab:blue")
        left.set_xlabel("log10 share of held-out characters where the latent is active")
        left.set_ylabel("latents")
        left.set_title(f"{self.key}: {len(live)} live of {self.options.latents} latents, L0 {self.l0:.1f}, "
                       f"var. expl. {self.variance_explained:.3f}", fontsize=9)
        names = [f"{f['feature']} ({f['metric']})" for f in self.features]
        place = np.arange(len(names))
        right.barh(place - 0.2, [f["score"] for f in self.features], 0.4, label="best SAE latent", color="tab:orange")
        right.barh(place + 0.2, [f["best_unit"]["score"] for f in self.features], 0.4, label="best single unit",
                   color="tab:gray")
        right.set_yticks(place, names, fontsize=8)
        right.invert_yaxis()
        right.set_xlim(0, 1)
        right.set_xlabel("AUC (on/off features) or |r| (numeric)")
        right.legend(fontsize=8, loc="lower right")
        right.set_title("does a latent match the feature better than any unit?", fontsize=9)
        figure.tight_layout()
        return figure


def context_of(text: str, row: int) -> str:
    """The ``CONTEXT`` characters up to row ``row``'s character, which is shown in [brackets], spelled."""
    before = text[max(row - CONTEXT, 0):row]
    return "".join(spell(c) if c in "\n\t" else c for c in before) + f"[{spell(text[row])}]"


def match_latents(codes: np.ndarray, values: dict[str, np.ndarray], features: dict[str, Feature]) -> np.ndarray:
    """``(m, F)``: raw AUC (on/off features) or r (numeric) of each latent's codes ``(T, m)`` with each feature."""
    scores = np.full((codes.shape[1], len(features)), np.nan)
    binary = [i for i, f in enumerate(features.values()) if f.kind == "binary"]
    numeric = [i for i, f in enumerate(features.values()) if f.kind == "numeric"]
    columns = list(values.values())
    for start in range(0, codes.shape[1], BLOCK):
        block = codes[:, start:start + BLOCK]
        if binary:
            scores[start:start + BLOCK, binary] = aucs(block, np.stack([columns[i] for i in binary], 1))
        if numeric:
            scores[start:start + BLOCK, numeric] = correlations(block, np.stack([columns[i] for i in numeric], 1))
    return scores


def best_unit_scores(x: np.ndarray, values: dict[str, np.ndarray], features: dict[str, Feature]) -> list[dict]:
    """For each feature, the unit of ``x`` ``(T, d)`` that scores best as ``cells`` scores it, and its score."""
    raw = match_latents(x, values, features)
    best = []
    for i, feature in enumerate(features.values()):
        folded = fold(raw[:, i], feature.kind)
        unit = int(np.nanargmax(folded)) if np.isfinite(folded).any() else -1
        best.append({"unit": unit, "score": float(folded[unit]) if unit >= 0 else None})
    return best


def describe_latents(codes: np.ndarray, scores: np.ndarray, text: str, features: dict[str, Feature]) -> list[LatentInfo]:
    """A ``LatentInfo`` for each latent active somewhere in ``codes`` ``(T, m)``; ``scores`` from ``match_latents``."""
    names, metrics = list(features), ["AUC" if f.kind == "binary" else "r" for f in features.values()]
    active = codes > 0
    infos = []
    for latent in np.flatnonzero(active.any(axis=0)):
        column = codes[:, latent]
        top = np.argsort(column)[::-1][:TOP]
        order = np.argsort(np.where(np.isfinite(scores[latent]), scores[latent], -np.inf))[::-1][:3]
        infos.append(LatentInfo(int(latent), float(active[:, latent].mean()), float(column[active[:, latent]].mean()),
                                [context_of(text, int(row)) for row in top if column[row] > 0],
                                [{"feature": names[j], "metric": metrics[j], "score": float(scores[latent, j])}
                                 for j in order if np.isfinite(scores[latent, j])]))
    return infos


def fit_sae(train: Trace, test: Trace, key: str, options: SAEOptions, features: dict[str, Feature],
            predictor: Predictor | None = None, log: Callable[[str], None] = lambda _: None) -> SAEResult:
    """Train an SAE on ``train[key]`` and evaluate it on ``test[key]``: metrics, latents and feature matches.

    ``features`` are scored on the held-out rows (those constant there are
    left out); ``predictor``, the traced model, serves ``loss_recovered``.
    """
    if options.topk is not None and options.topk > options.latents:
        raise RnnlensError(f"top-k {options.topk} exceeds the {options.latents} latents",
                           "give a k no larger than the number of latents", option="topk")
    sae = train_sae(np.asarray(train[key]), options, log)
    x = np.asarray(test[key], dtype=np.float32)
    codes = sae.codes(x)
    values = {name: feature(test.text)[:test.positions] for name, feature in features.items()}
    features = {name: f for name, f in features.items() if np.ptp(values[name]) > 0}
    values = {name: values[name] for name in features}
    scores = match_latents(codes, values, features)
    units = best_unit_scores(x, values, features)
    per_feature = []
    for i, (name, feature) in enumerate(features.items()):
        strength = np.abs(scores[:, i]) if feature.kind == "numeric" else scores[:, i]
        if not np.isfinite(strength).any():  # no latent is active on the held-out text
            continue
        latent = int(np.nanargmax(strength))
        column = codes[:, latent]
        top = np.argsort(column)[::-1][:TOP]
        per_feature.append({"feature": name, "metric": "AUC" if feature.kind == "binary" else "|r|", "latent": latent,
                            "score": float(strength[latent]),
                            "contexts": [context_of(test.text, int(r)) for r in top if column[r] > 0],
                            "best_unit": units[i]})
    info = {"model": train.info.get("model"), "model_description": train.info.get("model_description"),
            "train": {**train.info["text"], "positions": train.positions},
            "test": {**test.info["text"], "positions": test.positions}}
    recovered = None if predictor is None else loss_recovered(predictor, test, key, sae.reconstruct)
    return SAEResult(key, options, float((codes > 0).sum(axis=1).mean()), variance_explained(x, sae.reconstruct(x)),
                     recovered, float(1 - (codes > 0).any(axis=0).mean()), per_feature,
                     describe_latents(codes, scores, test.text, features), info, sae)
