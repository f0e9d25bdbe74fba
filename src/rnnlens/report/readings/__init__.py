"""A short reading of each result: its table for the page, and each finding of the paper checked against it.

One module per analysis key, each with one function from the results' JSON
(what ``--json`` prints), the paper's numbers and claims of that section
(``paper_numbers.toml``) and the other sections' results to a ``Reading``.
The rules of a verdict are in ``common``.
"""

from __future__ import annotations

from typing import Callable

from rnnlens.report.readings.ablation import read_ablation
from rnnlens.report.readings.advantage import read_advantage
from rnnlens.report.readings.brackets import read_brackets
from rnnlens.report.readings.cells import read_cells
from rnnlens.report.readings.cka import read_cka
from rnnlens.report.readings.common import Context, Finding, Reading, Table
from rnnlens.report.readings.compare import read_compare
from rnnlens.report.readings.context import read_context
from rnnlens.report.readings.dynamics import read_dynamics
from rnnlens.report.readings.onion import read_onion
from rnnlens.report.readings.overlap import read_overlap
from rnnlens.report.readings.probes import read_probes
from rnnlens.report.readings.sae import read_sae
from rnnlens.report.readings.saturation import read_saturation
from rnnlens.report.readings.table2 import read_table2

READINGS: dict[str, Callable[[list[dict], Context], Reading]] = {
    "table2": read_table2, "compare": read_compare, "cells": read_cells, "saturation": read_saturation,
    "overlap": read_overlap, "advantage": read_advantage, "brackets": read_brackets, "dynamics": read_dynamics,
    "onion": read_onion, "ablate": read_ablation, "context": read_context, "probe": read_probes, "sae": read_sae,
    "cka": read_cka, "cka_snapshots": read_cka,
}

__all__ = ["Context", "Finding", "Reading", "Table", "READINGS", "reading_for",
           *(f.__name__ for f in READINGS.values())]


def reading_for(key: str, results: list[dict], ctx: Context) -> Reading:
    """The reading of ``results``; a result without the keys a reading expects gets one finding saying so."""
    reader = READINGS.get(key)
    if reader is None or not results:
        return Reading()
    try:
        return reader(results, ctx)
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as err:
        return Reading(findings=[Finding("reading this result", "cannot say",
                                         f"its JSON lacks what the reading expects ({type(err).__name__}: {err})")])
