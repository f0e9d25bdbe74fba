"""The reproduction pipeline: a graph of idempotent stages, each one rnnlens command, run locally or on Ray.

``config`` reads the TOML configs (presets in ``presets/``), ``plan`` turns
one into stages (``stages``: digests, directories, markers) over the
analyses of ``analyses``, ``schedule`` runs them on a runner (``runners``:
local worker processes or Ray tasks, each job run by ``execute``), and
``progress`` prints the overview. ``rnnlens.report`` writes the page.
"""
