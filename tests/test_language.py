"""A corpus's language (C, Python or prose) on real text, and what follows from it: comments and string literals
(checked against Python's own tokenizer), the onion's words, the brackets reproduce measures."""

from __future__ import annotations

import io
import sysconfig
import tokenize
from pathlib import Path

import numpy as np
import pytest

from rnnlens.analyses.onion.words import resolve_mode
from rnnlens.data.corpus import load_corpus
from rnnlens.data.features import FEATURES, in_c_comment, in_comment, in_string, in_string_literal
from rnnlens.data.language import C, PROSE, PYTHON, detect_language, line_shares
from rnnlens.pipeline.config import load_config
from rnnlens.pipeline.plan import Planner

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PYTHON_FILES = ["json/decoder.py", "textwrap.py", "shlex.py", "tokenize.py"]


@pytest.fixture(scope="module")
def linux(data_dir) -> str:
    """The first 200,000 characters of the Linux kernel corpus (C files one after the other)."""
    with open(data_dir / "linux_kernel.txt", encoding="utf-8") as file:
        return file.read(200_000)


def tokenizer_spans(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The characters of COMMENT and of STRING tokens, by Python's own tokenizer (the reference)."""
    starts = np.concatenate([[0], np.cumsum([len(line) for line in source.splitlines(keepends=True)])])
    comment, string = np.zeros(len(source), bool), np.zeros(len(source), bool)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.STRING):
            begin = starts[token.start[0] - 1] + token.start[1]
            end = starts[token.end[0] - 1] + token.end[1]
            (comment if token.type == tokenize.COMMENT else string)[begin:end] = True
    return comment, string


def test_c_python_and_prose_are_told_apart_on_real_files(linux, war_and_peace):
    assert detect_language(linux) is C
    assert detect_language(linux[:1300]) is C  # one small file: tools/perf's mips annotate
    for name in PYTHON_FILES:
        assert detect_language((STDLIB / name).read_text(encoding="utf-8")) is PYTHON, name
    assert detect_language(war_and_peace[:300_000]) is PROSE
    shares = line_shares(linux)
    assert shares["c"] > 0.6 and shares["python"] < 0.1  # 0.69 and 0.05 on the first 500,000 characters
    assert max(line_shares(war_and_peace).values()) < 0.01


@pytest.mark.parametrize("name", PYTHON_FILES)
def test_python_comments_and_strings_are_the_tokenizers(name):
    source = (STDLIB / name).read_text(encoding="utf-8")
    comment, string = tokenizer_spans(source)
    assert comment.sum() > 100 and string.sum() > 1000  # the file has both, docstrings among the strings
    assert np.array_equal(in_comment(source), comment)
    assert np.array_equal(in_string(source), string)


def span(source: str, part: str) -> list[int]:
    """The positions of ``part``'s one occurrence in ``source``."""
    assert source.count(part) == 1, part
    return list(range(source.index(part), source.index(part) + len(part)))


def test_python_strings_of_every_quote_and_a_url_in_a_comment():
    source = ("import os\n\ndef f(x):\n    return x\n\n"
              "x = 'it''s'  # see http://a.org\ny = r\"\"\"a\n'b'\"\"\" + f\"{x}\"\n")
    strings = span(source, "'it'") + span(source, "'s'") + span(source, 'r"""a\n\'b\'"""') + span(source, 'f"{x}"')
    assert np.flatnonzero(in_string(source)).tolist() == strings
    assert np.flatnonzero(in_comment(source)).tolist() == span(source, "# see http://a.org")
    assert not in_c_comment(source).any()  # the URL's // opened a C comment before


def test_c_comments_and_strings_and_a_url_inside_a_comment(linux):
    source = '/* see http://x.org */\nint a = b / 2; // half\nchar *s = "//";\n'
    comment = in_comment(source)
    assert np.flatnonzero(comment).tolist() == span(source, "/* see http://x.org */") + span(source, "// half")
    assert np.array_equal(comment, in_c_comment(source))
    assert np.flatnonzero(in_string(source)).tolist() == span(source, '"//"')
    assert np.array_equal(in_string(linux), in_string_literal(linux))  # on C text the old name is the new one
    assert np.array_equal(in_comment(linux), in_c_comment(linux))
    assert in_comment(linux).mean() > 0.05 and in_string(linux).mean() > 0.01


def test_prose_has_no_comments_nor_string_literals_and_urls_open_no_c_comment(war_and_peace):
    text = war_and_peace[:50_000] + "\nSee http://www.gutenberg.org for more.\n"
    assert not in_comment(text).any() and not in_string(text).any()
    assert not in_c_comment(text).any()
    assert FEATURES["in_comment"].kind == FEATURES["in_string"].kind == "binary"


def test_the_onions_auto_words_follow_the_language(linux, war_and_peace):
    python = "".join((STDLIB / name).read_text(encoding="utf-8") for name in PYTHON_FILES)
    assert sum(python.count(c) for c in "{};") < 0.005 * len(python)  # the old rule took this Python for prose
    assert resolve_mode("auto", python) == "code"
    assert resolve_mode("auto", linux) == "code"
    assert resolve_mode("auto", war_and_peace[:100_000]) == "prose"


@pytest.mark.parametrize("source, pair", [("python", "()"), ("linux", "{}"), ("prose", '"')])
def test_reproduce_text_measures_the_brackets_of_its_language(source, pair, tmp_path, linux, war_and_peace):
    texts = {"python": (STDLIB / "textwrap.py").read_text(encoding="utf-8"), "linux": linux[:20_000],
             "prose": war_and_peace[:20_000]}
    (tmp_path / "corpus.txt").write_text(texts[source], encoding="utf-8")
    config, _ = load_config("quick")
    plan = Planner(config, load_corpus(text=tmp_path / "corpus.txt"), tmp_path / "out").plan()
    (stage,) = plan.sections["brackets"]
    argv = [str(a) for a in plan.graph.stages[stage].argv]
    assert argv[argv.index("--pair") + 1] == pair
    assert config["analyses"]["brackets"]["pair"] == '"'  # the preset's prose pair, replaced for code
