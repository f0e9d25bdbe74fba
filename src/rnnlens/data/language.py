"""Which language a text is written in, prose or code in C or Python, and what follows from it: its comments
and string literals, what the onion calls a word, and which brackets ``reproduce`` measures.

``detect_language`` reads the non-blank lines of the first ``SAMPLE``
characters and counts, per language, the lines that language's ``marks``
find (C: a line ending in ``;``, ``{`` or ``}``, or a preprocessor or comment
line; Python: a line opening with ``def``, ``class``, ``import``, ``return``,
a decorator..., or ending in ``:``). The language with the larger share wins
if it reaches ``MIN_SHARE``; else the text is prose. Measured on the first
500,000 characters: the Linux kernel 69% C lines (5% Python), the ``email``
package of Python's standard library 33% Python lines (0.5% C), ``difflib.py``
20% Python, War and Peace 0.7% and 0.6%.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SAMPLE = 500_000  # characters read to decide
MIN_SHARE = 0.1  # of the non-blank lines a language's marks must find for the text to be its code


@dataclass(frozen=True)
class Language:
    """A language and what the analyses take from it.

    ``words``: the onion's word definition (``prose`` or ``code``); ``pair``:
    the brackets ``reproduce`` measures (``PAIRS`` of ``analyses.bracket_distance``);
    ``lexer``: a left-to-right pattern whose named group ``comment`` or
    ``string`` matched a comment or a string literal (None: prose has none);
    ``marks``: what finds a line only this language writes so.
    """

    name: str
    words: str
    pair: str
    lexer: re.Pattern | None = None
    marks: re.Pattern | None = None


# one left-to-right pass: a quote inside a comment is not a string, a /* inside a string is not a comment; a //
# right after a colon is a URL's (http://), not a comment, since C code writes none outside strings and comments
C_LEXER = re.compile(
    r"(?P<comment>/\*.*?(?:\*/|\Z)|(?<!:)//[^\n]*)"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\"?)"
    r"|(?P<char>'(?:\\.|[^'\\\n]){1,4}')",
    re.S,
)

# Python: # comments; strings with an optional prefix (r, b, f, u, rb...) in ''' or """ (over lines) or ' or "
PYTHON_LEXER = re.compile(
    r"(?P<comment>#[^\n]*)"
    r"|(?P<string>(?<![A-Za-z0-9_])[rRbBuUfF]{0,2}"
    r"(?:\"\"\"(?:\\.|[^\\])*?(?:\"\"\"|\Z)|'''(?:\\.|[^\\])*?(?:'''|\Z)"
    r"|\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n])*'?))",
    re.S,
)

PROSE = Language("prose", words="prose", pair='"')
C = Language("c", words="code", pair="{}", lexer=C_LEXER, marks=re.compile(
    r"^\s*(?:#\s*(?:include|define|if|ifdef|ifndef|endif|else)\b|/\*|\*|//)|[;{}]\s*(?:/\*.*\*/|//.*)?$"))
PYTHON = Language("python", words="code", pair="()", lexer=PYTHON_LEXER, marks=re.compile(
    r"^\s*(?:def |class |import |from [\w.]+ import |elif\b|else:|try:|except\b|finally:|return\b|@\w)"
    r"|:\s*(?:#.*)?$"))
LANGUAGES = {language.name: language for language in (PROSE, C, PYTHON)}


def line_shares(text: str) -> dict[str, float]:
    """Each code language's share of the non-blank lines of ``text[:SAMPLE]`` that its marks find."""
    lines = [line for line in text[:SAMPLE].split("\n") if line.strip()]
    return {language.name: sum(1 for line in lines if language.marks.search(line)) / max(len(lines), 1)
            for language in LANGUAGES.values() if language.marks is not None}


def detect_language(text: str) -> Language:
    """The language of ``text`` (see the module docstring): ``C``, ``PYTHON`` or ``PROSE``."""
    shares = line_shares(text)
    best = max(shares, key=shares.get)
    return LANGUAGES[best] if shares[best] >= MIN_SHARE else PROSE
