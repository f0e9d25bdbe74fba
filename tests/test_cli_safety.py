"""Issue 9: the command line never loses a user's files, refuses every bad value in plain words and is
honest on resume.

Most cases call ``rnnlens.cli.main`` in this process (a subprocess costs seconds of imports on a busy
two-core machine); what only a real process shows (signals, piped stderr, ``--version``) runs one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from in_process import Ran, refused, rnnlens
from rnnlens import cli
from rnnlens.store.runs import load_tensors

QUIET_TORCH = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread each: a busy machine is not oversubscribed


def ok(ran: Ran) -> Ran:
    assert ran.code == 0, ran.err
    return ran


def snapshot(*dirs: Path) -> dict[str, bytes]:
    """Every file under ``dirs``, byte for byte."""
    return {str(p): p.read_bytes() for d in dirs for p in sorted(Path(d).rglob("*")) if p.is_file()}


TINY = ["--model", "lstm", "--layers", "1", "--hidden", "8", "--epochs", "1", "--batch-size", "8",
        "--seq-length", "20"]


@pytest.fixture(scope="module", autouse=True)
def one_thread_and_umask_022():
    threads, mask = torch.get_num_threads(), os.umask(0o022)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    os.umask(mask)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return tmp_path_factory.mktemp("safety")


@pytest.fixture(scope="module")
def text(base, war_and_peace) -> Path:
    path = base / "F.txt"
    path.write_text(war_and_peace[:20_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(base, text) -> Path:
    out = base / "R"
    ok(rnnlens("train", "--text", text, *TINY, "--quiet", "--out", out))
    return out


@pytest.fixture(scope="module")
def ngram_dir(base, text) -> Path:
    out = base / "NGRAM"
    ok(rnnlens("ngram", "--text", text, "--order", "3", "--quiet", "--out", out))
    return out


@pytest.fixture(scope="module")
def nnn_dir(base, text) -> Path:
    out = base / "NNN"
    ok(rnnlens("nnn", "--text", text, "--context", "2", "--hidden", "8", "--epochs", "1", "--batch", "500",
               "--quiet", "--out", out))
    return out


@pytest.fixture(scope="module")
def places(base, run, ngram_dir) -> dict[str, Path]:
    """A run R, a copy of it, another run R2, a user's folder with notes.txt, an n-gram directory."""
    notes = base / "NOTES"
    notes.mkdir()
    (notes / "notes.txt").write_text("my notes: do not lose these\n", encoding="utf-8")
    shutil.copytree(run, base / "COPY_OF_R")
    shutil.copytree(run, base / "R2")
    return {"R": run, "COPY": base / "COPY_OF_R", "R2": base / "R2", "NOTES": notes, "NGRAM": ngram_dir}


# --- A. a user's files are never lost -------------------------------------------------------------

REFUSED_OUTPUTS = {
    "trace into a copy of a run": (["trace", "{R}", "--out", "{COPY}"], "model's run directory"),
    "trace into a user's folder": (["trace", "{R}", "--out", "{NOTES}"], "notes.txt"),
    "trace into its own run": (["trace", "{R}", "--out", "{R}"], "model's run directory"),
    "trace onto a user's file": (["trace", "{R}", "--out", "{NOTES}/notes.txt"], "notes.txt is a file"),
    "train onto a user's file": (["train", "--text", "{F}", *TINY, "--out", "{NOTES}/notes.txt"], "is a file"),
    "cells keeping its trace in another run": (["cells", "{R}", "--trace", "{R2}", "--out", "{NEW}"],
                                               "model's run directory"),
    "cells into its own run": (["cells", "{R}", "--out", "{R}"], "model's run directory"),
    "saturation into a user's folder": (["saturation", "{R}", "--out", "{NOTES}"], "notes.txt"),
    "train into an n-gram directory": (["train", "--text", "{F}", *TINY, "--out", "{NGRAM}"], "n-gram"),
    "train into a user's folder": (["train", "--text", "{F}", *TINY, "--out", "{NOTES}"], "notes.txt"),
    "ngram into a run": (["ngram", "--text", "{F}", "--order", "3", "--out", "{R}"], "RNN"),
    "ngram into a user's folder": (["ngram", "--text", "{F}", "--order", "3", "--out", "{NOTES}"], "notes.txt"),
    "ngram --arpa onto a user's file": (["ngram", "--text", "{F}", "--order", "2", "--out", "{NEW}",
                                         "--arpa", "{NOTES}/notes.txt"], "not an ARPA file"),
    "nnn into a run": (["nnn", "--text", "{F}", "--context", "2", "--hidden", "8", "--epochs", "1", "--out", "{R}"],
                       "RNN"),
    "nnn into a user's folder": (["nnn", "--text", "{F}", "--context", "2", "--hidden", "8", "--epochs", "1",
                                  "--out", "{NOTES}"], "notes.txt"),
    "baselines into a run": (["baselines", "--text", "{F}", "--ngram", "2", "--nnn", "--out", "{R}"], "RNN"),
}


@pytest.mark.parametrize("case", list(REFUSED_OUTPUTS))
def test_an_output_holding_a_users_files_is_refused_and_left_byte_for_byte(case, places, text, base):
    args, pattern = REFUSED_OUTPUTS[case]
    names = {**{k: str(v) for k, v in places.items()}, "F": str(text), "NEW": str(base / "NEW")}
    args = [a.format(**names) for a in args]
    before = snapshot(*places.values())
    refused(rnnlens(*args), args[0], pattern, "new or empty directory|choose|give a directory")
    assert snapshot(*places.values()) == before
    assert not (base / "NEW").exists()
    assert not [p for d in places.values() for p in d.parent.glob(".*.tmp")]  # no half-written leftovers


def test_an_empty_directory_and_an_earlier_trace_or_result_are_replaced(run, tmp_path):
    trace, result = tmp_path / "trace", tmp_path / "result"
    trace.mkdir()
    result.mkdir()
    ok(rnnlens("trace", run, "--quiet", "--out", trace))
    (trace / "stale.npy").write_bytes(b"from an older trace")
    ok(rnnlens("trace", run, "--quiet", "--out", trace))
    assert (trace / "manifest.json").is_file() and not (trace / "stale.npy").exists()
    ok(rnnlens("saturation", run, "--quiet", "--out", result))
    ok(rnnlens("saturation", run, "--quiet", "--trace", trace, "--out", result))
    assert (result / "saturation.json").is_file()
    ok(rnnlens("cells", trace, "--quiet", "--features", "line_position", "--out", result))
    assert (result / "cells.json").is_file() and not (result / "saturation.json").exists()


# --- B. resume is honest ---------------------------------------------------------------------------

def test_resume_keeps_the_recorded_corpus_split_and_options(text, tmp_path):
    fr = tmp_path / "fr"
    fractions = ["--split-fractions", "0.5", "0.25", "0.25"]
    ok(rnnlens("train", "--text", text, *fractions, *TINY, "--quiet", "--out", fr))
    resumed = ok(rnnlens("train", "--resume", "--epochs", "2", "--quiet", "--out", fr))
    assert "resuming" in resumed.err and "epoch 2/2" in resumed.err
    config = json.loads((fr / "config.json").read_text())
    assert config["corpus"]["fractions"] == [0.5, 0.25, 0.25] and len(config["history"]) == 2
    assert config["training"]["epochs"] == 2

    before = snapshot(fr)
    refused(rnnlens("train", "--resume", "--split-fractions", "0.8", "0.1", "0.1", "--out", fr), "train",
            "--split-fractions 0.8 0.1 0.1", "0.5 0.25 0.25")
    refused(rnnlens("train", "--resume", "--hidden", "16", "--out", fr), "train", "--hidden 16", "recorded 8\\b")
    refused(rnnlens("train", "--resume", "--learning-rate", "0.01", "--out", fr), "train",
            "--learning-rate 0.01", "recorded 0.002")
    recorded = config["training"]["precision"]  # what auto resolved to on this machine
    other = "fp32" if recorded == "bf16" else "bf16"
    refused(rnnlens("train", "--resume", "--precision", other, "--out", fr), "train",
            f"--precision {other}", f"recorded {recorded}")
    other = tmp_path / "other.txt"
    other.write_text(text.read_text(encoding="utf-8")[:15_000], encoding="utf-8")
    refused(rnnlens("train", "--resume", "--text", other, "--out", fr), "train", "other", "F")
    assert snapshot(fr) == before

    finished = ok(rnnlens("train", "--resume", "--out", fr))
    assert "finished" in finished.err and "2 epochs" in finished.err
    assert "1-layer LSTM, hidden 8" in finished.err and "best.safetensors" in finished.err
    ok(rnnlens("train", "--resume", "--text", text, "--epochs", "2", "--out", fr))  # the same text is accepted
    assert snapshot(fr) == before
    refused(rnnlens("train", "--resume", "--out", tmp_path / "nothing"), "train", "nothing to resume")
    assert not (tmp_path / "nothing").exists()


def test_an_nnn_grid_is_continued_only_with_its_own_corpus_context_and_options(nnn_dir, text, tmp_path):
    nnn = ["nnn", "--text", text, "--context", "2", "--hidden", "8", "--out", nnn_dir]
    before = snapshot(nnn_dir)
    refused(rnnlens(*nnn[:4], "3", *nnn[5:]), "nnn", "--context 3 contradicts the recorded 2")
    refused(rnnlens(*nnn, "--learning-rate", "0.02"), "nnn", "--learning-rate 0.02 contradicts the recorded 0.01")
    refused(rnnlens(*nnn, "--batch", "100"), "nnn", "--batch 100 contradicts the recorded 500")
    other = tmp_path / "other.txt"
    other.write_text(text.read_text(encoding="utf-8")[:15_000], encoding="utf-8")
    refused(rnnlens("nnn", "--text", other, *nnn[3:]), "nnn", "trained on --text .*F.txt", "not on this corpus")
    assert snapshot(nnn_dir) == before


def test_baselines_reuse_their_models_only_when_nothing_contradicts_them(text, tmp_path):
    table = ["baselines", "--text", text, "--ngram", "--nnn", "1", "--hidden", "4", "--epochs", "1", "--quiet",
             "--out", tmp_path / "b"]
    ok(rnnlens(*table))
    before = snapshot(tmp_path / "b")
    refused(rnnlens(*table, "--epochs", "2"), "baselines", "--epochs 2 contradicts the recorded 1 .*nnn-n1")
    refused(rnnlens(*table, "--hidden", "8"), "baselines", "--hidden 8 contradicts the recorded 4")
    refused(rnnlens(*table, "--split-fractions", "0.7", "0.2", "0.1"), "baselines", "split fractions 0.8 0.1 0.1")
    assert snapshot(tmp_path / "b") == before
    assert "nnn-n1: reusing" in ok(rnnlens(*table)).err


# --- C. Ctrl-C and SIGTERM keep a checkpoint to resume from ---------------------------------------

def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    tensors, _ = load_tensors(run_dir / "last.safetensors")
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


TRAIN = ["train", "--model", "lstm", "--layers", "1", "--hidden", "48", "--epochs", "2", "--batch-size", "4",
         "--seq-length", "25", "--save-every", "0", "--seed", "3", "--split-fractions", "0.95", "0.025", "0.025"]
STOPPED = re.compile(r"rnnlens train: interrupted: stopped (?:in epoch (\d+) after batch (\d+) of \d+|after epoch "
                     r"(\d+)); \S+last.safetensors holds everything to resume (?:exactly|from) there; continue with: "
                     r"rnnlens train --resume --out \S+")


def _stopped_at(line: str) -> tuple[int, int]:
    """(epochs done, batches done in the next) from the line an interrupted training ends with."""
    stop = STOPPED.fullmatch(line)
    assert stop, line
    in_epoch, batch, after_epoch = stop.groups()
    return (int(in_epoch) - 1, int(batch)) if in_epoch else (int(after_epoch), 0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_epoch_saves_says_where_and_resume_is_bit_identical(war_and_peace, tmp_path, monkeypatch,
                                                                          signum):
    """The signal is sent from inside batch 5, so where it lands does not depend on the machine's speed."""
    from rnnlens.training.loop import Trainer

    text = tmp_path / "text.txt"
    text.write_text(war_and_peace[:20_000], encoding="utf-8")
    train = [*TRAIN, "--text", text, "--quiet"]
    ok(rnnlens(*train, "--out", tmp_path / "whole"))
    step, calls = Trainer.train_step, []

    def signal_at_batch_5(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), signum)
        return step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", signal_at_batch_5)
    ran = rnnlens(*train, "--out", tmp_path / "cut")
    assert ran.code == 128 + signum and "Traceback" not in ran.err, ran.err  # 130 SIGINT, 143 SIGTERM
    assert _stopped_at(ran.err.splitlines()[-1]) == (0, 5)
    progress = load_tensors(tmp_path / "cut" / "last.safetensors")[1]["progress"]
    assert (progress["epoch"], progress["batch"]) == (0, 5)
    monkeypatch.setattr(Trainer, "train_step", step)
    resumed = rnnlens(*train, "--resume", "--out", tmp_path / "cut")
    assert resumed.code == 0 and f"resuming {tmp_path / 'cut'} after epoch 0, batch 5" in resumed.err, resumed.err
    reference, again = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert reference.keys() == again.keys() and all(torch.equal(reference[k], again[k]) for k in reference)


@pytest.mark.slow
def test_a_real_process_stopped_by_a_signal_exits_128_plus_it_and_resumes_bit_identically(war_and_peace, tmp_path):
    """Wherever the signal lands (mid-epoch or between epochs: that depends on the machine's speed), the
    process saves, exits 128 + the signal with one plain line, and resuming ends where an unbroken run ends."""
    text = tmp_path / "text.txt"
    text.write_text(war_and_peace[:40_000], encoding="utf-8")
    train = [sys.executable, "-m", "rnnlens", *TRAIN, "--text", str(text)]

    def start(name):
        return subprocess.Popen([*train, "--out", str(tmp_path / name)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=QUIET_TORCH)

    whole, stopped = start("whole"), {signal.SIGINT: start("sigint"), signal.SIGTERM: start("sigterm")}
    for signum, process in stopped.items():  # training has begun once the first checkpoint is written
        while not (tmp_path / signum.name.lower() / "last.safetensors").exists() and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signum)
    out, err = whole.communicate()
    assert whole.returncode == 0, err
    # piped stderr: plain lines, one per epoch, no progress-bar frames
    assert "\r" not in err and [line.split()[1] for line in err.splitlines() if line.startswith("epoch ")] == \
        ["1/2", "2/2"]

    resumes = {}
    for signum, process in stopped.items():
        out, err = process.communicate()
        assert process.returncode == 128 + signum, (signum, process.returncode, err)  # 130 SIGINT, 143 SIGTERM
        assert "Traceback" not in err
        epoch, batch = _stopped_at(err.rstrip().splitlines()[-1])
        run_dir = tmp_path / signum.name.lower()
        progress = load_tensors(run_dir / "last.safetensors")[1]["progress"]
        assert (progress["epoch"], progress["batch"]) == (epoch, batch) and epoch < 2
        resumes[signum] = (subprocess.Popen([*train, "--resume", "--out", str(run_dir)], stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True, env=QUIET_TORCH), epoch, batch)
    for signum, (process, epoch, batch) in resumes.items():
        out, err = process.communicate()
        assert process.returncode == 0, err
        assert f"resuming {tmp_path / signum.name.lower()} after epoch {epoch}" in err
        reference, again = _weights(tmp_path / "whole"), _weights(tmp_path / signum.name.lower())
        assert reference.keys() == again.keys() and all(torch.equal(reference[k], again[k]) for k in reference)


def test_ctrl_c_in_nnn_says_how_to_continue_and_rerunning_ends_where_an_uninterrupted_run_ends(text, tmp_path,
                                                                                              monkeypatch):
    from rnnlens.training.loop import Trainer

    nnn = ["nnn", "--text", text, "--context", "2", "--hidden", "8", "--epochs", "1", "--batch", "500", "--quiet"]
    ok(rnnlens(*nnn, "--out", tmp_path / "whole"))
    step, calls = Trainer.train_step, []

    def ctrl_c_at_batch_5(self, k):
        calls.append(k)
        if len(calls) == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return step(self, k)

    monkeypatch.setattr(Trainer, "train_step", ctrl_c_at_batch_5)
    ran = rnnlens(*nnn, "--out", tmp_path / "cut")
    assert ran.code == 130 and "Traceback" not in ran.err
    assert re.fullmatch(r"rnnlens nnn: interrupted: stopped in epoch 1 after batch 5 of \d+; .*last.safetensors holds "
                        r"everything to resume exactly there; run the same rnnlens nnn command again to continue",
                        ran.err.splitlines()[-1])
    monkeypatch.setattr(Trainer, "train_step", step)
    ok(rnnlens(*nnn, "--out", tmp_path / "cut"))
    whole, cut = (load_tensors(tmp_path / d / "best.safetensors")[0] for d in ("whole", "cut"))
    assert whole.keys() == cut.keys() and all(torch.equal(whole[k], cut[k]) for k in whole)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_outside_training_leaves_no_half_written_output(signum, run, tmp_path, monkeypatch):
    from rnnlens.store import traces

    compute = traces.compute_trace

    def signalled_mid_trace(*args, **kwargs):
        os.kill(os.getpid(), signum)  # as if from outside, while the trace directory is half-written
        return compute(*args, **kwargs)

    monkeypatch.setattr(traces, "compute_trace", signalled_mid_trace)
    ran = rnnlens("trace", run, "--quiet", "--out", tmp_path / "trace")
    assert ran.code == 128 + signum and "Traceback" not in ran.err
    assert ran.err.splitlines()[-1] == f"rnnlens trace: interrupted by {signum.name}; nothing half-written is left"
    assert list(tmp_path.iterdir()) == []


# --- D. bad values are refused in plain words, before any work -------------------------------------

BAD_TRAIN = {
    "--hidden 0": (["--hidden", "0"], "--hidden: 0 is out of range"),
    "--epochs 0": (["--epochs", "0"], "--epochs: 0 is out of range"),
    "--epochs -1": (["--epochs", "-1"], "--epochs: -1 is out of range"),
    "--batch-size 0": (["--batch-size", "0"], "--batch-size: 0"),
    "--seq-length -3": (["--seq-length", "-3"], "--seq-length: -3"),
    "--learning-rate -1": (["--learning-rate", "-1"], "--learning-rate: -1"),
    "--patience -2": (["--patience", "-2"], "--patience: -2"),
    "--save-every -1": (["--save-every", "-1"], "--save-every: -1"),
    "--split-fractions 1 0 0": (["--split-fractions", "1", "0", "0"], "--split-fractions 1 0 0.*validation"),
    "--params 10": (["--params", "10"], r"--params 10.*at least \d+ parameters"),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_bad_training_values_are_refused_before_any_work(case, text, tmp_path):
    extra, pattern = BAD_TRAIN[case]
    args = [a for a in TINY]
    if "--params" in extra:
        i = args.index("--hidden")
        del args[i:i + 2]
    ran = rnnlens("train", "--text", text, *args, *extra, "--out", tmp_path / "out")
    line = refused(ran, "train", pattern)
    assert "epoch" not in ran.err.replace(line, "")  # nothing trained
    if ran.code == 2:
        assert line.endswith("see rnnlens train --help") and ran.err.count("\n") == 1  # no usage lines
    assert not (tmp_path / "out").exists()


def test_bad_nnn_and_baseline_values_are_refused(text, tmp_path):
    nnn = ["nnn", "--text", text, "--context", "2", "--out", tmp_path / "out"]
    refused(rnnlens(*nnn, "--batch", "0"), "nnn", "--batch: 0", code=2)
    refused(rnnlens(*nnn, "--epochs", "0"), "nnn", "--epochs: 0", code=2)
    refused(rnnlens(*nnn, "--hidden", "0"), "nnn", "--hidden: 0", code=2)
    refused(rnnlens("baselines", "--text", text, "--ngram", "--nnn", "--out", tmp_path / "out"), "baselines",
            "no rows")
    assert not (tmp_path / "out").exists()


def test_bad_analysis_values_are_refused(run, tmp_path):
    out = tmp_path / "out"
    refused(rnnlens("saturation", run, "--low", "0.9", "--high", "0.1", "--out", out), "saturation",
            "--low 0.9 must be below --high 0.1")
    refused(rnnlens("saturation", run, "--low", "-1", "--high", "2", "--out", out), "saturation", "--low: -1",
            code=2)
    refused(rnnlens("cells", run, "--window", "0", "--out", out), "cells", "--window: 0", code=2)
    refused(rnnlens("cells", run, "--window", "-5", "--out", out), "cells", "--window: -5", code=2)
    bad = tmp_path / "BAD.py"
    bad.write_text("def broken(:\n    pass\n", encoding="utf-8")
    refused(rnnlens("cells", run, "--feature-file", bad, "--out", out), "cells", "BAD.py", "SyntaxError")
    assert not out.exists()


def test_a_text_or_split_with_nothing_to_predict_is_refused_not_scored_as_nan(run, text, tmp_path):
    one = tmp_path / "one.txt"
    one.write_text("T", encoding="utf-8")
    refused(rnnlens("evaluate", run, "--text", one), "evaluate", "1 character, nothing to predict")
    refused(rnnlens("trace", run, "--text", one, "--out", tmp_path / "out"), "trace", "nothing to predict")
    refused(rnnlens("baselines", "--text", text, "--split-fractions", "0.9", "0.1", "0", "--ngram", "2", "--nnn",
                    "--out", tmp_path / "out"), "baselines", "test split .*split fractions 0.9 0.1 0.*0 characters")
    assert not (tmp_path / "out").exists()


def test_sample_refuses_an_unknown_prime_without_advising_a_flag_it_lacks(run):
    line = refused(rnnlens("sample", run, "--prime", "☃", "--length", "5"), "sample", "☃")
    assert "--skip-unknown" not in line and "skip_unknown" not in line


# --- E. what a user expects ---------------------------------------------------------------------

def test_version():
    ran = subprocess.run([sys.executable, "-m", "rnnlens", "--version"], capture_output=True, text=True,
                         env=QUIET_TORCH)
    assert ran.returncode == 0 and re.fullmatch(r"rnnlens \d+\.\d+\.\d+\S*\n", ran.stdout)


def test_device_is_auto_by_default_and_every_command_is_quiet_on_demand(run):
    parser = cli.build_parser()
    for name, command in parser._subparsers._group_actions[0].choices.items():
        options = {o: a for a in command._actions for o in a.option_strings}
        assert "--quiet" in options, name
        if "--device" in options:
            assert options["--device"].default in ("auto", None) and "default: auto" in options["--device"].help
    assert json.loads((run / "config.json").read_text())["training"]["device"] == "auto"


def test_sample_reports_its_seed_and_time_and_is_silent_when_quiet(run, ngram_dir, nnn_dir):
    for model in (run, ngram_dir, nnn_dir):
        ran = ok(rnnlens("sample", model, "--length", "30", "--prime", "The "))
        assert ran.out.startswith("The ") and len(ran.out) == len("The ") + 30 + 1
        seed = re.search(r"seed (\d+)", ran.err).group(1)
        assert "took" in ran.err
        again = ok(rnnlens("sample", model, "--length", "30", "--prime", "The ", "--seed", seed, "--quiet"))
        assert again.out == ran.out and again.err == ""


def test_json_prints_exactly_one_object_with_the_saved_keys(run, text, ngram_dir, nnn_dir, tmp_path):
    def one_object(ran):
        ok(ran)
        value = json.loads(ran.out)
        assert isinstance(value, dict) and ran.out.count("\n") == 1
        return value

    assert one_object(rnnlens("train", "--text", text, *TINY, "--quiet", "--json", "--out", tmp_path / "t"))["epochs"] == 1
    assert one_object(rnnlens("ngram", "--text", text, "--order", "2", "--quiet", "--json", "--out", tmp_path / "n"))
    assert one_object(rnnlens("nnn", "--text", text, "--context", "1", "--hidden", "4", "--epochs", "1", "--quiet",
                              "--json", "--out", tmp_path / "nn"))
    for model in (run, ngram_dir, nnn_dir):
        ran = rnnlens("evaluate", model, "--json", "--quiet")
        assert "nats" in one_object(ran) and ran.err == ""
    table = one_object(rnnlens("baselines", "--text", text, "--ngram", "2", "--nnn", "--quiet", "--json",
                               "--out", tmp_path / "b"))
    assert table.keys() == json.loads((tmp_path / "b" / "table2" / "table2.json").read_text()).keys()
    cells = one_object(rnnlens("cells", run, "--features", "line_position", "--quiet", "--json",
                               "--out", tmp_path / "c"))
    assert cells.keys() == json.loads((tmp_path / "c" / "cells.json").read_text()).keys()
    saturation = one_object(rnnlens("saturation", run, "--quiet", "--json", "--out", tmp_path / "s"))
    assert saturation.keys() == json.loads((tmp_path / "s" / "saturation.json").read_text()).keys()


def test_files_honour_the_umask(run, tmp_path):
    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    ok(rnnlens("trace", run, "--quiet", "--out", tmp_path / "trace"))
    ok(rnnlens("saturation", tmp_path / "trace", "--quiet", "--out", tmp_path / "result"))
    for directory in (run, tmp_path / "trace", tmp_path / "result"):
        assert mode(directory) == 0o755, directory
        for path in directory.rglob("*"):
            assert mode(path) == (0o755 if path.is_dir() else 0o644), path
    assert any(p.suffix == ".npy" for p in (tmp_path / "trace").iterdir())


# --- F. help texts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", cli.COMMANDS)
def test_help_is_plain_and_complete(name):
    command = cli.build_parser()._subparsers._group_actions[0].choices[name]
    text = command.format_help()
    assert "``" not in text and not re.search(r"default: [(\[]|default: -?\d+\.0\b", text), text
    assert not re.search(r"\ba n-|\bngram model|\bnnn model", text, re.IGNORECASE), text
    assert all(a.help and a.help.strip() for a in command._actions), name
    # in the printed help every option has text: on its own line or on the next, indented further
    options = text.split("\noptions:\n", 1)[1].splitlines()
    for i, line in enumerate(options):
        if line.startswith("  -"):
            described = re.search(r"\S\s{2,}\S", line.strip()) or \
                (i + 1 < len(options) and options[i + 1].startswith(" " * 8) and options[i + 1].strip())
            assert described, line
    if name == "nnn":
        assert "an n-NN model" in text and "--dropout DROPOUT" in text
        assert "(init, dropout masks, order of the positions)" in " ".join(text.split())
    if name == "ngram":
        assert "an n-gram model" in text
