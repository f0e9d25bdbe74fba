"""Linear CKA (Kornblith et al. 2019): how alike two representations of the same characters are.

For ``X`` ``(n, p)`` and ``Y`` ``(n, q)``, the values of two keys (layers,
quantities, snapshots, models) over the same ``n`` characters, each column
centred::

    CKA(X, Y) = ||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F)

the HSIC of their linear kernels normalised to lie in [0, 1]. It is 1 for
``Y = X Q s`` (any rotation ``Q``, any scale ``s``), so two layers that hold
the same information in different units compare as equal; unlike a per-unit
correlation it needs no matching of units. Computed in feature space (``p x
q`` products), never as an ``n x n`` kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlens.analyses.result import Result
from rnnlens.render.figures import save_figure
from rnnlens.render.heatmap import heat_map
from rnnlens.store.atomic import write_csv

TABLE_UP_TO = 12  # labels beyond which the summary lists neighbours instead of printing the whole matrix


def centred(x: np.ndarray) -> np.ndarray:
    """``x`` ``(n, p)`` as float64 with each column's mean removed."""
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=0)


def cka_matrix(representations: list[np.ndarray]) -> np.ndarray:
    """``(k, k)`` linear CKA between every two of ``k`` representations ``(n, p_i)`` of the same ``n`` rows.

    NaN where a representation is constant (it has no variance to compare).
    """
    xs = [centred(x) for x in representations]
    norms = [np.linalg.norm(x.T @ x) for x in xs]
    matrix = np.full((len(xs), len(xs)), np.nan)
    for i, x in enumerate(xs):
        for j in range(i, len(xs)):
            if norms[i] > 0 and norms[j] > 0:
                matrix[i, j] = matrix[j, i] = np.linalg.norm(xs[j].T @ x) ** 2 / (norms[i] * norms[j])
    return matrix


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x`` ``(n, p)`` and ``y`` ``(n, q)``."""
    return float(cka_matrix([x, y])[0, 1])


@dataclass
class CKA(Result):
    """Linear CKA between every two labelled representations; ``labels`` name keys, or ``SOURCE:key``."""

    name = "cka"
    labels: list[str]
    matrix: np.ndarray
    text: dict  # identity of the text and its rows
    sources: dict  # each source (a model, a snapshot) and what it is

    def to_dict(self) -> dict:
        return {"labels": self.labels,
                "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in self.matrix],
                "text": self.text, "sources": self.sources,
                "method": "linear CKA (Kornblith et al. 2019) over the text's rows, columns centred; null where a "
                          "representation is constant"}

    def summary(self) -> str:
        """The matrix when it is small; else each label's CKA with the next and the last label of its key."""
        if len(self.labels) <= TABLE_UP_TO:
            width = max(len(label) for label in self.labels)
            lines = [" " * width + "".join(f" {i:>6}" for i in range(len(self.labels)))]
            lines += [f"{label:<{width}}" + "".join(f" {v:>6.3f}" for v in row) + f"  ({i})"
                      for i, (label, row) in enumerate(zip(self.labels, self.matrix))]
        else:
            lines = [f"{'label':<40} {'with next':>10} {'with last':>10}  (the next and last of the same key)"]
            for i, label in enumerate(self.labels):
                same = [j for j, other in enumerate(self.labels) if key_of(other) == key_of(label)]
                later = [j for j in same if j > i]
                lines.append(f"{label:<40} {self.matrix[i, later[0]] if later else np.nan:>10.3f} "
                             f"{self.matrix[i, same[-1]]:>10.3f}")
        lines.append(f"(linear CKA over {self.text['positions']:,} rows of {self.text['source']})")
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """cka.csv (the matrix with its labels) and cka.png (its heat map) beside cka.json."""
        write_csv(out / "cka.csv", ["label", *self.labels],
                  [[label, *row] for label, row in zip(self.labels, self.matrix.tolist())])
        save_figure(self.plot(), out / "cka.png")

    def plot(self):
        return heat_map(self.matrix, self.labels, self.labels,
                        f"Linear CKA on {self.text['source']} ({self.text['positions']:,} rows)", "linear CKA",
                        limits=(0.0, 1.0))


def key_of(label: str) -> str:
    """The trace key of a label: ``layer2.hidden`` of ``snapshot-000500:layer2.hidden``."""
    return label.rsplit(":", 1)[-1]


def compare_representations(representations: dict[str, np.ndarray], text: dict, sources: dict) -> CKA:
    """CKA between the ``(n, p_i)`` arrays of ``representations`` (label -> array, in order) over ``text``'s rows."""
    labels = list(representations)
    return CKA(labels, cka_matrix([representations[label] for label in labels]), text, sources)
