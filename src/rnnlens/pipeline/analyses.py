"""The analyses ``rnnlens reproduce`` knows: one declarative entry per command, in the paper's order.

To add an analysis to the pipeline and the report, add one ``Analysis``
entry here (its command must take model directories, ``--split``/``--text``
and ``--out``, and write ``RESULT`` there); a config then runs it with an
``[analyses.KEY]`` section naming its models and any of its options. The
report shows its figures and JSON beside the paper's section; a reading of
its findings is one function in ``rnnlens.report.readings``. Analyses the
paper did not make follow its figures, in the section ``BEYOND``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TABLE2 = "table2"  # the stage of rnnlens baselines: Table 2, and the n-gram and n-NN models others use
BEYOND = "Beyond the paper"  # the section of the analyses the paper did not make (issues 19 and 20)


@dataclass(frozen=True)
class Analysis:
    """How to run one analysis command on models of the grid or the baselines.

    ``per_model``: one stage per model (``KEY-MODEL``) rather than one over
    all of them; ``models``: how many models one stage takes (least, most;
    None: any); ``model_options``: options whose values are models (given as
    their directories); ``stage_options``: options whose value is another
    stage's output; ``train_options``: config keys handed to the trainings
    of the analysis's models (not options of the analysis itself);
    ``figures``: the PNGs to show first, in this order (the others follow);
    ``fixed``: flags every stage of it is given (one command read two ways).
    """

    key: str
    command: str
    section: str
    title: str
    result: str
    per_model: bool = False
    models: tuple[int, int | None] = (1, None)
    model_options: tuple[str, ...] = ()
    stage_options: dict[str, str] = field(default_factory=dict)
    train_options: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()


ANALYSES = (
    Analysis("compare", "compare", "Figure 1", "Model comparison: test loss, agreement, t-SNE", "compare.json",
             models=(2, None), figures=("losses.png", "tsne.png", "agreement.png")),
    Analysis("cells", "cells", "Figure 2", "Interpretable cells", "cells.json", per_model=True, models=(1, 1)),
    Analysis("saturation", "saturation", "Figure 3", "Gate saturation", "saturation.json", per_model=True,
             models=(1, 1)),
    Analysis("overlap", "overlap", "Figure 4", "Error overlap", "overlap.json", models=(2, None)),
    Analysis("advantage", "advantage", "Figure 4", "Per-character advantage", "advantage.json", models=(2, 2)),
    Analysis("brackets", "brackets", "Figure 5", "Closing brackets by distance", "brackets.json"),
    Analysis("dynamics", "dynamics", "Figure 5", "Training dynamics against n-NN models", "dynamics.json",
             per_model=True, models=(1, 1), model_options=("against",), train_options=("snapshot_every",)),
    Analysis("onion", "onion", "Figure 6", "Error breakdown (the onion)", "onion.json", models=(1, 2),
             stage_options={"ngram_dir": TABLE2}),
    Analysis("ablate", "ablate", BEYOND, "Ablation of the discovered cells against random units", "ablation.json",
             per_model=True, models=(1, 1)),
    Analysis("context", "context", BEYOND, "Effective context", "context.json"),
    Analysis("probe", "probe", BEYOND, "Linear probes with control tasks", "probes.json", per_model=True,
             models=(1, 1)),
    Analysis("sae", "sae", BEYOND, "Sparse autoencoder latents against single cells", "sae.json", per_model=True,
             models=(1, 1)),
    Analysis("cka", "cka", BEYOND, "CKA between layers (or models)", "cka.json"),
    Analysis("cka_snapshots", "cka", BEYOND, "CKA across the snapshots of a training", "cka.json", models=(1, 1),
             train_options=("snapshot_every",), fixed=("--snapshots",)),
)
BY_KEY = {a.key: a for a in ANALYSES}
