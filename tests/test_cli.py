"""The command line as a user meets it: exit codes, one-line errors, stdout contracts."""

import json
import re
import subprocess
import sys

import pytest


def rnnlens(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnnlens", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(result, pattern):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("rnnlens ") and errors[0] == result.stderr.splitlines()[-1]
    assert re.search(pattern, errors[0]), errors[0]


def train_tiny(text, out):
    return rnnlens("train", "--text", text, "--model", "lstm", "--layers", "1", "--hidden", "8", "--out", out)


def test_bad_training_input_fails_in_one_line_and_writes_nothing(bad_text_file, tmp_path):
    text, pattern = bad_text_file
    assert_one_line_error(train_tiny(text, tmp_path / "run"), pattern)
    assert not (tmp_path / "run").exists()


def test_a_text_too_short_for_one_batch_fails_in_one_line_and_writes_nothing(tmp_path):
    text = tmp_path / "input.txt"
    text.write_text("far too short for a batch", encoding="utf-8")
    assert_one_line_error(train_tiny(text, tmp_path / "run"), "too short for one batch of 100 x 100")
    assert not (tmp_path / "run").exists()


def test_unknown_dataset_and_missing_data_dir_are_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLENS_DATA", raising=False)
    assert_one_line_error(rnnlens("train", "--dataset", "war-and-peace", "--model", "lstm", "--layers", "1",
                                  "--hidden", "8", "--out", tmp_path / "r"), "RNNLENS_DATA")
    assert_one_line_error(rnnlens("train", "--dataset", "moby-dick", "--data-dir", tmp_path, "--model", "lstm",
                                  "--layers", "1", "--hidden", "8", "--out", tmp_path / "r"), "unknown dataset 'moby-dick'")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, war_and_peace):
    base = tmp_path_factory.mktemp("cli")
    text = base / "wp.txt"
    text.write_text(war_and_peace[:40_000], encoding="utf-8")
    out = base / "run"
    result = rnnlens("train", "--text", text, "--model", "gru", "--layers", "2", "--params", "20000", "--epochs", "2",
                     "--batch-size", "16", "--seq-length", "40", "--seed", "3", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stderr


def test_train_prints_what_it_read_and_wrote(trained_run):
    out, stderr = trained_run
    assert "40,000 characters" in stderr and "2-layer GRU" in stderr
    assert "epoch 2/2" in stderr and "nats/char" in stderr and "bits/char" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["best.safetensors", "config.json", "last.safetensors", "metrics.jsonl"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_evaluate_json_reports_nats_bits_std_and_chars(trained_run):
    out, _ = trained_run
    result = rnnlens("evaluate", out, "--split", "val", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["chars"] == 3_999 and 1.5 < report["nats"] < 3.5
    assert report["bits"] == pytest.approx(report["nats"] / 0.6931471805599453)
    assert 0 < report["std"] < 0.05


def test_evaluate_refuses_unknown_characters_unless_skipped(trained_run, tmp_path):
    out, _ = trained_run
    text = tmp_path / "other.txt"
    text.write_text("The Tsar said: ☃☃ and ☃.", encoding="utf-8")
    assert_one_line_error(rnnlens("evaluate", out, "--text", text), "3 characters outside.*'☃' \\(3\\).*--skip-unknown")
    result = rnnlens("evaluate", out, "--text", text, "--skip-unknown", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["chars"] == len("The Tsar said:  and .") - 1


@pytest.mark.slow
def test_sample_is_reproducible_with_a_seed_and_starts_with_the_prime(trained_run):
    out, _ = trained_run
    first = rnnlens("sample", out, "--length", "80", "--seed", "5", "--prime", "The ")
    again = rnnlens("sample", out, "--length", "80", "--seed", "5", "--prime", "The ")
    other = rnnlens("sample", out, "--length", "80", "--seed", "6", "--prime", "The ")
    assert first.returncode == 0 and first.stdout == again.stdout != other.stdout
    assert first.stdout.startswith("The ") and len(first.stdout) == len("The ") + 80 + 1
    greedy = rnnlens("sample", out, "--length", "30", "--argmax", "--prime", "the")
    assert greedy.stdout == rnnlens("sample", out, "--length", "30", "--argmax", "--prime", "the", "--seed", "9").stdout


def test_a_missing_model_directory_is_a_one_line_error(tmp_path):
    assert_one_line_error(rnnlens("evaluate", tmp_path / "nothing"), "not a directory")
    assert_one_line_error(rnnlens("sample", tmp_path), "no config.json")
    (tmp_path / "config.json").write_text('{"format": "rnnlens", ', encoding="utf-8")
    assert_one_line_error(rnnlens("evaluate", tmp_path), "config.json: unreadable JSON")
