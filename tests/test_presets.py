"""The presets and sub-grids: each grid's own training options reach its stages, the standard preset plans what
issue 18 asks for on both corpora, configs print back as TOML, and the longest training is scheduled first."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.pipeline.config import ConfigError, check_config, for_dataset, load_config, to_toml
from rnnlens.pipeline.plan import Planner
from rnnlens.pipeline.schedule import expected_work

SUBGRIDS = """
[[grid]]
types = ["rnn", "lstm"]
layers = [1]
params = [1500]

[[grid]]
types = ["lstm"]
layers = [2]
params = [4000]
dropout = [0.1]
train = { epochs = 3, lr_decay_after = 2 }

[train]
epochs = 1
batch_size = 8
seq_length = 20
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, war_and_peace):
    path = tmp_path_factory.mktemp("presets") / "text.txt"
    path.write_text(war_and_peace[:20_000], encoding="utf-8")
    return load_corpus(text=str(path))


def planned(config: dict, corpus, root: Path):
    check_config(config, "test")
    return Planner(config, corpus, root).plan().graph


def flag(argv: tuple, name: str) -> str:
    return str(argv[argv.index(name) + 1])


def test_each_grid_trains_with_the_shared_options_under_its_own(corpus, tmp_path):
    graph = planned(tomllib.loads(SUBGRIDS), corpus, tmp_path)
    small, big = graph.stages["lstm1-1.5k"], graph.stages["lstm2-4k"]
    assert (flag(small.argv, "--epochs"), flag(big.argv, "--epochs")) == ("1", "3")
    assert flag(big.argv, "--lr-decay-after") == "2" and "--lr-decay-after" not in small.argv
    assert flag(big.argv, "--batch-size") == flag(small.argv, "--batch-size") == "8"
    assert flag(big.argv, "--dropout") == "0.1" and big.info["epochs"] == 3 and small.info["epochs"] == 1
    assert set(graph.stages) == {"rnn1-1.5k", "lstm1-1.5k", "lstm2-4k"}


@pytest.mark.parametrize("change, message", [
    ('types = ["lstm"]\nlayers = [1]\nparams = [1500]\n', r"grid\[2\]: lstm1-1.5k is already in an earlier grid"),
    ('types = ["lstm"]\nlayers = [3]\nparams = [1500]\ntrain = { epoch = 2 }\n',
     r"grid\[2\]\.train\.epoch: rnnlens train has no option --epoch"),
    ('types = ["lstm"]\nlayers = [3]\nparams = [1500]\nwidth = 3\n', r"grid\[2\]\.width: unknown key"),
    ('types = ["lstm"]\nlayers = [3]\nparams = [1500]\ntrain = 3\n', r"grid\[2\]\.train: must be a table"),
])
def test_a_bad_grid_entry_is_one_line_naming_it(change, message, corpus, tmp_path):
    import re

    config = tomllib.loads(SUBGRIDS + "\n[[grid]]\n" + change)
    with pytest.raises(ConfigError) as err:
        planned(config, corpus, tmp_path)
    assert re.search(message, str(err.value)), str(err.value)


def test_grids_print_back_as_toml_that_reads_as_the_same_config():
    for preset in ("quick", "standard", "paper"):
        config, _ = load_config(preset)
        for dataset in (None, "linux-kernel"):
            effective = for_dataset(config, dataset)
            assert tomllib.loads(to_toml(effective)) == effective


def test_the_standard_preset_plans_the_models_and_analyses_the_issue_asks_for(corpus, tmp_path):
    config, _ = load_config("standard")
    graph = planned(for_dataset(config, "war-and-peace"), corpus, tmp_path)
    trained = {n: s.info for n, s in graph.stages.items() if "epochs" in s.info}
    for kind in ("rnn", "lstm", "gru"):  # Figure 1: every type at two budgets
        assert {info["params"] for n, info in trained.items() if info["type"] == kind} >= {50_000, 250_000}
    assert trained["lstm2-1.3M"]["epochs"] == 16 and trained["lstm2-50k"]["params"] == 50_000
    onion = graph.stages["onion"].argv
    assert [getattr(a, "stage", None) for a in onion[1:3]] == ["lstm2-50k", "best-lstm"]  # 50K: the small model
    analyses = {s.info.get("analysis") for s in graph.stages.values()} - {None}
    assert analyses == {"compare", "cells", "saturation", "overlap", "advantage", "brackets", "dynamics", "onion",
                        "ablate", "context", "probe", "sae", "cka", "cka_snapshots"}
    linux = for_dataset(config, "linux-kernel")
    assert [g["train"]["epochs"] for g in linux["grid"]] == [4, 3, 7]  # the same updates on a 2.2x longer split


def test_the_longest_training_is_scheduled_first():
    big = {"epochs": 16, "train_chars": 2_556_968, "params": 1_300_000}
    many_small = {"epochs": 8, "train_chars": 2_556_968, "params": 250_000}
    assert expected_work(big) > 2 * expected_work(many_small) > 0
    assert expected_work({"rows": ["ngram-order2"]}) == 0


def test_reproduce_names_the_standard_preset_in_its_help(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    assert "standard" in capsys.readouterr().out
