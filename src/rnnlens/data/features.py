"""Per-character text features that a cell might track (line position, quotes, brackets, comments...).

A feature is a function ``f(text: str) -> np.ndarray`` of shape
``(len(text),)``: its value at ``t`` describes the situation *after reading*
``text[t]``, which is what a trace's row ``t`` holds (see ``trace``). It is
``binary`` (0/1, scored by ROC AUC) or ``numeric`` (scored by correlation).

Features live in ``FEATURES``; add your own with the decorator::

    from rnnlens.data.features import register_feature

    @register_feature("after_period", kind="binary", description="the character is a full stop")
    def after_period(text):
        return codepoints(text) == ord(".")

Every built-in feature is vectorised: a 300,000-character text takes well
under a second. The bracket and quote features count every character, even
inside comments or strings. ``in_comment`` and ``in_string`` follow the
text's own language (``data.language``: C, Python, or prose, which has
none); ``in_c_comment`` and ``in_string_literal`` apply C's lexer to any text.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rnnlens.data.corpus import _codepoints as codepoints
from rnnlens.data.language import C_LEXER, detect_language
from rnnlens.errors import RnnlensError

KINDS = ("binary", "numeric")
TAB_WIDTH = 8  # columns a leading tab counts for in the indentation


@dataclass(frozen=True)
class Feature:
    """A named per-character feature: its function, kind and one-line meaning."""

    name: str
    function: Callable[[str], np.ndarray]
    kind: str
    description: str

    def __call__(self, text: str) -> np.ndarray:
        values = np.asarray(self.function(text), dtype=np.float64)
        if values.shape != (len(text),):
            raise RnnlensError(f"feature {self.name!r} returned shape {values.shape} for a text of "
                               f"{len(text)} characters; it must return one value per character")
        if self.kind == "binary" and not np.isin(values, (0.0, 1.0)).all():
            raise RnnlensError(f"binary feature {self.name!r} returned values other than 0 and 1")
        return values


FEATURES: dict[str, Feature] = {}


def register_feature(name: str, kind: str, description: str = ""):
    """Decorator adding ``f(text) -> (len(text),) array`` to ``FEATURES`` under ``name``."""
    if kind not in KINDS:
        raise RnnlensError(f"feature kind {kind!r} must be one of {', '.join(KINDS)}")

    def add(function: Callable[[str], np.ndarray]) -> Callable[[str], np.ndarray]:
        FEATURES[name] = Feature(name, function, kind, description or (function.__doc__ or "").strip())
        return function

    return add


def compute_features(text: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The ``(len(text),)`` float64 values of the named features (default: all registered)."""
    names = list(FEATURES) if names is None else names
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise RnnlensError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return {name: FEATURES[name](text) for name in names}


# --- building blocks -------------------------------------------------------------------------

def _is(text: str, chars: str) -> np.ndarray:
    """Boolean ``(len(text),)``: the character is one of ``chars``."""
    return np.isin(codepoints(text), [ord(c) for c in chars])


def _since_last(mark: np.ndarray) -> np.ndarray:
    """Characters since the last marked one strictly before ``t``, counting ``t`` itself from 0."""
    index = np.arange(len(mark))
    last = np.maximum.accumulate(np.where(mark, index, -1))
    before = np.concatenate([[-1], last[:-1]])
    return index - before - 1


def _depth(opening: np.ndarray, closing: np.ndarray) -> np.ndarray:
    """Nesting depth after each character; a closing without an opening stays at 0."""
    walk = np.cumsum(opening.astype(np.int64) - closing.astype(np.int64))
    return walk - np.minimum(np.minimum.accumulate(walk), 0)


def _line_numbers(text: str) -> np.ndarray:
    """The line of each character; a newline belongs to the line it ends."""
    newline = _is(text, "\n")
    return np.concatenate([[0], np.cumsum(newline)[:-1]]).astype(np.int64)


def _spans(text: str, pattern: re.Pattern, group: str) -> np.ndarray:
    """Boolean: the character lies in a match of ``pattern`` whose named ``group`` matched."""
    delta = np.zeros(len(text) + 1, np.int64)
    for match in pattern.finditer(text):
        if match.group(group) is not None:
            delta[match.start()] += 1
            delta[match.end()] -= 1
    return np.cumsum(delta[:-1]) > 0


_C_LEXER = C_LEXER  # the name analyses.bracket_distance imports


# --- the built-in features ------------------------------------------------------------------

@register_feature("line_position", "numeric", "characters since the last newline (0 right after one)")
def line_position(text: str) -> np.ndarray:
    return _since_last(_is(text, "\n"))


@register_feature("in_double_quotes", "binary",
                  'between an opening and a closing " (the opening one included); a blank line ends any open '
                  "quotation, since one that runs over paragraphs opens each of them again")
def in_double_quotes(text: str) -> np.ndarray:
    quotes = np.cumsum(_is(text, '"'))
    newline = _is(text, "\n")
    blank = np.concatenate([[False], newline[1:] & newline[:-1]])  # the second newline of a blank line
    index = np.arange(len(text))
    last_blank = np.maximum.accumulate(np.where(blank, index, -1))
    return (quotes - np.where(last_blank >= 0, quotes[np.maximum(last_blank, 0)], 0)) % 2


def _register_nesting(name: str, pair: str, plural: str) -> None:
    """Register ``NAME_depth`` (numeric) and ``in_PLURAL`` (binary) for a pair of brackets like ``()``."""
    opening, closing = pair

    def depth(text: str) -> np.ndarray:
        return _depth(_is(text, opening), _is(text, closing))

    register_feature(f"{name}_depth", "numeric", f"nesting depth of {opening} {closing}")(depth)
    register_feature(f"in_{plural}", "binary", f"inside {opening} {closing} at any depth")(
        lambda text: depth(text) > 0)


_register_nesting("paren", "()", "parentheses")
_register_nesting("bracket", "[]", "brackets")
_register_nesting("brace", "{}", "braces")


@register_feature("indentation", "numeric", f"leading whitespace of the current line in columns (tab = {TAB_WIDTH})")
def indentation(text: str) -> np.ndarray:
    if not text:
        return np.zeros(0)
    line = _line_numbers(text)
    space, tab = _is(text, " "), _is(text, "\t")
    other = ~(space | tab)
    others_before = np.cumsum(other) - other  # non-blank characters before t
    line_start = np.searchsorted(line, line)  # index of the first character of t's line
    leading = ~other & (others_before == others_before[line_start])
    width = np.where(tab, TAB_WIDTH, 1) * leading
    return np.bincount(line, weights=width)[line]


@register_feature("in_c_comment", "binary", "part of a C comment, /* ... */ or // ... (not a URL's ://), "
                  "delimiters included, whatever the text's language")
def in_c_comment(text: str) -> np.ndarray:
    return _spans(text, _C_LEXER, "comment")


@register_feature("in_string_literal", "binary", 'part of a C string literal "...", quotes included, whatever the '
                  "text's language")
def in_string_literal(text: str) -> np.ndarray:
    return _spans(text, _C_LEXER, "string")


def _in_language(text: str, group: str) -> np.ndarray:
    """Boolean: the character lies in a ``group`` (comment, string) of the text's own language (none in prose)."""
    lexer = detect_language(text).lexer
    return _spans(text, lexer, group) if lexer is not None else np.zeros(len(text), dtype=bool)


@register_feature("in_comment", "binary", "part of a comment of the text's language (detected: C /* */ and //, "
                  "Python #; none in prose), delimiters included")
def in_comment(text: str) -> np.ndarray:
    return _in_language(text, "comment")


@register_feature("in_string", "binary", "part of a string literal of the text's language (detected: C \"...\"; "
                  "Python '...', \"...\", triple-quoted, with its prefix; none in prose), quotes included")
def in_string(text: str) -> np.ndarray:
    return _in_language(text, "string")


@register_feature("word_position", "numeric", "letters, digits and _ read so far in the current word, counting from 1 (0 outside words)")
def word_position(text: str) -> np.ndarray:
    points = codepoints(text)
    table, index = np.unique(points, return_inverse=True)
    in_word = np.array([chr(c).isalnum() or chr(c) == "_" for c in table], dtype=bool)[index.reshape(-1)]
    return np.where(in_word, _since_last(~in_word) + 1, 0)


@register_feature("after_space", "binary", "the character just read is a space")
def after_space(text: str) -> np.ndarray:
    return _is(text, " ")


@register_feature("after_newline", "binary", "the character just read is a newline")
def after_newline(text: str) -> np.ndarray:
    return _is(text, "\n")


@register_feature("nesting_depth", "numeric", "nesting depth of ( ), [ ] and { } together")
def nesting_depth(text: str) -> np.ndarray:
    return _depth(_is(text, "([{"), _is(text, ")]}"))


# --- a categorical feature and users' feature files -----------------------------------------
# The registry holds binary and numeric features (what ``cells`` scores a single unit against); a probe also
# reads this one categorical feature, with a multinomial logistic regression.

CHAR_CLASSES = ("lowercase", "uppercase", "digit", "space", "newline", "punctuation", "other")


def char_class(text: str) -> np.ndarray:
    """``(len(text),)`` int64: the index in ``CHAR_CLASSES`` of the class of each character (tab: space)."""
    points = codepoints(text)
    table, index = np.unique(points, return_inverse=True)
    classes = np.array([_class_of(chr(c)) for c in table], dtype=np.int64)
    return classes[index.reshape(-1)] if len(text) else np.zeros(0, np.int64)


def _class_of(char: str) -> int:
    if char.islower():
        return 0
    if char.isupper():
        return 1
    if char.isdigit():
        return 2
    if char in " \t":
        return 3
    if char == "\n":
        return 4
    return 5 if not char.isalnum() and char.isprintable() else 6


def load_feature_file(path: str) -> list[str]:
    """Run a user's Python file so its ``register_feature`` decorators add to ``FEATURES``; the names it added."""
    if not Path(path).is_file():
        raise RnnlensError(f"{path}: no such feature file")
    before = set(FEATURES)
    spec = importlib.util.spec_from_file_location(f"rnnlens_user_features_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: say where it failed, in one line
        raise RnnlensError(f"{path}: the feature file failed to load ({type(err).__name__}: {err})") from None
    return [name for name in FEATURES if name not in before]
