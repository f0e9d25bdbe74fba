"""ARPA files over characters: write our n-gram models for other tools, read theirs as predictors.

An ARPA file lists, per order, ``log10 p(w | h)``, the n-gram ``h w`` as
space-separated tokens, and ``log10`` of its backoff weight as a context.
Each token is one character, spelled as in ``data/spelling.py`` where ARPA's
whitespace-separated format cannot hold it (``<sp>``, ``<nl>``, ``<tab>``,
``<U+XXXX>``). ``<s>``, ``</s>`` and ``<unk>`` keep their usual meaning: a
loaded model conditions the first characters on ``<s>`` like KenLM's ``query``
and gives characters it lacks the probability of ``<unk>``; the mass it puts on
``</s>`` is not renormalised, so its scores are exactly the tool's.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from rnnlens.store import atomic
from rnnlens.data.corpus import Vocabulary
from rnnlens.data.spelling import SPELLINGS, spell, unspell
from rnnlens.errors import RnnlensError
from rnnlens.models.ngram.kneser_ney import BackoffPredictor, BackoffTables

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NEVER = -99.0  # log10 probability written for tokens our models never predict
_HEADER = re.compile(r"\\(\d+)-grams:")


def _token_strings(tables: BackoffTables, n: int, previous: np.ndarray | None) -> np.ndarray:
    """``(K_n, n)`` token ids of every order-``n`` n-gram, from those of order ``n-1``."""
    keys = tables.keys[n - 1]
    last = (keys % tables.num_tokens)[:, None]
    return last if n == 1 else np.hstack([previous[keys // tables.num_tokens], last])


def write_arpa(path: str | os.PathLike, tables: BackoffTables, vocab: Vocabulary,
               spellings: dict[str, str] = SPELLINGS) -> Path:
    """Write our backoff tables (tokens = character ids) as an ARPA file, atomically.

    ``<s>``, ``</s>`` and ``<unk>`` are added with log10 probability -99 so
    that tools requiring them load the file; every other line is ours.
    """
    words = [spell(c, spellings) for c in vocab.chars]
    order = tables.order
    sizes = [int(np.count_nonzero(~np.isnan(p))) for p in tables.log_probs]
    sizes[0] += 3
    log10 = 1 / math.log(10)
    with atomic.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write("\\data\\\n" + "".join(f"ngram {n}={k}\n" for n, k in enumerate(sizes, start=1)))
        previous = None
        for n in range(1, order + 1):
            out.write(f"\n\\{n}-grams:\n")
            if n == 1:
                out.write(f"{NEVER:.1f}\t{BOS}" + ("\t0\n" if order > 1 else "\n"))
                out.write(f"{NEVER:.1f}\t{EOS}\n{NEVER:.1f}\t{UNK}\n")
            grams = _token_strings(tables, n, previous)
            probs = tables.log_probs[n - 1] * log10
            backoffs = tables.log_backoffs[n - 1] * log10
            lines = []
            for row, p, b in zip(grams, probs, backoffs):
                if np.isnan(p):
                    continue
                text = " ".join(words[t] for t in row)
                lines.append(f"{p:.8f}\t{text}\t{b:.8f}\n" if n < order else f"{p:.8f}\t{text}\n")
            out.write("".join(lines))
            previous = grams
        out.write("\n\\end\\\n")
    return Path(path)


def _parse(path: Path) -> list[dict[tuple[str, ...], tuple[float, float]]]:
    """Per order, ``{tokens: (log10 prob, log10 backoff)}`` from an ARPA file."""
    orders: list[dict] = []
    section = None
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line or line.startswith("ngram ") or line == "\\data\\":
                continue
            if line == "\\end\\":
                break
            header = _HEADER.fullmatch(line)
            if header:
                section = int(header.group(1))
                if section != len(orders) + 1:
                    raise RnnlensError(f"{path}:{number}: \\{section}-grams: out of order; this is not a valid ARPA file")
                orders.append({})
                continue
            fields = line.split()
            if section is None or len(fields) not in (section + 1, section + 2):
                raise RnnlensError(f"{path}:{number}: expected a log10 probability, {section} tokens and an optional "
                                   f"backoff, got {line[:80]!r}; is this an ARPA file of characters?")
            backoff = float(fields[section + 1]) if len(fields) == section + 2 else 0.0
            orders[-1][tuple(fields[1:section + 1])] = (float(fields[0]), backoff)
    if not orders:
        raise RnnlensError(f"{path}: no n-gram sections; this is not an ARPA file")
    return orders


def read_arpa(path: str | os.PathLike, spellings: dict[str, str] = SPELLINGS, vocab: Vocabulary | None = None,
              corpus_spec: dict | None = None, begin_with_bos: bool = True) -> BackoffPredictor:
    """Load a character ARPA file (KenLM, SRILM, ours) as a predictor.

    ``vocab`` is the predictor's vocabulary (default: the file's characters);
    give the corpus's vocabulary and ``corpus_spec`` to score its splits.
    """
    path = Path(path)
    if not path.is_file():
        raise RnnlensError(f"{path}: no such ARPA file")
    orders = _parse(path)
    chars = {}
    for token in orders[0]:
        if token[0] not in (BOS, EOS, UNK):
            char = unspell(token[0], spellings)
            if char is None:
                raise RnnlensError(f"{path}: token {token[0]!r} is not one character; give its spelling "
                                   f"(the defaults are {SPELLINGS})")
            chars[token[0]] = char
    vocab = vocab or Vocabulary("".join(sorted(set(chars.values()))))
    extra = sorted(set(chars.values()) - set(vocab.chars))
    index = {c: i for i, c in enumerate(vocab.chars + "".join(extra))}
    size = len(index) + 3
    special = {BOS: size - 3, EOS: size - 2, UNK: size - 1}

    def token_id(token: str) -> int:
        if token in special:
            return special[token]
        char = chars.get(token) or unspell(token, spellings)
        if char not in index:
            raise RnnlensError(f"{path}: the n-gram token {token!r} is not in the unigrams; the file is damaged")
        return index[char]

    # every context must be an entry of the order below: add missing ones as context-only (NaN) entries
    for n in range(len(orders) - 1, 0, -1):
        for gram in orders[n]:
            orders[n - 1].setdefault(gram[:-1], (math.nan, 0.0))
    keys, log_probs, log_backoffs = [], [], []
    position: dict[tuple, int] = {(): 0}
    ln10 = math.log(10)
    for n, grams in enumerate(orders, start=1):
        listed = list(grams.items())
        key = np.array([position[g[:-1]] * size + token_id(g[-1]) for g, _ in listed], dtype=np.int64)
        sort = np.argsort(key, kind="stable")
        values = np.array([v for _, v in listed], dtype=np.float64).reshape(-1, 2)[sort] * ln10
        keys.append(key[sort])
        log_probs.append(values[:, 0])
        log_backoffs.append(values[:, 1])
        position = {listed[i][0]: rank for rank, i in enumerate(sort)}
    tables = BackoffTables(keys, log_probs, log_backoffs, size)
    unigrams = {int(k) for k, p in zip(keys[0], log_probs[0]) if not np.isnan(p)}
    token_of_char = np.array([i if i in unigrams else special[UNK] for i in range(len(vocab))])
    lacking = [c for c, t in zip(vocab.chars, token_of_char) if t == special[UNK]]
    if lacking and special[UNK] not in unigrams:
        raise RnnlensError(f"{path}: has no <unk> and lacks the characters {''.join(lacking)!r} of the vocabulary")
    bos = special[BOS] if begin_with_bos and special[BOS] in set(keys[0].tolist()) else None
    return BackoffPredictor(tables, vocab, corpus_spec or {}, token_of_char, bos, info={"arpa": str(path)})
