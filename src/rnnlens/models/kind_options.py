"""What a trainable kind offers ``rnnlens train --kind NAME``: its model's options, one flag each.

A trainable kind's registry module declares ``TRAIN_OPTIONS`` (a tuple of
``KindOption``) and ``LOOP_OPTIONS`` (its ``LoopOptions`` dataclass: epochs,
learning rate, batches ...), and builds trainers with ``new_trainer`` and
``resumed_trainer`` (see ``rnnlens.models.registry``). The command line turns
each option into a flag; the Python API passes the same keys in a spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class KindOption:
    """One option of a kind's model.

    ``key``: its key in the spec (and in ``config.json``'s ``model`` where it is recorded); ``flag``: its
    command-line flag; ``one_of``: options that share this name are alternatives, of which a new run takes
    exactly one (a size given as units or as a parameter budget); ``new_runs_only``: it fixes something a
    resumed run keeps as recorded, so a resume refuses it.
    """

    key: str
    flag: str
    help: str
    type: Callable[[str], Any] = str
    choices: tuple | None = None
    required: bool = False
    one_of: str | None = None
    new_runs_only: bool = False

    @property
    def dest(self) -> str:
        """The attribute the parsed flag lands in: ``--seq-length`` -> ``seq_length``."""
        return self.flag.lstrip("-").replace("-", "_")


def missing_options(options: tuple[KindOption, ...], given: dict[str, Any]) -> list[str]:
    """The flags a new run still needs, given spec ``given``: each required option, and one of each ``one_of``."""
    missing = [o.flag for o in options if o.required and given.get(o.key) is None]
    for group in dict.fromkeys(o.one_of for o in options if o.one_of):
        members = [o for o in options if o.one_of == group]
        if all(given.get(o.key) is None for o in members):
            missing.append(" or ".join(o.flag for o in members))
    return missing
