"""Allowed ranges of numeric options, checked by the library and by the command line alike.

A ``Range`` says which values an option takes; ``check`` raises an
``RnnlensError`` naming the option, ``argparse_type`` turns it into an
argparse type so that a bad flag is refused before anything runs.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from rnnlens.errors import RnnlensError


@dataclass(frozen=True)
class Range:
    """Numbers in ``[low, high]`` (``open_low``/``open_high`` exclude the end); ``integer`` for whole numbers."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    integer: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        if self.high == math.inf:
            if self.low == -math.inf:
                return kind
            return f"{kind} {'above' if self.open_low else 'of at least'} {self.low:g}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"

    def contains(self, value: float) -> bool:
        if self.integer and value != int(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below and not math.isnan(value)

    def check(self, name: str, value: float) -> None:
        if not self.contains(value):
            raise RnnlensError(f"{name} is {value}; it must be {self.describe()}")

    def argparse_type(self):
        """A converter for ``add_argument(type=...)`` that refuses values outside the range."""
        def convert(text: str):
            try:
                value = int(text) if self.integer else float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}") from None
            if not self.contains(value):
                raise argparse.ArgumentTypeError(f"{text} is out of range: give {self.describe()}")
            return value
        convert.__name__ = "number"
        return convert


COUNT = Range(1, integer=True)  # one or more
NONNEGATIVE_COUNT = Range(0, integer=True)
POSITIVE = Range(0, open_low=True)
NONNEGATIVE = Range(0)
FRACTION = Range(0, 1)
OPEN_FRACTION = Range(0, 1, open_low=True, open_high=True)
DROPOUT = Range(0, 1, open_high=True)

