"""The command line helps a user who mistypes: the closest command or option, each command listed once, an
unknown option blamed on its subcommand, advice that keeps the user's files."""

from __future__ import annotations

import json
import re

from in_process import refused, rnnlens


def test_a_mistyped_command_suggests_the_closest():
    ran = rnnlens("trian")
    assert ran.code == 2
    assert ran.err.strip() == ("rnnlens: error: unknown command 'trian' (did you mean 'train'?); "
                               "see rnnlens --help")
    assert rnnlens("evalute", "x").err.startswith("rnnlens: error: unknown command 'evalute' (did you mean "
                                                   "'evaluate'?)")
    assert "did you mean" not in rnnlens("xyzzy").err  # nothing close: no guess


def test_a_mistyped_option_is_an_error_of_its_command_with_the_closest_option():
    line = refused(rnnlens("train", "--modle", "lstm", "--out", "x"), "train",
                   r"unrecognized arguments: --modle lstm \(did you mean '--model'\?\); see rnnlens train --help$",
                   code=2)
    assert line.startswith("rnnlens train: error:")
    refused(rnnlens("evaluate", "run", "--splt=test"), "evaluate", r"--splt=test \(did you mean '--split'\?\)", code=2)


def test_each_command_is_listed_once_and_the_underscore_spelling_still_runs():
    listing = rnnlens("--help").out
    assert listing.count("export-lstmvis") == 1 and "export_lstmvis" not in listing
    commands = re.findall(r"^    (\S+)", listing, re.M)
    assert len(commands) == len(set(commands)) and "train" in commands
    typo = rnnlens("export_lstmvis", "--help")
    assert typo.code == 0 and typo.out.startswith("usage: rnnlens export-lstmvis")
    choices = rnnlens("export-lstmvs").err
    assert "(did you mean 'export-lstmvis'?)" in choices


def test_onion_on_another_corpus_ngram_table_keeps_the_table_and_says_which_corpus(tmp_path):
    mine, other = tmp_path / "mine.txt", tmp_path / "other.txt"
    mine.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    other.write_text("a dog ran in the fog! " * 40, encoding="utf-8")
    table = tmp_path / "table"
    assert rnnlens("ngram", "--text", other, "--order", "2", "--out", table / "ngram-order2", "--quiet").code == 0
    assert rnnlens("ngram", "--text", mine, "--order", "3", "--out", tmp_path / "model", "--quiet").code == 0
    before = sorted(p.name for p in (table / "ngram-order2").iterdir())
    line = refused(rnnlens("onion", tmp_path / "model", "--ngram-dir", table, "--orders", "2", "--out",
                           tmp_path / "onion"), "onion", r"--ngram-dir \S+table holds n-gram models of other ",
                   r"not of the model's corpus mine", r"give --ngram-dir a directory of this corpus's models")
    assert not re.search(r"remove|delete", line)
    assert sorted(p.name for p in (table / "ngram-order2").iterdir()) == before
    assert not (tmp_path / "onion").exists()
    config = json.loads((table / "ngram-order2" / "config.json").read_text())
    assert config["corpus"]["name"] == "other"
