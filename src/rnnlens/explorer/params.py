"""Query parameters of the explorer's API, checked: a missing, malformed or out-of-range one is a 400 naming it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

_INTEGER = re.compile(r"[+-]?\d{1,12}")
_NUMBER = re.compile(r"[+-]?(\d{1,12}(\.\d{0,12})?|\.\d{1,12})([eE][+-]?\d{1,3})?")


class BadRequest(Exception):
    """A request the server refuses with a 4xx: ``message`` says what is wrong, ``parameter`` which one."""

    def __init__(self, message: str, parameter: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.parameter, self.status = message, parameter, status

    def to_dict(self) -> dict:
        return {"error": self.message, **({"parameter": self.parameter} if self.parameter else {})}


class Query:
    """Typed access to a request's query parameters; every getter raises ``BadRequest`` on bad input."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params

    def _raw(self, name: str, default):
        value = self.params.get(name)
        if value is None or value == "":
            if default is None:
                raise BadRequest(f"missing parameter {name!r}", name)
            return None
        return value

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        """An integer in ``[low, high]``."""
        raw = self._raw(name, default)
        if raw is None:
            return default
        if not _INTEGER.fullmatch(raw):
            raise BadRequest(f"{name} must be an integer, not {raw[:40]!r}", name)
        value = int(raw)
        if not low <= value <= high:
            raise BadRequest(f"{name} must be between {low} and {high}, not {value}", name)
        return value

    def number(self, name: str, low: float, high: float, default: float | None = None) -> float:
        """A finite decimal number in ``[low, high]``."""
        raw = self._raw(name, default)
        if raw is None:
            return default
        if not _NUMBER.fullmatch(raw) or not math.isfinite(float(raw)):
            raise BadRequest(f"{name} must be a number, not {raw[:40]!r}", name)
        value = float(raw)
        if not low <= value <= high:
            raise BadRequest(f"{name} must be between {low:g} and {high:g}, not {value:g}", name)
        return value

    def choice(self, name: str, options, default: str | None = None) -> str:
        """One of ``options``."""
        raw = self._raw(name, default)
        if raw is None:
            return default
        if raw not in options:
            raise BadRequest(f"{name} must be one of {', '.join(map(str, options))}, not {raw[:40]!r}", name)
        return raw

    def integers(self, name: str, low: int, high: int, most: int, default: str | None = None) -> list[int]:
        """Comma-separated distinct integers in ``[low, high]``, at least one and at most ``most``."""
        items = (self._raw(name, default) or default).split(",")
        if len(items) > most:
            raise BadRequest(f"{name}: at most {most} values, not {len(items)}", name)
        values = [Query({name: item.strip()}).integer(name, low, high) for item in items]
        if len(set(values)) != len(values):
            raise BadRequest(f"{name}: a value is repeated", name)
        return values

    def pairs(self, name: str, most: int) -> list[tuple[int, int]]:
        """Comma-separated distinct ``layer:unit`` pairs (``1:3,2:17``), at least one and at most ``most``."""
        items = self._raw(name, None).split(",")
        if len(items) > most:
            raise BadRequest(f"{name}: at most {most} units, not {len(items)}", name)
        pairs = []
        for item in items:
            layer, sep, unit = item.strip().partition(":")
            if not sep or not _INTEGER.fullmatch(layer) or not _INTEGER.fullmatch(unit):
                raise BadRequest(f"{name}: each unit is LAYER:UNIT (such as 1:3), not {item[:40]!r}", name)
            pairs.append((int(layer), int(unit)))
        if len(set(pairs)) != len(pairs):
            raise BadRequest(f"{name}: a unit is repeated", name)
        return pairs
