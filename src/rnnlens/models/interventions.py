"""Interventions: what a hook point's units become at chosen positions, for any model kind.

A hook point is a named quantity of a model at every position, named like the
trace keys (``layer2.cell``, ``layer1.forget_gate``). An intervention names
some of its units and gives their new values at each position where it acts,
from their current values there: clamp to a value, zero- or mean-ablate, add a
vector (steering), or patch in the values another text's cache holds. A kind's
forward pass applies it right after it computes the quantity, so everything
downstream (the rest of the step, the layers above, the next step) sees the
new value.

Each kind of intervention is one class here, with ``new_values`` and its
parameters for ``describe``, which becomes part of the identity of whatever the
intervened model produces: an intervened model is never served a clean model's
cached predictions or traces, nor the reverse.

``rows``, when given, pairs each unit with a row of a batch of variants run
side by side (row ``rows[i]`` changes unit ``units[i]``), so ablating 50 units
one at a time is one pass of 50 rows.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, Iterator, Mapping, Sequence

import numpy as np
import torch

from rnnlens.errors import RnnlensError

Hooks = Mapping[str, Sequence["Intervention"]]  # hook point (trace key) -> interventions, applied in order


@dataclass(frozen=True)
class Intervention:
    """New values for ``units`` of one hook point at ``positions`` (every position if None)."""

    units: tuple[int, ...]
    positions: frozenset[int] | None = None
    rows: tuple[int, ...] | None = None
    name: ClassVar[str] = "intervention"

    def __post_init__(self) -> None:
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))
        if self.positions is not None:
            object.__setattr__(self, "positions", frozenset(int(p) for p in self.positions))
        if self.rows is not None:
            object.__setattr__(self, "rows", tuple(int(r) for r in self.rows))
            if len(self.rows) != len(self.units):
                raise RnnlensError(f"{len(self.rows)} rows for {len(self.units)} units: each unit needs its row")
        if not self.units or min(self.units) < 0:
            raise RnnlensError(f"an intervention needs units numbered from 0, not {list(self.units)}")

    def _one_number_per_unit(self, field_name: str) -> None:
        """Store field ``field_name`` as a tuple of floats, refusing it unless it has one number per unit."""
        numbers = tuple(float(v) for v in getattr(self, field_name))
        if len(numbers) != len(self.units):
            raise RnnlensError(f"{self.name}: {len(numbers)} numbers in {field_name} for {len(self.units)} units")
        object.__setattr__(self, field_name, numbers)

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        """The units' new values ``(..., len(units))`` from their ``current`` values at ``position``."""
        raise NotImplementedError

    def parameters(self) -> dict:
        """What fixes the new values beyond units, positions and rows (for ``describe``)."""
        return {}

    def describe(self) -> dict:
        """A JSON-able description: the intervention's part of a model's identity."""
        return {"type": self.name, "units": list(self.units), **self.parameters(),
                **({"positions": sorted(self.positions)} if self.positions is not None else {}),
                **({"rows": list(self.rows)} if self.rows is not None else {})}

    def apply(self, value: torch.Tensor, position: int) -> torch.Tensor:
        """``value`` ``(batch, units)`` at ``position`` with this intervention's units replaced (a new tensor)."""
        if self.positions is not None and position not in self.positions:
            return value
        units = torch.as_tensor(self.units, device=value.device)  # in range: the kind checks hooks once, up front
        if self.rows is None:
            index = (slice(None), units)
        else:
            index = (torch.as_tensor(self.rows, device=value.device), units)
        new = self.new_values(value[index], position).to(value.dtype)
        out = value.clone()
        out[index] = new
        return out


@dataclass(frozen=True)
class Clamp(Intervention):
    """Units held at ``value``."""

    value: float = 0.0
    name: ClassVar[str] = "clamp"

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        return torch.full_like(current, self.value)

    def parameters(self) -> dict:
        return {"value": self.value}


@dataclass(frozen=True)
class ZeroAblate(Intervention):
    """Units set to zero."""

    name: ClassVar[str] = "zero"

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        return torch.zeros_like(current)


@dataclass(frozen=True)
class MeanAblate(Intervention):
    """Each unit set to its mean (``means``, one per unit, over some reference text)."""

    means: tuple[float, ...] = ()
    name: ClassVar[str] = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._one_number_per_unit("means")

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        return torch.as_tensor(self.means, dtype=current.dtype, device=current.device).expand_as(current)

    def parameters(self) -> dict:
        return {"means": list(self.means)}


@dataclass(frozen=True)
class Steer(Intervention):
    """``vector`` (one number per unit) added to the units."""

    vector: tuple[float, ...] = ()
    name: ClassVar[str] = "add"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._one_number_per_unit("vector")

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        return current + torch.as_tensor(self.vector, dtype=current.dtype, device=current.device)

    def parameters(self) -> dict:
        return {"vector": list(self.vector)}


@dataclass(frozen=True)
class Patch(Intervention):
    """Units given the values that another run held at the same position: ``source`` ``(positions, units)``,
    the same quantity's cache over another text (a trace's array)."""

    source: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), compare=False, hash=False)
    name: ClassVar[str] = "patch"

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        if position >= len(self.source):
            raise RnnlensError(f"the patch's source holds {len(self.source):,} positions; position {position:,} "
                               "is beyond it: patch from a text at least as long")
        row = torch.as_tensor(np.asarray(self.source[position, list(self.units)], np.float32), device=current.device)
        return row.expand_as(current)

    def parameters(self) -> dict:
        digest = hashlib.sha256(np.ascontiguousarray(self.source, np.float32).tobytes()).hexdigest()
        return {"source_sha256": digest, "source_shape": list(self.source.shape)}


@dataclass(frozen=True)
class Transform(Intervention):
    """Units given ``function`` of their current values ``(batch, units) -> (batch, units)`` (numpy float32), e.g.
    a sparse autoencoder's reconstruction; ``label`` names the function in the identity."""

    function: object = None
    label: str = "a function"
    name: ClassVar[str] = "transform"

    def new_values(self, current: torch.Tensor, position: int) -> torch.Tensor:
        rebuilt = self.function(current.detach().float().cpu().numpy())
        return torch.as_tensor(np.asarray(rebuilt, np.float32), device=current.device)

    def parameters(self) -> dict:
        return {"function": self.label}


def describe_hooks(hooks: Hooks) -> list[dict]:
    """Every intervention of ``hooks`` as JSON, with its hook point, in a stable order."""
    return [{"key": key, **intervention.describe()} for key in sorted(hooks) for intervention in hooks[key]]


def described_digest(described: list[dict]) -> str:
    """A short digest of ``describe_hooks``'s list (names a cache entry of an intervened model)."""
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:12]


def with_interventions(predictor, hooks: Hooks):
    """A copy of ``predictor`` (sharing its weights) that runs with ``hooks``, its identity saying so.

    The kind must support interventions (``supports_interventions``); an empty ``hooks`` gives the clean model.
    """
    if not getattr(predictor, "supports_interventions", False):
        raise RnnlensError(f"{predictor.description} has no hook points to intervene on")
    hooks = {key: tuple(values) for key, values in hooks.items() if values}
    predictor.check_hook_points(hooks)
    base = copy.copy(predictor)
    clean = {k: v for k, v in predictor.identity.items() if k != "interventions"}
    base.hooks = hooks
    base.identity = {**clean, "interventions": describe_hooks(hooks)} if hooks else clean
    return base


@contextmanager
def interventions(predictor, hooks: Hooks) -> Iterator:
    """``with interventions(model, {"layer2.cell": Clamp(units=[151], value=1.0)}) as intervened: ...``.

    Inside the block, ``predictor`` itself predicts, samples and traces with the
    hooks (and says so in its identity); on leaving, it is clean again.
    """
    intervened = with_interventions(predictor, hooks)
    saved = predictor.hooks, predictor.identity
    predictor.hooks, predictor.identity = intervened.hooks, intervened.identity
    try:
        yield predictor
    finally:
        predictor.hooks, predictor.identity = saved


_CLAMP = re.compile(r"(?P<key>layer\d+\.\w+):(?P<units>\d+(?:,\d+)*)=(?P<value>[-+0-9.eE]+)")


def parse_clamp(spec: str) -> tuple[str, Clamp]:
    """``layer2.cell:151=1.0`` (units may be a comma list) as ``(key, Clamp)``."""
    match = _CLAMP.fullmatch(spec.strip())
    if not match:
        raise RnnlensError(f"--clamp {spec!r}: expected KEY:UNIT=VALUE, e.g. layer2.cell:151=1.0 "
                           "(units may be a comma list: layer1.hidden:3,7=0)")
    try:
        value = float(match["value"])
    except ValueError:
        raise RnnlensError(f"--clamp {spec!r}: {match['value']!r} is not a number") from None
    return match["key"], Clamp(units=tuple(int(u) for u in match["units"].split(",")), value=value)


def merge_hooks(pairs: Sequence[tuple[str, Intervention]]) -> dict[str, tuple[Intervention, ...]]:
    """``[(key, intervention), ...]`` as hooks, in the order given."""
    hooks: dict[str, list[Intervention]] = {}
    for key, intervention in pairs:
        hooks.setdefault(key, []).append(intervention)
    return {key: tuple(values) for key, values in hooks.items()}
