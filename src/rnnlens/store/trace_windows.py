"""In-memory traces of the first characters of a text, with the keys asked for by name or by quantity.

``probe`` and ``sae`` fit on one text and score on another, and ``cka`` holds
several traces at once, so each traces a window of a text rather than a whole
split: a 2-layer LSTM of 1.3M parameters holds 3,744 values a position in its
12 keys, 1.5 GB for 100,000 characters.
"""

from __future__ import annotations

from typing import Callable

from rnnlens.data.texts import Text, first_chars, text_for
from rnnlens.errors import RnnlensError
from rnnlens.models.predictor import Predictor
from rnnlens.models.trace import PER_UNIT, Trace, parse_layer_key
from rnnlens.store.traces import available_keys, compute_trace, key_axes


def layer_keys(predictor: Predictor, asked: list[str] | None = None) -> list[str]:
    """The per-layer trace keys of ``predictor`` whose columns are units (axes ``PER_UNIT``) that ``asked``
    names, in the kind's order (None: all of them).

    Each name is a key (``layer2.cell``) or a quantity (``cell``: that quantity in every layer).
    """
    axes = key_axes(predictor, [key for key in available_keys(predictor)[0] if parse_layer_key(key)])
    every = [key for key, names in axes.items() if tuple(names) == PER_UNIT]
    if asked is None:
        return every
    other = [f"{key} has axes ({', '.join(names)})" for key, names in axes.items() if key in asked and key not in every]
    if other:
        raise RnnlensError(f"{'; '.join(other)}, not (position, unit); choose among {', '.join(every)}")
    unknown = [name for name in asked if not any(name in (key, parse_layer_key(key)[1]) for key in every)]
    if unknown:
        raise RnnlensError(f"{predictor.description} has no {', '.join(unknown)}; its keys are {', '.join(every)} "
                           "(a quantity such as cell names it in every layer)")
    return [key for key in every if key in asked or parse_layer_key(key)[1] in asked]


def window_text(predictor: Predictor, split: str | None, file: str | None, limit: int | None,
                skip_unknown: bool = False, data_dir: str | None = None) -> Text:
    """The first ``limit`` characters (None: all) of a split of ``predictor``'s corpus or of ``file``."""
    text = text_for(predictor.vocab, predictor.corpus_spec, split=split, file=file, skip_unknown=skip_unknown,
                    data_dir=data_dir)
    if len(text.ids) < 3:
        raise RnnlensError(f"{text.source} has {len(text.ids)} characters; give a text of at least 3")
    return text if limit is None else first_chars(text, limit)


def window_trace(predictor: Predictor, text: Text, keys: list[str], progress: bool = False,
                 log: Callable[[str], None] = lambda _: None) -> Trace:
    """``predictor``'s trace of ``keys`` over ``text``, in memory; says what it traced."""
    trace = compute_trace(predictor, text, keys=set(keys), progress=progress)
    log(f"traced {', '.join(keys)}: {trace.description}")
    return trace
