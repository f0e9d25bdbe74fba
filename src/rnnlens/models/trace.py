"""A trace: named per-character internals of a model over a text, as a read-only mapping of arrays.

Keys say layer and quantity, ``layer2.cell``, ``layer1.forget_gate`` (layers
count from 1), beside ``prob`` (the probability of each actual next
character) and optionally ``distribution``. For a text of ``N`` ids there are
``N-1`` rows: row ``t`` is the state *after reading* ``ids[t]``, the one that
predicts ``ids[t+1]``, so ``text[t]`` is the character a cell picture colours
with row ``t``. Each model kind says which quantities it has and which of
them are gates (``info["gates"]``); analyses ask the trace, never the kind.
Arrays may be memory-mapped files (``rnnlens.store.traces``).

Every key declares its axes (``Trace.axes``): per-layer quantities are
``(position, unit)``, ``prob`` is ``(position,)`` and ``distribution`` is
``(position, character)``, unless the kind declares others (``trace_axes`` in
its registry module), such as ``(position, key_position)`` for an attention
pattern. Whatever treats columns as units asks for ``PER_UNIT`` keys.
"""

from __future__ import annotations

import math
import mmap
import re
from collections.abc import Mapping
from typing import Iterable, Iterator

import numpy as np

from rnnlens.errors import RnnlensError

_LAYER_KEY = re.compile(r"layer(\d+)\.(\w+(?:\.\w+)*)")  # layer2.cell, layer1.head3.pattern
PER_UNIT = ("position", "unit")
DEFAULT_AXES = {"prob": ("position",), "distribution": ("position", "character")}


def default_axes(key: str) -> tuple[str, ...]:
    """The axes of ``key`` when its kind declares none: ``(position, unit)`` for a per-layer quantity."""
    return DEFAULT_AXES.get(key, PER_UNIT)


def layer_key(layer: int, quantity: str) -> str:
    """The trace key of a quantity of a layer (layers count from 1): ``layer2.cell``."""
    return f"layer{layer}.{quantity}"


def parse_layer_key(key: str) -> tuple[int, str] | None:
    """``(layer, quantity)`` of a per-layer key, None for ``prob`` or ``distribution``."""
    match = _LAYER_KEY.fullmatch(key)
    return (int(match.group(1)), match.group(2)) if match else None


class Trace(Mapping):
    """A model's trace over a text: a read-only mapping from key to array.

    ``text`` is the traced text (``N`` characters; row ``t`` belongs to
    ``text[t]``); ``info`` describes the model (``info["model"]``), the text,
    which keys are gates (``info["gates"]``) and the axes its kind declares
    (``info["axes"]``: key -> axis names; a trace stored before axes were
    declared has none, and ``default_axes`` holds for its keys).
    """

    def __init__(self, arrays: dict[str, np.ndarray], text: str, info: dict) -> None:
        self._arrays = dict(arrays)
        self.text = text
        self.info = info

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self._arrays[key]
        except KeyError:
            raise RnnlensError(f"the trace has no {key!r}; it holds {', '.join(self._arrays)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def positions(self) -> int:
        """Number of rows ``N-1``."""
        return len(self._arrays["prob"]) if "prob" in self._arrays else max(len(self.text) - 1, 0)

    @property
    def layers(self) -> list[int]:
        """The layer numbers the trace holds quantities of, ascending."""
        return sorted({parsed[0] for parsed in map(parse_layer_key, self._arrays) if parsed})

    def quantities(self, layer: int) -> list[str]:
        """The quantities stored for ``layer``, in key order."""
        return [q for key in self._arrays if (parsed := parse_layer_key(key)) and parsed[0] == layer
                for q in [parsed[1]]]

    def gates(self) -> list[str]:
        """The gate quantities the model has (``forget_gate`` ...), in the kind's order; [] for none."""
        names = [parse_layer_key(key)[1] for key in self.info.get("gates", [])]
        return list(dict.fromkeys(names))

    def axes(self, key: str) -> tuple[str, ...]:
        """The names of ``key``'s axes, ``("position", "unit")`` for a per-layer quantity."""
        self[key]  # an unknown key is refused as by indexing
        return tuple(self.info.get("axes", {}).get(key) or default_axes(key))

    def unit_keys(self) -> list[str]:
        """The per-layer keys whose columns are units (axes ``PER_UNIT``), in key order."""
        return [key for key in self._arrays if parse_layer_key(key) and self.axes(key) == PER_UNIT]

    def layer(self, layer: int, quantity: str) -> np.ndarray:
        """``(positions, units)`` values of ``quantity`` in layer ``layer`` (from 1); refused for a quantity
        with other axes."""
        key = layer_key(layer, quantity)
        if self.axes(key) != PER_UNIT:
            raise RnnlensError(f"{key} has axes ({', '.join(self.axes(key))}), not (position, unit); "
                               f"choose one of {', '.join(self.unit_keys())}")
        return self[key]

    @property
    def description(self) -> str:
        """What was traced on what, in words."""
        model = self.info.get("model_description", "a model")
        return f"{model} on {self.info.get('text', {}).get('source', 'a text')} ({self.positions + 1:,} characters)"


def gate_keys(keys: Iterable[str], gates: Iterable[str]) -> list[str]:
    """The keys among ``keys`` whose quantity is one of ``gates``."""
    gates = set(gates)
    return [key for key in keys if (parsed := parse_layer_key(key)) and parsed[1] in gates]


def plain_page_array(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A new array in its own anonymous memory mapping that does not use transparent huge pages.

    NumPy asks for huge pages on large arrays; where the kernel then compacts
    memory at the first write (``defrag=madvise``, as on our test machines),
    filling a trace's arrays cost 3.4-3.9 s per GB against 1 s per GB with
    plain pages (benchmarks/RESULTS.md). The memory goes back to the system
    when the array is freed.
    """
    count = math.prod(shape)
    buffer = mmap.mmap(-1, max(count * dtype.itemsize, 1))
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        buffer.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buffer, dtype, count=count).reshape(shape)
