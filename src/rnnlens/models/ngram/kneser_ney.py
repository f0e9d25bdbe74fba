"""Interpolated modified Kneser-Ney n-gram models over characters, estimated with NumPy.

The estimator follows Chen & Goodman (1999) as KenLM's ``lmplz`` implements
it (Heafield et al. 2013), for any order ``N`` (context ``N-1`` characters).
For an n-gram ``g = h w`` of order ``n`` (context ``h``, next character ``w``):

- **Counts.** ``k(g)`` is the raw count ``c(g)`` when ``n = N``; for lower
  orders it is the continuation (adjusted) count, the number of distinct
  characters ``v`` with ``c(v g) > 0``; the start of the text counts as one
  more left extension, as KenLM's ``<s>`` does.
- **Discounts,** per order, from the counts of counts ``t_j`` (the number of
  order-``n`` n-grams with ``k = j``), ``Y = t_1 / (t_1 + 2 t_2)``::

      D_j = j - (j + 1) Y t_{j+1} / t_j     for j = 1, 2, 3 (D_3 serves every k >= 3)

  When some ``t_j`` (j <= 3) is zero or some ``D_j`` falls outside ``[0, j]``
  the order gets KenLM's fallback ``D = (0.5, 1, 1.5)`` (``--discount_fallback``).
- **Interpolation.** With ``A(h) = sum_x k(h x)`` and ``N_j(h)`` the number of
  ``x`` with ``k(h x) = j`` (``N_3`` counting ``k >= 3``)::

      u(w | h) = (k(h w) - D(k(h w))) / A(h)
      b(h)     = (D_1 N_1(h) + D_2 N_2(h) + D_3 N_3(h)) / A(h)
      p(w | h) = u(w | h) + b(h) p(w | h')       (h' drops the first character of h)
      p(w)     = u(w) + b() / V                  (order 1: uniform over the vocabulary)

  A context never seen in training (``A(h) = 0``) passes ``p(w | h')`` on.
  Every distribution sums to 1 over the ``V`` characters of the vocabulary.

Differences from KenLM, all of order 1/(train length): KenLM ends the
training text with ``</s>`` (a token that gives the contexts ending the text
one more continuation) and adds ``<unk>`` to the uniform floor; it conditions
the first characters of a line on ``<s>``. Here the vocabulary is the
corpus's (characters unseen in training keep their uniform share) and the
text is one stream. Estimated on the War and Peace train split with one extra
end token appended, this estimator gives KenLM's per-character log
probabilities on the test split within 4e-4 nats (``tests/test_ngram.py``);
without it, the test losses agree within 1e-4 nats/char.

**Counting by sorting.** The order-``n`` n-gram at every position gets a dense
id (its rank among the distinct n-grams) by sorting the keys
``id_{n-1}(prefix) * V + last char``, so one sort per order counts every
n-gram exactly, with no hashing and no per-n-gram Python objects; only
n-grams whose prefix is repeated need sorting (see ``_extend``).

**Backoff tables.** The estimate is stored in ARPA form (``BackoffTables``):
per order the sorted keys, ``log p(w | h)`` (interpolated) and the backoff
``log b(h)`` of each n-gram as a context. ``p(w | h) = p_table(h w)`` if
``h w`` is in the table, else ``b(h) p(w | h')``, which equals the
interpolation above. The same tables and scoring serve ARPA files from other
tools (``rnnlens.models.ngram.arpa``).

Run directories (``rnnlens.models.ngram.kind``) hold only ``config.json``;
``write_arpa`` exports the arrays.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from rnnlens.data.corpus import Vocabulary
from rnnlens.errors import RnnlensError

FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback defaults
LOG_PROB_CHUNK = 1 << 18  # positions scored per pass (bounds the (chunk, order) index arrays)
DISTRIBUTION_CHUNK = 1 << 14  # positions per pass for full distributions ((chunk, tokens) float64)


@dataclass
class BackoffTables:
    """An n-gram model in ARPA form, keyed for vectorised lookup.

    Tokens are ids ``0..num_tokens-1``. For order ``n`` (list index ``n-1``),
    ``keys[n-1]`` is a sorted ``(K_n,)`` int64 array: the token itself for
    ``n = 1``, else ``prefix * num_tokens + last`` where ``prefix`` indexes the
    order ``n-1`` table; an n-gram's id is its index there. ``log_probs[n-1]``
    is ``ln p(last | prefix)`` (NaN for an entry that is only a context) and
    ``log_backoffs[n-1]`` is ``ln b`` of the n-gram as a context (0 if none).
    """

    keys: list[np.ndarray]
    log_probs: list[np.ndarray]
    log_backoffs: list[np.ndarray]
    num_tokens: int

    @property
    def order(self) -> int:
        return len(self.keys)

    def sizes(self) -> list[int]:
        return [len(k) for k in self.keys]


# --- estimation --------------------------------------------------------------

def discounts(counts: np.ndarray) -> tuple[tuple[float, float, float], list[int], bool]:
    """Modified Kneser-Ney discounts ``(D1, D2, D3+)`` of one order from its n-gram counts.

    Returns the discounts, the counts of counts ``[t1, t2, t3, t4]`` and
    whether KenLM's fallback discounts were used.
    """
    t = [int(np.count_nonzero(counts == j)) for j in (1, 2, 3, 4)]
    if min(t[:3]) == 0:
        return FALLBACK_DISCOUNTS, t, True
    y = t[0] / (t[0] + 2 * t[1])
    d = tuple(j - (j + 1) * y * t[j] / t[j - 1] for j in (1, 2, 3))
    if any(not 0 <= dj <= j for j, dj in zip((1, 2, 3), d)):
        return FALLBACK_DISCOUNTS, t, True
    return d, t, False


def _extend(window: np.ndarray, following: np.ndarray, num_prefixes: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of the n-grams ``(window[i], following[i])`` and their sorted distinct keys.

    ``window`` holds the ``(n-1)``-gram ranks at every position (one more than
    ``following``). Only n-grams whose prefix occurs more than once need sorting:
    an n-gram extending a prefix seen once is unique, and its rank follows from
    the prefix's, so high orders (mostly unique) cost little.
    """
    prefix = window[:-1]
    key = prefix.astype(np.int64) * vocab_size + following
    single = np.bincount(prefix, minlength=num_prefixes) == 1
    repeated = ~single[prefix]
    sorted_repeated, inverse = np.unique(key[repeated], return_inverse=True)
    children = np.bincount(sorted_repeated // vocab_size, minlength=num_prefixes)
    single_before = np.cumsum(single) - single  # n-grams of unique prefixes that sort before this prefix
    # rank = n-grams with a smaller key: those of unique smaller prefixes, plus the repeated ones below
    rank = single_before[prefix] + (np.cumsum(children) - children)[prefix]
    rank[repeated] = single_before[prefix[repeated]] + inverse.reshape(-1)
    keys = np.empty(int(single.sum()) + len(sorted_repeated), np.int64)
    keys[rank] = key
    return keys, rank.astype(np.int32)


def _count_orders(ids: np.ndarray, order: int, vocab_size: int, bar) -> tuple[list, list, list]:
    """Keys, suffix ids and counts ``k`` of every order (see the module docstring)."""
    keys = [np.arange(vocab_size, dtype=np.int64)]
    suffixes = [None]  # suffixes[n-1][g]: id of the last n-1 characters of order-n n-gram g
    starts = [int(ids[0])]  # id of the n-gram at text position 0, per order
    window = ids  # ids of the order-n n-grams at every position
    for n in range(2, order + 1):
        uniq, inverse = _extend(window, ids[n - 1:], len(keys[-1]), vocab_size)
        suffix = np.empty(len(uniq), dtype=np.int32)
        suffix[inverse] = window[1:]  # every occurrence of a type has the same suffix
        keys.append(uniq)
        suffixes.append(suffix)
        starts.append(int(inverse[0]))
        window = inverse
        bar.update(1)
    raw = np.bincount(window, minlength=len(keys[-1]))
    counts = []
    for n in range(1, order):
        k = np.bincount(suffixes[n], minlength=len(keys[n - 1]))
        k[starts[n - 1]] += 1  # the start of the text is a left extension, like KenLM's <s>
        counts.append(k)
    counts.append(raw)
    return keys, suffixes, counts


def estimate(ids: np.ndarray, order: int, vocab_size: int, show_progress: bool = False) -> tuple[BackoffTables, list[dict]]:
    """Estimate an interpolated modified Kneser-Ney model of ``order`` on ``ids``.

    ``ids``: ``(T,)`` character ids in ``[0, vocab_size)``, ``T > order``.
    Returns the backoff tables (tokens = character ids) and, per order, a
    dict with the number of n-grams, counts of counts, discounts and whether
    the fallback discounts were used.
    """
    if order < 1:
        raise RnnlensError(f"order {order}: an n-gram model needs order 1 or more (order N uses N-1 characters of context)")
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) <= order:
        raise RnnlensError(f"the training text has {len(ids)} characters; order {order} needs more than {order}")
    bar = tqdm(total=2 * order - 1, desc=f"order-{order} model", unit="step", disable=not show_progress,
               leave=False, file=sys.stderr)
    keys, suffixes, counts = _count_orders(ids, order, vocab_size, bar)
    log_probs, log_backoffs, stats = [], [], []
    lower = None  # interpolated probabilities of the previous order
    for n in range(1, order + 1):
        k = counts[n - 1]
        d, t, fallback = discounts(k[k > 0])
        stats.append({"order": n, "ngrams": int(np.count_nonzero(k)), "counts_of_counts": t,
                      "discounts": list(d), "fallback": fallback})
        discount = np.array([0.0, *d])[np.minimum(k, 3)]  # D(k): 0 for k = 0, D3+ for k >= 3
        if n == 1:
            total = k.sum()
            gamma = discount.sum() / total  # sum of D(k) = D1 N1 + D2 N2 + D3 N3+
            probs = (k - discount) / total + gamma / vocab_size
        else:
            prefix = keys[n - 1] // vocab_size
            size = len(keys[n - 2])
            total = np.bincount(prefix, weights=k, minlength=size)
            held = np.bincount(prefix, weights=discount, minlength=size)
            seen = total > 0
            gamma = np.divide(held, total, out=np.zeros(size), where=seen)
            probs = (k - discount) / total[prefix] + gamma[prefix] * lower[suffixes[n - 1]]
            log_backoffs[n - 2] = np.where(seen, np.log(np.where(seen, gamma, 1.0)), 0.0)
        log_probs.append(np.log(probs))
        log_backoffs.append(np.zeros(len(probs)))
        lower = probs
        bar.update(1)
    bar.close()
    return BackoffTables(keys, log_probs, log_backoffs, vocab_size), stats


# --- scoring -----------------------------------------------------------------

def window_indices(tables: BackoffTables, tokens: np.ndarray) -> list[np.ndarray]:
    """Per order ``n``, the ``(M-n+1,)`` table index of ``tokens[i:i+n]``, or -1 if it is not in the table."""
    result = []
    previous = None
    for n, keys in enumerate(tables.keys, start=1):
        if len(tokens) < n:
            break
        if n == 1:
            key, known = tokens.astype(np.int64), np.ones(len(tokens), bool)
        else:
            key = previous[:-1] * tables.num_tokens + tokens[n - 1:]
            known = previous[:-1] >= 0
        where = np.searchsorted(keys, key)
        where = np.minimum(where, len(keys) - 1)
        found = known & (keys[where] == key) if len(keys) else np.zeros(len(key), bool)
        previous = np.where(found, where, -1)
        result.append(previous)
    return result


def _context_and_ngram(windows: list[np.ndarray], n: int, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For targets at ``targets`` (positions >= 1): the order-``n-1`` context index and the order-``n`` n-gram index."""
    start = targets - n + 1
    valid = start >= 0
    if n - 1 >= len(windows):  # the text is shorter than this order
        return np.full(len(targets), -1), np.full(len(targets), -1)
    safe = np.where(valid, start, 0)
    context = np.where(valid, windows[n - 2][safe], -1) if n > 1 else np.zeros(len(targets), np.int64)
    gram = np.where(valid, windows[n - 1][safe], -1) if len(windows[n - 1]) else np.full(len(targets), -1)
    return context, gram


def score_log_probs(tables: BackoffTables, tokens: np.ndarray) -> np.ndarray:
    """``(M-1,)`` float64: ``ln p(tokens[t+1] | tokens[:t+1])`` by backoff, for a ``(M,)`` token array."""
    tokens = np.asarray(tokens, dtype=np.int64)
    windows = window_indices(tables, tokens)
    targets = np.arange(1, len(tokens))
    result = np.full(len(targets), -np.inf)
    for n in range(1, tables.order + 1):
        context, gram = _context_and_ngram(windows, n, targets)
        log_prob = np.where(gram >= 0, tables.log_probs[n - 1][np.maximum(gram, 0)], np.nan)
        if n > 1:
            backoff = np.where(context >= 0, tables.log_backoffs[n - 2][np.maximum(context, 0)], 0.0)
            result = result + backoff
        result = np.where(np.isnan(log_prob), result, log_prob)
    return result


def score_distributions(tables: BackoffTables, tokens: np.ndarray) -> np.ndarray:
    """``(M-1, num_tokens)`` float64 probabilities of every next token after each prefix of ``tokens``."""
    tokens = np.asarray(tokens, dtype=np.int64)
    windows = window_indices(tables, tokens)
    targets = np.arange(1, len(tokens))
    size = tables.num_tokens
    unigram = np.zeros(size)
    found = ~np.isnan(tables.log_probs[0])
    unigram[tables.keys[0][found]] = np.exp(tables.log_probs[0][found])
    dist = np.tile(unigram, (len(targets), 1))
    for n in range(2, tables.order + 1):
        context, _ = _context_and_ngram(windows, n, targets)
        rows = np.flatnonzero(context >= 0)
        if len(rows) == 0:
            continue
        ctx = context[rows]
        dist[rows] *= np.exp(tables.log_backoffs[n - 2][ctx])[:, None]
        keys = tables.keys[n - 1]
        lo = np.searchsorted(keys, ctx * size)
        hi = np.searchsorted(keys, (ctx + 1) * size)
        many = hi - lo
        entry = np.repeat(lo - np.cumsum(many) + many, many) + np.arange(many.sum())
        values = tables.log_probs[n - 1][entry]
        keep = ~np.isnan(values)
        dist[np.repeat(rows, many)[keep], keys[entry[keep]] % size] = np.exp(values[keep])
    return dist


class BackoffPredictor:
    """A predictor over backoff tables: our Kneser-Ney estimates and ARPA files alike.

    ``token_of_char`` maps each vocabulary id to a table token (an ARPA file
    maps characters it lacks to ``<unk>``); ``bos``, when given, is a token
    put before the text as context only (KenLM's ``<s>``).
    """

    kind = "ngram"

    def __init__(self, tables: BackoffTables, vocab: Vocabulary, corpus_spec: dict,
                 token_of_char: np.ndarray | None = None, bos: int | None = None, info: dict | None = None) -> None:
        self.tables = tables
        self.vocab = vocab
        self.corpus_spec = corpus_spec
        self.token_of_char = np.arange(len(vocab)) if token_of_char is None else np.asarray(token_of_char)
        self.bos = bos
        self.info = info or {}
        self.identity: dict = {}

    @property
    def description(self) -> str:
        return f"order-{self.tables.order} n-gram ({self.tables.order - 1} characters of context)"

    @property
    def context_length(self) -> int:
        return max(self.tables.order - 1, 1)

    def _tokens(self, ids: np.ndarray) -> np.ndarray:
        tokens = self.token_of_char[np.asarray(ids, dtype=np.int64)]
        return tokens if self.bos is None else np.concatenate([[self.bos], tokens])

    def _chunks(self, tokens: np.ndarray, chunk: int):
        """Yield token windows whose predictions, after the first ``skip``, cover the text in order."""
        first = 1 if self.bos is None else 2  # index of the first target (the first char is context only)
        for start in range(first, len(tokens), chunk):
            lo = max(0, start - max(self.tables.order - 1, 1))
            yield tokens[lo:start + chunk], start - lo - 1

    def predict_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1,)`` float64: ln p(ids[t+1] | ids[:t+1]) in nats."""
        tokens = self._tokens(ids)
        parts = [score_log_probs(self.tables, window)[skip:] for window, skip in self._chunks(tokens, LOG_PROB_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def predict_log_distributions(self, ids: np.ndarray) -> np.ndarray:
        """``(N-1, V)`` float32: ln p(c | ids[:t+1]) for every character c of the vocabulary."""
        tokens = self._tokens(ids)
        parts = [np.log(score_distributions(self.tables, window)[skip:, self.token_of_char]).astype(np.float32)
                 for window, skip in self._chunks(tokens, DISTRIBUTION_CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.vocab)), np.float32)
