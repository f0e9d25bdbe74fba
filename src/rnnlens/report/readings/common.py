"""What every reading shares: its parts (tables, findings), what it may look at, and the rules of a verdict.

A finding compares numbers, and decides from their uncertainty, never from
point estimates alone:

- ``direction``: the paper says a quantity is positive (a lead, a slope).
  It **holds** when the quantity's interval lies wholly on the paper's side
  of zero, **differs** when wholly on the other side, and otherwise
  **cannot say** (the interval covers both, or fewer than ``MIN_COUNT``
  cases).
- ``most``: the paper says a share is most of its cases: ``direction`` of the share less one half.
- ``near``: the paper gives a value. It **holds** when our interval lies
  within ``tolerance`` of it, **differs** when the interval lies wholly
  beyond that tolerance, and otherwise **cannot say**.
- ``combine``: a claim checked in several places (every depth, every
  budget) holds where all hold, holds ``partly`` where some do, differs
  where none holds and one differs, and otherwise cannot say.

Each finding keeps its numbers (``Interval.to_dict``), the test in words and,
for ``differs`` and ``cannot say``, why: too few cases, an interval that
covers both, another corpus, smaller models trained for less time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rnnlens.analyses.intervals import MIN_COUNT, Interval

LOSS_TOLERANCE = 0.05  # nats/char
SHARE_TOLERANCE = 0.05  # absolute, for fractions
LONG_CONTEXT_CHARS = set('\n"()[]{} \t')  # the characters the paper says need long context
SHOWN_ROWS = 16  # rows of a long table on the page (a printed page holds about that many with its figure)
VERDICTS = ("holds", "partly", "differs", "cannot say")


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Finding:
    """One claim of the paper checked against our numbers. ``numbers`` maps a name to an interval's dict
    (or a plain value); ``test`` says how the verdict was decided; ``why`` says what keeps it from holding."""

    claim: str
    verdict: str  # one of VERDICTS
    ours: str
    paper: str = ""
    numbers: dict = field(default_factory=dict)
    test: str = ""
    why: str = ""

    def to_dict(self, section: str) -> dict:
        return {"section": section, **asdict(self)}


@dataclass
class Reading:
    tables: list[Table] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Context:
    """What every reading may look at: the dataset, the paper's numbers, every section's results by key."""

    dataset: str | None
    paper: dict
    results: dict[str, list[dict]]  # analysis key -> the JSON of each of its stages

    def paper_value(self, section: str, key: str) -> float | None:
        """The paper's number for this corpus; None for a corpus the paper did not use."""
        return self.paper.get(section, {}).get(key, {}).get(self.dataset) if self.dataset else None

    @property
    def papers_corpus(self) -> bool:
        return self.dataset in ("war-and-peace", "linux-kernel")

    def why_differs(self) -> str:
        """What sets our setting apart from the paper's, for a finding that differs."""
        if not self.papers_corpus:
            return "another corpus than the paper's"
        models = [m for r in self.results.get("compare", []) for m in r.get("models", [])]
        largest = max((m.get("params") or 0 for m in models), default=0)
        ours = f"at most {largest:,} parameters" if largest else "our grid"
        return f"smaller models or shorter training ({ours}; the paper's up to 3 layers of 512 units, 50 epochs)"


def num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def signed(x: float, digits: int = 3) -> str:
    """``x`` with its sign, ``+0.000`` for what rounds to zero (never ``-0.000``)."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def direction(interval: Interval, min_count: int = MIN_COUNT, cases: str = "cases") -> tuple[str, str]:
    """The verdict on a quantity the paper says is positive, and why when it does not hold."""
    if interval.count < min_count:
        return "cannot say", f"only {interval.count:,} {cases}, fewer than {min_count}"
    if interval.above(0):
        return "holds", ""
    if interval.below(0):
        return "differs", "the interval lies wholly on the other side"
    return "cannot say", "the interval covers both directions"


def most(share: Interval, cases: str) -> tuple[str, str]:
    """The verdict on a share the paper says is most of its cases (above one half), and why when it does not
    hold: ``direction`` of the share less one half."""
    excess = Interval(share.estimate - 0.5, share.low - 0.5, share.high - 0.5, share.count, share.method, share.level)
    verdict, why = direction(excess, cases=cases)
    if share.count < MIN_COUNT:
        return verdict, why
    return verdict, {"holds": "", "differs": "the interval lies wholly below one half",
                     "cannot say": "the interval covers one half"}[verdict]


def near(interval: Interval, paper: float | None, tolerance: float) -> tuple[str, str]:
    """The verdict on our ``interval`` against the paper's value within ``tolerance``."""
    if paper is None:
        return "cannot say", "the paper gives no number for this corpus"
    if interval.low >= paper - tolerance and interval.high <= paper + tolerance:
        return "holds", ""
    if interval.low > paper + tolerance or interval.high < paper - tolerance:
        return "differs", f"the interval lies wholly beyond {tolerance:g} of the paper's {paper:g}"
    return "cannot say", f"the interval reaches both within and beyond {tolerance:g} of the paper's {paper:g}"


def combine(verdicts: list[str]) -> str:
    """One verdict for a claim checked in several places (every depth, every budget)."""
    if not verdicts:
        return "cannot say"
    if all(v == "holds" for v in verdicts):
        return "holds"
    if "holds" in verdicts:
        return "partly"
    return "differs" if "differs" in verdicts else "cannot say"  # a claim about every place fails where one differs


def decided(claim: str, interval: Interval, ours: str, ctx: Context, paper: str = "", cases: str = "cases",
            name: str = "ours") -> Finding:
    """A finding on a quantity the paper says is positive, decided by ``direction``."""
    verdict, why = direction(interval, cases=cases)
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    return Finding(claim, verdict, f"{ours}: {interval.words(cases=cases)}", paper, {name: interval.to_dict()},
                   f"{round(100 * interval.level)}% interval by {interval.method}, at least {MIN_COUNT} {cases}", why)


def against_paper(claim: str, interval: Interval, paper: float | None, tolerance: float, ctx: Context,
                  share: bool = False, cases: str = "cases") -> Finding:
    """A finding on our ``interval`` against the paper's value, decided by ``near``."""
    verdict, why = near(interval, paper, tolerance)
    if verdict == "differs":
        why = f"{why}; {ctx.why_differs()}"
    show = pct if share else num
    words = f"{show(interval.estimate)} ({show(interval.low)} to {show(interval.high)}, {interval.count:,} {cases})"
    paper_words = "" if paper is None else f"paper: {show(paper)}"
    unit = "points" if share else "nats/char"
    tolerance_words = f"{100 * tolerance:g} {unit}" if share else f"{tolerance:g} {unit}"
    return Finding(claim, verdict, words, paper_words, {"ours": interval.to_dict(), "paper": paper},
                   f"{round(100 * interval.level)}% interval by {interval.method}, within {tolerance_words} of "
                   "the paper's", why)
