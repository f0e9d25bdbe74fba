"""Linear probes with control tasks (Hewitt & Liang 2019): what each layer's state holds of each text feature,
and how much of it one unit carries.

For each trace key (a layer's hidden state, cell, a gate) and each text
feature, a linear probe is fitted on the rows of one text (training) and
scored on the rows of another (held out), the units standardised with the
training rows' mean and spread:

- binary feature: logistic regression, scored by the held-out ROC AUC;
- categorical (``char_class``): multinomial logistic regression, accuracy;
- numeric: ridge regression, R².

**Control task.** Each character type gets a label drawn at random from the
feature's labels over the training rows (the same output space, and the same
label distribution in expectation); a row's control label is that of the
character it just read. Any state holds the character it just read, so a probe
that merely reads characters scores as well on the control as on the feature:
``selectivity = score - control`` is what the layer holds beyond it.

**Best single unit.** The unit most correlated with the feature on the
training rows (for a category, the highest ANOVA F) is probed alone the same
way. Its ``share`` of the layer's score is ``(unit - chance) / (layer -
chance)``, chance being AUC 0.5, R² 0, or the accuracy of always answering
the training rows' most frequent class: the paper's single cell against the
distributed code.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import f_classif
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

from rnnlens.analyses.interpretable_cells import pearson
from rnnlens.analyses.result import Result
from rnnlens.data.corpus import _codepoints as codepoints
from rnnlens.data.features import CHAR_CLASSES, Feature, char_class
from rnnlens.models.trace import Trace
from rnnlens.render.figures import save_figure
from rnnlens.render.heatmap import heat_map
from rnnlens.store.atomic import write_csv

METRICS = {"binary": "AUC", "categorical": "accuracy", "numeric": "R2"}
C = 1.0  # inverse L2 strength of the logistic probes (scikit-learn's default) on standardised units
ALPHA = 1.0  # ridge penalty on standardised units
MAX_ITER = 300  # lbfgs iterations; a probe stopped short scores lower, never higher, than its converged self
# a layer's lead over chance below which a unit's share of it is noise (an AUC of 0.501 gave shares of -13)
MIN_LEAD = 0.05
CONTROL_DRAWS = 100  # tries to draw a control task with at least two labels on both texts


@dataclass(frozen=True)
class Task:
    """A feature's labels on the training rows ``(T1,)`` and the held-out rows ``(T2,)``."""

    feature: str
    kind: str  # "binary", "categorical" or "numeric"
    train: np.ndarray
    test: np.ndarray

    @property
    def metric(self) -> str:
        return METRICS[self.kind]

    def scorable(self) -> bool:
        """Both texts vary: two classes on each (binary), two classes in training (categorical), not constant."""
        if self.kind == "binary":
            return all(len(np.unique(labels)) == 2 for labels in (self.train, self.test))
        if self.kind == "categorical":
            return len(np.unique(self.train)) > 1
        return np.ptp(self.train) > 0 and np.ptp(self.test) > 0

    def chance(self) -> float:
        """The score of a probe that knows nothing: AUC 0.5, R² 0, the most frequent training class's accuracy."""
        if self.kind == "binary":
            return 0.5
        if self.kind == "numeric":
            return 0.0
        classes, counts = np.unique(self.train, return_counts=True)
        return float(np.mean(self.test == classes[np.argmax(counts)]))


def control_task(task: Task, train_chars: np.ndarray, test_chars: np.ndarray, rng: np.random.Generator) -> Task | None:
    """Hewitt & Liang's control: each character type (codepoints ``train_chars`` ``(T1,)``, ``test_chars``
    ``(T2,)``) gets a label drawn from ``task``'s training labels; None when no draw is scorable."""
    types = np.union1d(train_chars, test_chars)
    train_type, test_type = np.searchsorted(types, train_chars), np.searchsorted(types, test_chars)
    for _ in range(CONTROL_DRAWS):
        drawn = rng.choice(task.train, size=len(types))
        control = Task(task.feature, task.kind, drawn[train_type], drawn[test_type])
        if control.scorable():
            return control
    return None


def probe_score(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """The held-out score of a linear probe fitted on ``x_train`` ``(T1, U)`` -> ``y_train`` ``(T1,)``."""
    scaler = StandardScaler().fit(x_train)
    # float64: on float32 units scikit-learn's logistic loss warned of NaN in a matmul (one-hot units); not so here
    x_train, x_test = (scaler.transform(x).astype(np.float64) for x in (x_train, x_test))
    if kind == "numeric":
        return float(r2_score(y_test, Ridge(alpha=ALPHA).fit(x_train, y_train).predict(x_test)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe = LogisticRegression(C=C, max_iter=MAX_ITER).fit(x_train, y_train)
    if kind == "binary":
        return float(roc_auc_score(y_test, probe.decision_function(x_test)))
    return float(accuracy_score(y_test, probe.predict(x_test)))


def best_unit(kind: str, x_train: np.ndarray, y_train: np.ndarray) -> int:
    """The unit (column of ``x_train`` ``(T1, U)``) most correlated with ``y_train`` (categories: highest F)."""
    if kind == "categorical":
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore")  # a constant unit has no F: NaN, never chosen
            strength = f_classif(x_train, y_train)[0]
    else:
        strength = np.abs(pearson(x_train, y_train))
    return int(np.nanargmax(np.where(np.isfinite(strength), strength, np.nan)))


@dataclass
class ProbeScore:
    """One key's probe of one feature: its held-out score, the control's, and its best single unit."""

    feature: str
    key: str
    kind: str
    metric: str
    score: float
    control: float | None  # None: no control task with two labels could be drawn
    selectivity: float | None  # score - control
    chance: float
    best_unit: dict  # {"unit", "score", "share"}: share = (unit - chance) / (score - chance), None when the layer
    # leads chance by less than MIN_LEAD

    def to_dict(self) -> dict:
        return asdict(self)


def probe_key(key: str, x_train: np.ndarray, x_test: np.ndarray, task: Task, control: Task | None) -> ProbeScore:
    """Probe ``task`` (and its ``control``) from one key's ``(T1, U)`` training and ``(T2, U)`` held-out values."""
    score = probe_score(task.kind, x_train, task.train, x_test, task.test)
    control_score = None if control is None else probe_score(task.kind, x_train, control.train, x_test, control.test)
    unit = best_unit(task.kind, x_train, task.train)
    unit_score = probe_score(task.kind, x_train[:, [unit]], task.train, x_test[:, [unit]], task.test)
    chance = task.chance()
    share = (unit_score - chance) / (score - chance) if score - chance >= MIN_LEAD else None
    return ProbeScore(task.feature, key, task.kind, task.metric, score, control_score,
                      None if control_score is None else score - control_score, chance,
                      {"unit": unit, "score": unit_score, "share": share})


def feature_tasks(train: Trace, test: Trace, features: dict[str, Feature],
                  with_char_class: bool = True) -> tuple[list[Task], list[str]]:
    """The scorable tasks of ``features`` (and ``char_class``) on the two traces' rows, and the names of the others.

    A feature is computed on the whole traced text (as ``cells`` does), then cut to the rows.
    """
    def rows(function, trace: Trace) -> np.ndarray:
        return function(trace.text)[:trace.positions]

    tasks = [Task(name, feature.kind, rows(feature, train), rows(feature, test)) for name, feature in features.items()]
    if with_char_class:
        tasks.append(Task("char_class", "categorical", rows(char_class, train), rows(char_class, test)))
    return [t for t in tasks if t.scorable()], [t.feature for t in tasks if not t.scorable()]


@dataclass
class Probes(Result):
    """Every key's probe of every feature, with controls and best units (``ProbeScore``), in key then feature order."""

    name = "probes"
    scores: list[ProbeScore]
    skipped: list[str]  # features constant (or of one class) on a text: not probed
    info: dict
    train: dict  # identity of the training text and its rows
    test: dict

    def to_dict(self) -> dict:
        return {
            "probes": [s.to_dict() for s in self.scores],
            "skipped": self.skipped,
            "train": self.train,
            "test": self.test,
            "info": self.info,
            "method": {"binary": f"logistic regression (C={C}), held-out ROC AUC",
                       "categorical": f"multinomial logistic regression (C={C}), held-out accuracy; classes "
                                      f"{', '.join(CHAR_CLASSES)}",
                       "numeric": f"ridge regression (alpha={ALPHA}), held-out R2",
                       "units": "standardised with the training rows' mean and spread",
                       "control": "each character type gets a label drawn from the feature's training labels "
                                  "(Hewitt & Liang 2019); selectivity = score - control",
                       "best_unit": "the unit most correlated with the feature on the training rows (categorical: "
                                    "highest ANOVA F), probed alone; share = (unit - chance) / (score - chance), null when score - chance < "
                                    f"{MIN_LEAD}"},
        }

    def summary(self) -> str:
        """One line per key and feature: score, control, selectivity, best unit and its share."""
        lines = [f"{'key':<20} {'feature':<18} {'metric':>8} {'score':>7} {'control':>8} {'select.':>8} "
                 f"{'unit':>5} {'u.score':>8} {'share':>6}", "-" * 96]
        for s in self.scores:
            unit = s.best_unit
            lines.append(f"{s.key:<20} {s.feature:<18} {s.metric:>8} {s.score:>7.3f} {number(s.control):>8} "
                         f"{number(s.selectivity):>8} {unit['unit']:>5} {unit['score']:>8.3f} {number(unit['share']):>6}")
        lines.append(f"(fitted on {self.train['positions']:,} rows of {self.train['source']}, scored on "
                     f"{self.test['positions']:,} rows of {self.test['source']}; control: labels drawn at random per "
                     "character type; share: the best unit's part of the layer's score above chance)")
        if self.skipped:
            lines.append(f"(constant or of one class on a text, not probed: {', '.join(self.skipped)})")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """probes.csv and probes.png (selectivity per feature and key) beside probes.json."""
        write_csv(out / "probes.csv", ["key", "feature", "kind", "metric", "score", "control", "selectivity",
                                       "chance", "best_unit", "best_unit_score", "best_unit_share"],
                  [[s.key, s.feature, s.kind, s.metric, s.score, s.control, s.selectivity, s.chance,
                    s.best_unit["unit"], s.best_unit["score"], s.best_unit["share"]] for s in self.scores])
        if self.scores:
            save_figure(self.plot(), out / "probes.png")

    def plot(self):
        """Heat map of selectivity, features down and keys across (grey: no control)."""
        keys = list(dict.fromkeys(s.key for s in self.scores))
        features = list(dict.fromkeys(s.feature for s in self.scores))
        metric = {s.feature: s.metric for s in self.scores}
        matrix = np.full((len(features), len(keys)), np.nan)
        for s in self.scores:
            if s.selectivity is not None:
                matrix[features.index(s.feature), keys.index(s.key)] = s.selectivity
        model = self.info.get("model_description", "")
        reach = float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 1.0
        return heat_map(matrix, [f"{f} ({metric[f]})" for f in features], keys,
                        f"Probe selectivity (score - control task): {model}\nheld out: {self.test['source']}",
                        "selectivity", limits=(-reach, reach), cmap="RdBu_r")


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def read_characters(trace: Trace) -> np.ndarray:
    """``(positions,)``: the codepoint of the character each row has just read (row t: ``text[t]``)."""
    return codepoints(trace.text[:trace.positions])


def run_probes(train: Trace, test: Trace, keys: list[str], features: dict[str, Feature],
               with_char_class: bool = True, seed: int = 0) -> Probes:
    """Probe every key of ``keys`` (in both traces) for every feature: fitted on ``train``, scored on ``test``.

    ``features`` are registered features by name; ``with_char_class`` adds the
    categorical ``char_class``; ``seed`` fixes the control tasks' draws (one
    per feature, shared by every key).
    """
    tasks, skipped = feature_tasks(train, test, features, with_char_class)
    rng = np.random.default_rng(seed)
    controls = {t.feature: control_task(t, read_characters(train), read_characters(test), rng) for t in tasks}
    scores = []
    for key in keys:
        x_train, x_test = np.asarray(train[key], dtype=np.float32), np.asarray(test[key], dtype=np.float32)
        scores += [probe_key(key, x_train, x_test, task, controls[task.feature]) for task in tasks]
    info = {k: train.info[k] for k in ("model", "model_description") if k in train.info}
    return Probes(scores, skipped, info, {**train.info["text"], "positions": train.positions},
                  {**test.info["text"], "positions": test.positions})
