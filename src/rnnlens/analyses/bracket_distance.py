"""Closing-bracket distance (the paper's Figure 5 left): how well each model predicts a closer far from its opener.

Every closing character of a pair is matched to its opening one
(``match_pairs``); the distance of a match is the closer's position minus the
opener's, in characters (so at least 1). Matches are bucketed by distance
(``bucket_index``) and, per bucket, each model's mean probability of the
closing character is reported: ``exp(log_probs[t - 1])`` for a closer at
``t``, since ``log_probs[i]`` is the log probability of character ``i + 1``
given characters ``0..i``.

Pairs (``PAIRS``): ``{}`` (the paper's), ``()`` and ``[]`` nest and are
matched with a stack: a closer with no open opener is an *unmatched closer*
(counted, skipped), and openers still open at the end of the text are
*unclosed openers* (counted as unmatched too). Straight double quotes ``"``
alternate open/close, except that a blank line ends any open quotation (as
``data.features.in_double_quotes`` reads them, since a quotation running over
paragraphs opens each of them again); the quote left open is unclosed.

``skip_code_literals`` ignores brackets inside C comments, string literals
and character literals, as the small C lexer of ``data.features`` finds them;
for ``"`` the pairs are then that lexer's string literals (an escaped ``\\"``
inside one is no delimiter, a quote in a comment or in ``'"'`` is none
either). The lexer reads the text from its first character: a text starting
inside a comment or string is misread until the next delimiter, and anything
that is not C can fool it: ``'src/*.py'`` (a single-quoted string of more
than 4 characters is no character literal) or ``#include <linux/*.h>`` opens
a "comment" that runs to the next ``*/``. Inside double quotes
``"src/*.py"`` is read correctly as a string.

Buckets: with width ``bin``, bucket ``k`` holds distances ``k*bin + 1``
through ``(k + 1)*bin`` (both included), so the first bucket of the default
20 is exactly the matches whose opener lies within a 20-gram's context. Past
``max_distance`` (a multiple of ``bin``, by default ``10 * bin``) one last,
open-ended bucket holds every longer match (``hi`` is None). Every bucket is
reported, empty ones with count 0 and mean None.

Closers lie far apart, so every interval is a case bootstrap over them: each
model's mean per bucket, and the first model's lead over each other one
(paired: the same closers). Whether that lead grows with distance is one
slope over all the closers of buckets of at least ``MIN_COUNT`` (each at its
bucket's centre, so a bucket weighs as its count), with the mean lead over
the closers beyond the other model's context: the distances where an n-gram
cannot see the opener at all (``model_reach``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.colors import to_rgba

from rnnlens.analyses.intervals import (MIN_COUNT, RESAMPLES, Interval, difference_interval, mean_interval,
                                        slope_interval)
from rnnlens.analyses.model_set import common_text
from rnnlens.analyses.result import Result
from rnnlens.checks import COUNT
from rnnlens.data.features import _C_LEXER, _spans, codepoints, in_double_quotes
from rnnlens.errors import RnnlensError
from rnnlens.render.figures import new_figure, save_figure
from rnnlens.store.atomic import write_csv
from rnnlens.store.predictions import Predictions

PAIRS = {"{}": ("{", "}"), "()": ("(", ")"), "[]": ("[", "]"), '"': ('"', '"')}
BIN = 20
BINS_BY_DEFAULT = 10  # regular buckets before the open-ended one when no max_distance is given
REACH = 20  # a compared model's context when neither given nor in its name: the paper's 20-gram


@dataclass(frozen=True)
class Matches:
    """Matched pairs as ``(M,)`` int64 positions (``closers[k] > openers[k]``, in closing order) and what was left."""

    openers: np.ndarray
    closers: np.ndarray
    unmatched_closers: int
    unclosed_openers: int

    @property
    def distances(self) -> np.ndarray:
        """``(M,)`` characters from each opener to its closer (at least 1)."""
        return self.closers - self.openers

    @property
    def unmatched(self) -> int:
        return self.unmatched_closers + self.unclosed_openers


def code_literal_mask(text: str) -> np.ndarray:
    """Boolean ``(len(text),)``: the character is part of a C comment, string literal or character literal."""
    return _spans(text, _C_LEXER, "comment") | _spans(text, _C_LEXER, "string") | _spans(text, _C_LEXER, "char")


def _stack_match(opening: np.ndarray, closing: np.ndarray) -> Matches:
    """Match each ``closing`` position to the latest still open ``opening`` one (boolean masks, disjoint)."""
    stack: list[int] = []
    openers, closers, unmatched = [], [], 0
    for t in np.flatnonzero(opening | closing).tolist():
        if opening[t]:
            stack.append(t)
        elif stack:
            openers.append(stack.pop())
            closers.append(t)
        else:
            unmatched += 1
    return Matches(np.array(openers, np.int64), np.array(closers, np.int64), unmatched, len(stack))


def _string_literals(text: str) -> Matches:
    """The C lexer's string literals as quote pairs; one ended by a newline or the text is an unclosed opener."""
    openers, closers, unclosed = [], [], 0
    for match in _C_LEXER.finditer(text):
        literal = match.group("string")
        if literal is None:
            continue
        body = literal[1:-1]
        # the lexer's closing quote is optional: the literal is closed when it ends on a quote no backslash escapes
        if len(literal) > 1 and literal.endswith('"') and (len(body) - len(body.rstrip("\\"))) % 2 == 0:
            openers.append(match.start())
            closers.append(match.end() - 1)
        else:
            unclosed += 1
    return Matches(np.array(openers, np.int64), np.array(closers, np.int64), 0, unclosed)


def match_pairs(text: str, pair: str = "{}", skip_code_literals: bool = False) -> Matches:
    """Match the closers of ``pair`` (a key of ``PAIRS``) in ``text`` to their openers (see the module docstring)."""
    if pair not in PAIRS:
        raise RnnlensError(f"unknown pair {pair!r}; choose one of {' '.join(PAIRS)}", option="pair")
    opener, closer = PAIRS[pair]
    if opener == closer:
        if skip_code_literals:
            return _string_literals(text)
        quotes = codepoints(text) == ord(opener)
        inside = in_double_quotes(text).astype(bool)  # true on an opening quote, false on a closing one
        return _stack_match(quotes & inside, quotes & ~inside)
    keep = ~code_literal_mask(text) if skip_code_literals else np.ones(len(text), bool)
    points = codepoints(text)
    return _stack_match((points == ord(opener)) & keep, (points == ord(closer)) & keep)


def default_max_distance(bin: int) -> int:
    return BINS_BY_DEFAULT * bin


def check_buckets(bin: int, max_distance: int | None) -> int:
    """The ``max_distance`` to use (default ``10 * bin``), checked to be a positive multiple of ``bin``."""
    COUNT.check("bin", bin)
    if max_distance is None:
        return default_max_distance(bin)
    COUNT.check("max_distance", max_distance)
    if max_distance % bin:
        raise RnnlensError(f"max distance {max_distance} is not a multiple of the bin width {bin}",
                           f"give {max_distance - max_distance % bin or bin} or {max_distance + bin - max_distance % bin}",
                           option="max_distance")
    return max_distance


def bucket_bounds(bin: int, max_distance: int) -> list[tuple[int, int | None]]:
    """``(lo, hi)`` distances of each bucket, both included; the last is ``(max_distance + 1, None)``."""
    return [(k * bin + 1, (k + 1) * bin) for k in range(max_distance // bin)] + [(max_distance + 1, None)]


def bucket_index(distances: np.ndarray, bin: int, max_distance: int) -> np.ndarray:
    """The bucket of each distance (``>= 1``): ``(d - 1) // bin``, or the open-ended last one past ``max_distance``."""
    return np.minimum((np.asarray(distances, np.int64) - 1) // bin, max_distance // bin)


def reach_from_name(name: str) -> int | None:
    """The characters of context a model's name says it sees: ``ngram-N`` and ``nnn-N`` (the pipeline's names of
    Table 2's models, N characters of context), ``N-NN`` (N), ``N-gram`` (an order-N n-gram: N - 1); else None."""
    if match := re.fullmatch(r"(?:ngram|nnn)-(\d+)|(\d+)-NN", name, re.IGNORECASE):
        return int(match.group(1) or match.group(2))
    if match := re.fullmatch(r"(\d+)-gram", name, re.IGNORECASE):
        return max(int(match.group(1)) - 1, 1)
    return None


def model_reach(name: str, contexts: Mapping[str, int | None]) -> tuple[int, str]:
    """A model's context in characters and where it was learnt: given, from its name, or assumed (``REACH``)."""
    if contexts.get(name) is not None:
        return int(contexts[name]), "given"
    named = reach_from_name(name)
    if named is not None:
        return named, "from its name"
    return REACH, f"assumed: neither given nor in its name, so the paper's {REACH}-gram's"


def _interval_or_none(interval: Interval) -> dict | None:
    return interval.to_dict() if interval.count else None


def _interval_bars(intervals: list[dict | None]) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and ``(2, B)`` distances down to the low end and up to the high end, NaN for empty buckets and
    undefined ends (one closer: saved as null), which matplotlib leaves out."""
    rows = np.array([[np.nan] * 3 if i is None else [i["estimate"], i["low"], i["high"]] for i in intervals],
                    dtype=np.float64)  # None becomes NaN
    return rows[:, 0], np.abs(rows[:, 1:].T - rows[:, 0])


@dataclass
class BracketDistance(Result):
    """Per distance bucket: how many closers (``counts``, ``(B,)``) and each model's mean probability of them.

    ``mean_prob`` holds one value per bucket by model name, None for an empty
    bucket, and ``intervals`` its bootstrap interval (an ``Interval.to_dict``)
    over the bucket's closers; ``leads`` the paired interval of the first
    model's lead (first minus model) for every model after the first.
    ``trends``, by each such model: the slope of the lead with distance and
    the lead beyond the model's context (``trend``).
    """

    name = "brackets"
    pair: str
    bin: int
    max_distance: int
    skip_code_literals: bool
    matches: Matches
    counts: np.ndarray
    mean_prob: dict[str, list[float | None]]
    intervals: dict[str, list[dict | None]]
    leads: dict[str, list[dict | None]]
    trends: dict[str, dict]
    text: dict

    @property
    def bounds(self) -> list[tuple[int, int | None]]:
        return bucket_bounds(self.bin, self.max_distance)

    @property
    def models(self) -> list[str]:
        return list(self.mean_prob)

    def buckets(self) -> list[dict]:
        rows = []
        for k, (lo, hi) in enumerate(self.bounds):
            row = {"lo": lo, "hi": hi, "count": int(self.counts[k]),
                   "mean_prob": {m: v[k] for m, v in self.mean_prob.items()},
                   "interval": {m: v[k] for m, v in self.intervals.items()}}
            if self.leads:
                row["lead"] = {m: v[k] for m, v in self.leads.items()}
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        return {"pair": self.pair, "bin": self.bin, "max_distance": self.max_distance,
                "skip_code_literals": self.skip_code_literals, "models": self.models,
                "matched": len(self.matches.closers), "unmatched": self.matches.unmatched,
                "unmatched_closers": self.matches.unmatched_closers,
                "unclosed_openers": self.matches.unclosed_openers, "text": self.text, "buckets": self.buckets(),
                "trend": self.trends}

    def labels(self) -> list[str]:
        return [f"{lo}-{hi}" if hi is not None else f">{lo - 1}" for lo, hi in self.bounds]

    def _skipped(self) -> str:
        return ", C comments and literals skipped" if self.skip_code_literals else ""

    def trend_words(self, other: str, sep: str = "; ") -> str:
        """``slope ... per character, 95% CI [...], N closers; lead beyond 20 characters ...``."""
        trend = self.trends[other]
        slope, beyond = Interval.from_dict(trend["slope"]), Interval.from_dict(trend["beyond"])
        slope_words = (slope.words(digits=4, unit=" per character", cases="closers") if np.isfinite(slope.estimate)
                       else f"none ({slope.count:,} closers in buckets of at least {MIN_COUNT}: {slope.method})")
        return (f"{self.models[0]} - {other}: slope {slope_words}{sep}"
                f"lead beyond {trend['reach']} characters "
                + (beyond.words(cases="closers") if np.isfinite(beyond.estimate) else "none (no closer that far)"))

    def summary(self) -> str:
        first, *rest = self.models
        head = f"{'distance':>9} {'count':>8} " + " ".join(f"{m[:12]:>12}" for m in self.models)
        head += "".join(f" {('A-' + m[:9]):>12}" for m in rest)
        lines = [f"{self.pair}: {len(self.matches.closers):,} matched, {self.matches.unmatched_closers:,} unmatched "
                 f"closers, {self.matches.unclosed_openers:,} unclosed openers in {self.text.get('source')}"
                 f"{self._skipped()}; mean probability of the closer" + (f" (A = {first})" if rest else ""),
                 head, "-" * len(head)]
        for k, label in enumerate(self.labels()):
            probs = [self.mean_prob[m][k] for m in self.models]
            cells = " ".join(f"{'-' if p is None else f'{p:.4f}':>12}" for p in probs)
            cells += "".join(f" {'-' if p is None else f'{probs[0] - p:+.4f}':>12}" for p in probs[1:])
            lines.append(f"{label:>9} {int(self.counts[k]):>8} {cells}")
        lines += [self.trend_words(m) for m in rest]
        return "\n".join(lines)

    def write_files(self, out: Path) -> None:
        """brackets.csv (one row per bucket and model), brackets.png and .svg."""
        rows = [[lo, "" if hi is None else hi, int(self.counts[k]), m,
                 *(["", "", ""] if self.intervals[m][k] is None else
                   [self.intervals[m][k][key] for key in ("estimate", "low", "high")])]
                for k, (lo, hi) in enumerate(self.bounds) for m in self.models]
        write_csv(out / "brackets.csv", ["lo", "hi", "count", "model", "mean_prob", "ci_low", "ci_high"], rows)
        figure = self.plot()
        save_figure(figure, out / "brackets.png")
        save_figure(figure, out / "brackets.svg")

    def plot(self):
        """Mean probability per bucket for each model; the first model's lead over each later one (bars);
        counts (bars). Error bars: 95% intervals; buckets of fewer than ``MIN_COUNT`` closers faded."""
        x = np.arange(len(self.counts))
        first, *rest = self.models
        panels = 3 if rest else 2
        figure = new_figure(figsize=(max(6.0, 0.55 * len(x) + 2), 2.4 * panels + 1.6))
        axes = figure.subplots(panels, 1, sharex=True, gridspec_kw={"height_ratios": [3] + [2] * (panels - 1)})
        for m in self.models:
            means, bars = _interval_bars(self.intervals[m])
            axes[0].errorbar(x, means, bars, marker="o", ms=4, capsize=2, lw=1.2, label=m)
        axes[0].set_ylabel(f"mean P(closing {PAIRS[self.pair][1]})")
        axes[0].legend(fontsize=8)
        axes[0].grid(alpha=0.3)
        if rest:
            self._lead_panel(axes[1], x, rest)
        few = self.counts < MIN_COUNT
        bars = axes[-1].bar(x, self.counts, 0.7, color=np.where(few, "0.8", "0.5"))
        axes[-1].bar_label(bars, [f"{n:,}" if n else "" for n in self.counts], fontsize=7)
        if self.counts.max(initial=0) > 0:  # counts span decades; headroom for the labels
            axes[-1].set_yscale("log")
            axes[-1].set_ylim(0.7, self.counts.max() * 3)
        axes[-1].set_ylabel(f"closers (pale: < {MIN_COUNT})")
        axes[-1].set_xticks(x, self.labels(), rotation=45, ha="right", fontsize=8)
        axes[-1].set_xlabel(f"distance from opening to closing {self.pair} (characters)")
        trends = "".join("\n" + self.trend_words(m, sep=",\n") for m in rest)
        figure.suptitle(f"closing {PAIRS[self.pair][1]} by distance: {self.text.get('source', '')}{self._skipped()}"
                        f"\n(error bars: 95% bootstrap intervals over each bucket's closers){trends}", fontsize=9,
                        parse_math=False)
        figure.tight_layout()
        return figure

    def _lead_panel(self, ax, x: np.ndarray, rest: list[str]) -> None:
        """Bars of the first model's lead over each later model, pale where a bucket has too few closers to
        decide; a dashed line where each model's context ends."""
        first, width = self.models[0], 0.8 / len(rest)
        few = self.counts < MIN_COUNT
        for i, m in enumerate(rest):
            leads, bars = _interval_bars(self.leads[m])
            colours = [to_rgba(f"C{i + 1}", 0.35 if pale else 1.0) for pale in few]
            ax.bar(x + (i - (len(rest) - 1) / 2) * width, leads, width, yerr=bars, capsize=2, color=colours,
                   label=f"{first} − {m}")
            reach = self.trends[m]["reach"]
            ax.axvline(reach / self.bin - 0.5, color=f"C{i + 1}", ls="--", lw=0.9,
                       label=f"{m}'s context ({reach} characters)")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylabel(f"lead of {first}\nin mean P")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")


def trend(lead: np.ndarray, bucket: np.ndarray, counts: np.ndarray, distances: np.ndarray, bin: int,
          reach: tuple[int, str], resamples: int) -> dict:
    """Whether a lead ``(M,)`` over the matched closers grows with distance, and whether it holds past ``reach``.

    ``slope``: the least-squares slope of each closer's lead on its bucket's
    centre (``k * bin + (bin + 1) / 2``, the open-ended bucket as if it were
    as wide), over the closers of buckets of at least ``MIN_COUNT`` (a bucket
    of fewer never decides a trend), so each bucket weighs as its count;
    ``beyond``: the mean lead over the closers farther than ``reach`` from
    their opener. Both with case bootstrap intervals over the closers.
    """
    decisive = counts[bucket] >= MIN_COUNT
    centres = bucket * bin + (bin + 1) / 2
    slope = slope_interval(centres[decisive], lead[decisive], resamples=resamples, what="closers")
    beyond = mean_interval(lead[distances > reach[0]], block=1, resamples=resamples, what="closers")
    return {"slope": slope.to_dict(), "beyond": beyond.to_dict(), "reach": reach[0], "reach_from": reach[1],
            "slope_over": f"closers of buckets of at least {MIN_COUNT}, each at its bucket's centre"}


def bracket_distance(predictions: Mapping[str, Predictions], text: str, pair: str = "{}", bin: int = BIN,
                     max_distance: int | None = None, skip_code_literals: bool = False,
                     contexts: Mapping[str, int | None] | None = None, resamples: int = RESAMPLES) -> BracketDistance:
    """Bucket the matched closers of ``pair`` in ``text`` by distance; each model's mean probability of them, and
    the first model's lead over each other one, per bucket and as a ``trend``.

    ``text`` is the scored text's characters (``len(text)`` = the text's
    ``chars``); ``predictions`` are by model name, all of that text;
    ``contexts`` the characters of context of those that have one (an
    n-gram's n), else read from their names (``model_reach``).
    """
    identity = common_text(predictions, at_least=1)
    if len(text) != identity["chars"]:
        raise RnnlensError(f"{len(text)} characters given for predictions of a text of {identity['chars']}")
    max_distance = check_buckets(bin, max_distance)
    matches = match_pairs(text, pair, skip_code_literals)
    bucket = bucket_index(matches.distances, bin, max_distance)
    buckets = max_distance // bin + 1
    counts = np.bincount(bucket, minlength=buckets)
    probs = {m: np.exp(np.asarray(p.log_probs, np.float64)[matches.closers - 1]) for m, p in predictions.items()}
    (first_name, first), *rest = probs.items()
    mean_prob, intervals, leads, trends = {}, {}, {}, {}
    for m, p in probs.items():
        per_bucket = [mean_interval(p[bucket == k], block=1, resamples=resamples, what="closers")
                      for k in range(buckets)]
        mean_prob[m] = [i.estimate if i.count else None for i in per_bucket]
        intervals[m] = [_interval_or_none(i) for i in per_bucket]
    for m, p in rest:
        leads[m] = [_interval_or_none(difference_interval(first[bucket == k], p[bucket == k], block=1,
                                                          resamples=resamples, what="closers"))
                    for k in range(buckets)]
        trends[m] = trend(first - p, bucket, counts, matches.distances, bin, model_reach(m, contexts or {}),
                          resamples)
    return BracketDistance(pair, bin, max_distance, skip_code_literals, matches, counts, mean_prob, intervals,
                           leads, trends, identity)
