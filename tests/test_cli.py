"""The command line as a user meets it: exit codes, one-line errors, stdout contracts."""

import json

import pytest

from in_process import refused, rnnlens


def train_tiny(text, out):
    return rnnlens("train", "--text", text, "--model", "lstm", "--layers", "1", "--hidden", "8", "--out", out)


def test_bad_training_input_fails_in_one_line_and_writes_nothing(bad_text_file, tmp_path):
    text, pattern = bad_text_file
    refused(train_tiny(text, tmp_path / "run"), "train", pattern, code=1)
    assert not (tmp_path / "run").exists()


def test_a_text_too_short_for_one_batch_fails_in_one_line_and_writes_nothing(tmp_path):
    text = tmp_path / "input.txt"
    text.write_text("far too short for a batch", encoding="utf-8")
    refused(train_tiny(text, tmp_path / "run"), "train", "too short for one batch of 100 x 100", code=1)
    assert not (tmp_path / "run").exists()


def test_unknown_dataset_and_missing_data_dir_are_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLENS_DATA", raising=False)
    refused(rnnlens("train", "--dataset", "war-and-peace", "--model", "lstm", "--layers", "1", "--hidden", "8",
                    "--out", tmp_path / "r"), "train", "RNNLENS_DATA", code=1)
    refused(rnnlens("train", "--dataset", "moby-dick", "--data-dir", tmp_path, "--model", "lstm", "--layers", "1",
                    "--hidden", "8", "--out", tmp_path / "r"), "train", "unknown dataset 'moby-dick'", code=1)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, war_and_peace):
    base = tmp_path_factory.mktemp("cli")
    text = base / "wp.txt"
    text.write_text(war_and_peace[:40_000], encoding="utf-8")
    out = base / "run"
    result = rnnlens("train", "--text", text, "--model", "gru", "--layers", "2", "--params", "20000", "--epochs", "2",
                     "--batch-size", "16", "--seq-length", "40", "--seed", "3", "--quiet", "--out", out)
    assert result.code == 0, result.err
    return out, result.err


def test_train_prints_what_it_read_and_wrote(trained_run):
    out, stderr = trained_run
    assert "40,000 characters" in stderr and "2-layer GRU" in stderr
    assert "epoch 2/2" in stderr and "nats/char" in stderr and "bits/char" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["best.safetensors", "config.json", "last.safetensors", "metrics.jsonl"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_evaluate_json_reports_nats_bits_std_and_chars(trained_run):
    out, _ = trained_run
    result = rnnlens("evaluate", out, "--split", "val", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["chars"] == 3_999 and 1.5 < report["nats"] < 3.5
    assert report["bits"] == pytest.approx(report["nats"] / 0.6931471805599453)
    assert 0 < report["std"] < 0.05


def test_evaluate_refuses_unknown_characters_unless_skipped(trained_run, tmp_path):
    out, _ = trained_run
    text = tmp_path / "other.txt"
    text.write_text("The Tsar said: ☃☃ and ☃.", encoding="utf-8")
    refused(rnnlens("evaluate", out, "--text", text), "evaluate", "3 characters outside.*'☃' \\(3\\).*--skip-unknown",
            code=1)
    result = rnnlens("evaluate", out, "--text", text, "--skip-unknown", "--json")
    assert result.code == 0 and json.loads(result.out)["chars"] == len("The Tsar said:  and .") - 1


def test_sample_is_reproducible_with_a_seed_and_starts_with_the_prime(trained_run):
    out, _ = trained_run
    first = rnnlens("sample", out, "--length", "80", "--seed", "5", "--prime", "The ")
    again = rnnlens("sample", out, "--length", "80", "--seed", "5", "--prime", "The ")
    other = rnnlens("sample", out, "--length", "80", "--seed", "6", "--prime", "The ")
    assert first.code == 0 and first.out == again.out != other.out
    assert first.out.startswith("The ") and len(first.out) == len("The ") + 80 + 1
    greedy = rnnlens("sample", out, "--length", "30", "--argmax", "--prime", "the")
    assert greedy.out == rnnlens("sample", out, "--length", "30", "--argmax", "--prime", "the", "--seed", "9").out


def test_a_missing_model_directory_is_a_one_line_error(tmp_path):
    refused(rnnlens("evaluate", tmp_path / "nothing"), "evaluate", "not a directory", code=1)
    refused(rnnlens("sample", tmp_path), "sample", "no config.json", code=1)
    (tmp_path / "config.json").write_text('{"format": "rnnlens", ', encoding="utf-8")
    refused(rnnlens("evaluate", tmp_path), "evaluate", "config.json: unreadable JSON", code=1)
