"""``rnnlens train --kind``: each trainable kind declares its options; the command offers them, refuses another
kind's, and reaches the kind only through the registry.

The second kind here is the RNN kind under another name whose size option is ``--width`` (one module made in
the test, one registry line): enough to show a kind's own flag, a shared one, and a refusal.
"""

from __future__ import annotations

import json
import types

import pytest

from in_process import refused, rnnlens
from rnnlens.models import registry
from rnnlens.models.kind_options import KindOption, missing_options
from rnnlens.models.rnn import kind as rnn_kind
from rnnlens.pipeline import plan
from rnnlens.pipeline.stages import command_signature

TINY = ["--model", "lstm", "--layers", "1", "--hidden", "8", "--epochs", "1", "--batch-size", "4",
        "--seq-length", "20", "--quiet", "--json"]


@pytest.fixture
def text(tmp_path, war_and_peace):
    path = tmp_path / "wp.txt"
    path.write_text(war_and_peace[:20_000], encoding="utf-8")
    return path


@pytest.fixture
def wide_kind():
    kind = types.ModuleType("wide")
    for name in rnn_kind.__all__:
        setattr(kind, name, getattr(rnn_kind, name))
    kind.TRAIN_OPTIONS = (KindOption("model_type", "--model", "cell type", choices=("lstm",), required=True),
                          KindOption("num_layers", "--layers", "layers", int, required=True),
                          KindOption("hidden_size", "--width", "units per layer", int, required=True))
    registry.register_kind("wide", kind)
    yield kind
    registry.KINDS.pop("wide")


def test_kind_rnn_trains_exactly_what_a_run_without_kind_trains(text, tmp_path):
    plain = rnnlens("train", "--text", text, "--out", tmp_path / "plain", *TINY)
    chosen = rnnlens("train", "--kind", "rnn", "--text", text, "--out", tmp_path / "chosen", *TINY)
    assert plain.code == chosen.code == 0, plain.err + chosen.err
    assert json.loads(chosen.out)["best_val_loss"] == json.loads(plain.out)["best_val_loss"]


def test_each_kind_offers_its_own_options_and_refuses_another_kind_s(wide_kind, text, tmp_path):
    usage = rnnlens("train", "--help").out
    assert "--kind {rnn,wide}" in usage and "--width WIDTH" in usage
    refused(rnnlens("train", "--text", text, "--width", "8", "--out", tmp_path / "a", *TINY), "train",
            r"--width is an option of --kind wide, not of --kind rnn; leave it out")
    refused(rnnlens("train", "--kind", "wide", "--text", text, "--dropout", "0.1", "--out", tmp_path / "b"),
            "train", r"--dropout is an option of --kind rnn, not of --kind wide")
    refused(rnnlens("train", "--kind", "wide", "--text", text, "--model", "lstm", "--out", tmp_path / "c"),
            "train", r"a new run of --kind wide needs --layers, --width$")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    wide = ["--kind", "wide", "--text", text, "--width", "8", *[a for a in TINY if a not in ("--hidden", "8")]]
    ran = rnnlens("train", *wide, "--out", tmp_path / "wide")
    assert ran.code == 0, ran.err
    assert json.loads((tmp_path / "wide" / "config.json").read_text())["model"]["hidden_size"] == 8


def test_another_kind_s_options_leave_the_signature_of_train_as_it_was(wide_kind, monkeypatch):
    """So a reproduction's trainings are not redone because a kind was added."""
    with_wide = command_signature(plan.subcommands(plan.cli_parser())["train"])
    registry.KINDS.pop("wide")
    without = command_signature(plan.subcommands(plan.cli_parser())["train"])
    registry.register_kind("wide", wide_kind)
    assert with_wide == without


def test_a_new_run_needs_each_required_option_and_one_of_each_set_of_alternatives():
    options = rnn_kind.TRAIN_OPTIONS
    assert missing_options(options, {}) == ["--model", "--layers", "--hidden or --params"]
    assert missing_options(options, {"model_type": "gru", "num_layers": 2, "params": 5000}) == []
