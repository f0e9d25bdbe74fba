"""One-token names for characters that a reader, or a whitespace-separated file, cannot show as themselves.

Space, newline and tab are ``<sp>``, ``<nl>`` and ``<tab>`` (how KenLM's and SRILM's character-level
input was written, and what LSTMVis's dictionary holds); any other whitespace or control character is
``<U+XXXX>``; every other character is itself. ARPA files, per-character tables and the LSTMVis export
all name characters this way, so one table reads like another.
"""

from __future__ import annotations

import re

SPELLINGS = {" ": "<sp>", "\n": "<nl>", "\t": "<tab>"}


def spell(char: str, spellings: dict[str, str] = SPELLINGS) -> str:
    """The one-token name of a character."""
    if char in spellings:
        return spellings[char]
    if char.isspace() or not char.isprintable():
        return f"<U+{ord(char):04X}>"
    return char


def unspell(token: str, spellings: dict[str, str] = SPELLINGS) -> str | None:
    """The character a name stands for, or None for a token that is not one character's name."""
    reverse = {v: k for k, v in spellings.items()}
    if token in reverse:
        return reverse[token]
    if len(token) == 1:
        return token
    match = re.fullmatch(r"<U\+([0-9A-Fa-f]{4,6})>", token)
    return chr(int(match.group(1), 16)) if match else None
