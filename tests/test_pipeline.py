"""rnnlens reproduce's pipeline: digests, reuse, resumption after kill -9, the local and Ray runners, config errors."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch

from rnnlens.cli import main
from rnnlens.data.corpus import load_corpus
from rnnlens.pipeline.config import load_config, to_toml
from rnnlens.pipeline.plan import Planner
from rnnlens.pipeline.stages import LOCK, read_marker
from rnnlens.store.runs import load_tensors, read_metadata

TINY = """
[grid]
types = ["lstm", "rnn"]
layers = [1]
params = [1500]

[train]
epochs = 1
batch_size = 8
seq_length = 20
save_every = 10

[baselines]
ngram = [1, 2]
nnn = []

[text]
chars = 2000

[analyses.compare]
models = "grid"

[analyses.overlap]
models = ["lstm1-1.5k", "rnn1-1.5k", "ngram-2"]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="module")
def text(base, war_and_peace) -> Path:
    return write(base / "text.txt", war_and_peace[:20_000])


@pytest.fixture(scope="module")
def config(base) -> Path:
    return write(base / "tiny.toml", TINY)


def reproduce(capsys, *args) -> tuple[int, dict | None, str]:
    """Run ``rnnlens reproduce ARGS --json --quiet`` here; its exit status, JSON and stderr."""
    code = main(["reproduce", *map(str, args), "--json", "--quiet"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def stage_dirs(root: Path, prefix: str) -> list[Path]:
    return sorted(p for p in (root / "stages").iterdir() if p.name.startswith(prefix + "-") and p.is_dir())


def weights(run_dir: Path, name: str = "best") -> dict[str, torch.Tensor]:
    return load_tensors(run_dir / f"{name}.safetensors")[0]


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def plain_numbers(obj):
    """A result's JSON without its paths (they name the directory it ran in)."""
    if isinstance(obj, dict):
        return {k: plain_numbers(v) for k, v in obj.items() if k not in ("dir", "run_dir", "source", "path")}
    if isinstance(obj, list):
        return [plain_numbers(v) for v in obj]
    return obj


# --- digests ------------------------------------------------------------------------------------------------

def digests(config: dict, text: Path, root: Path) -> dict[str, str]:
    corpus = load_corpus(text=str(text))
    return Planner(config, corpus, root).plan().graph.digests


def test_a_changed_option_changes_the_digests_of_its_stage_and_those_below_it_only(text, config, tmp_path):
    plain = tomllib.loads(TINY)
    before = digests(plain, text, tmp_path)
    assert set(before) == {"lstm1-1.5k", "rnn1-1.5k", "table2", "compare", "overlap"}
    # the n-gram rows feed Table 2 and the overlap (ngram-2), not the trainings or the comparison
    more_ngrams = tomllib.loads(TINY.replace("ngram = [1, 2]", "ngram = [1, 2, 3]"))
    after = digests(more_ngrams, text, tmp_path)
    assert {n for n in before if before[n] != after[n]} == {"table2", "overlap"}
    # one more epoch for every training changes everything but Table 2
    longer = tomllib.loads(TINY.replace("epochs = 1", "epochs = 2"))
    after = digests(longer, text, tmp_path)
    assert {n for n in before if before[n] != after[n]} == {"lstm1-1.5k", "rnn1-1.5k", "compare", "overlap"}
    # another text for the analyses: only the analyses
    shorter = tomllib.loads(TINY.replace("chars = 2000", "chars = 1500"))
    after = digests(shorter, text, tmp_path)
    assert {n for n in before if before[n] != after[n]} == {"compare", "overlap"}
    # the same config under another directory: the same digests (paths are not part of them)
    assert digests(plain, text, tmp_path / "elsewhere") == before


def test_a_new_default_of_a_command_changes_the_digests_of_its_stages_and_those_below(text, tmp_path, monkeypatch):
    from rnnlens.pipeline import plan

    before = digests(tomllib.loads(TINY), text, tmp_path)
    real = plan.subcommands

    def newer_baselines(parser):  # as if rnnlens baselines trained its n-NNs with another default learning rate
        parsers = real(parser)
        action = next(a for a in parsers["baselines"]._actions if "--learning-rate" in a.option_strings)
        action.help = action.help.replace("(default: ", "(default: 1")
        return parsers

    monkeypatch.setattr(plan, "subcommands", newer_baselines)
    after = digests(tomllib.loads(TINY), text, tmp_path)
    assert {n for n in before if before[n] != after[n]} == {"table2", "overlap"}


def test_a_new_option_that_only_observes_changes_no_digest_but_any_other_new_option_does(text, tmp_path, monkeypatch):
    from rnnlens.commands.common import add_unsigned_option
    from rnnlens.pipeline import plan

    before = digests(tomllib.loads(TINY), text, tmp_path)
    real = plan.subcommands

    def with_new_train_option(adder):
        def parsers_of(parser):
            parsers = real(parser)
            adder(parsers["train"])
            return parsers
        return parsers_of

    # as train --tensorboard was added: the trainings already done stay done
    monkeypatch.setattr(plan, "subcommands", with_new_train_option(lambda p: add_unsigned_option(p, "--watch")))
    assert digests(tomllib.loads(TINY), text, tmp_path) == before
    monkeypatch.setattr(plan, "subcommands", with_new_train_option(lambda p: p.add_argument("--clip", default=5)))
    after = digests(tomllib.loads(TINY), text, tmp_path)
    assert {n for n in before if before[n] != after[n]} == {"lstm1-1.5k", "rnn1-1.5k", "compare", "overlap"}


def test_another_corpus_changes_every_digest(text, tmp_path, war_and_peace):
    other = write(tmp_path / "other.txt", war_and_peace[20_000:40_000])
    first, second = digests(tomllib.loads(TINY), text, tmp_path), digests(tomllib.loads(TINY), other, tmp_path)
    assert all(first[n] != second[n] for n in first)


# --- runs ------------------------------------------------------------------------------------------------------

def test_two_local_workers_run_every_stage_and_a_second_run_reuses_them_all(base, text, config, capsys):
    out = base / "twice"
    code, first, err = reproduce(capsys, "--text", text, "--config", config, "--workers", "2", "--out", out)
    assert code == 0, err
    assert first["counts"] == {"reused": 0, "ran": 5, "failed": 0, "blocked": 0}
    markers = {p.name: read_marker(p) for p in (out / "stages").iterdir()}
    assert all(m is not None for m in markers.values()) and len(markers) == 5
    code, second, err = reproduce(capsys, "--text", text, "--config", config, "--workers", "2", "--out", out)
    assert code == 0, err
    assert second["counts"] == {"reused": 5, "ran": 0, "failed": 0, "blocked": 0}
    assert {p.name: read_marker(p) for p in (out / "stages").iterdir()} == markers  # nothing was rewritten
    assert (out / "report.html").is_file()
    # a changed option re-runs its stage and those below it, and reuses the rest
    changed = write(base / "changed.toml", TINY.replace("ngram = [1, 2]", "ngram = [1, 2, 3]"))
    code, third, err = reproduce(capsys, "--text", text, "--config", changed, "--workers", "2", "--out", out)
    assert code == 0, err
    assert {s["name"]: s["status"] for s in third["stages"]} == {
        "lstm1-1.5k": "reused", "rnn1-1.5k": "reused", "compare": "reused", "table2": "ran", "overlap": "ran"}


def test_the_overview_reads_a_training_s_epoch_and_eta_from_its_checkpoint(tmp_path):
    from rnnlens.pipeline.progress import training_progress
    from rnnlens.store.runs import save_tensors

    progress = {"epoch": 1, "batch": 50, "elapsed_s": 300.0}  # 1 epoch of 200 batches and 50 more in 300 s
    save_tensors(tmp_path / "last.safetensors", {"x": torch.zeros(1)}, {"progress": progress})
    info = {"epochs": 3, "train_chars": 200 * 8 * 20 + 1, "batch_size": 8, "seq_length": 20}
    # 250 batches done in 300 s, 350 to go: 420 s
    assert training_progress(tmp_path, info) == "epoch 2/3, batch 50/200, ETA 0:07:00"
    assert training_progress(tmp_path / "absent", info) == ""


# --- config errors ----------------------------------------------------------------------------------------------

BAD = {
    "unknown section": ("[grdi]\ntypes = []\n", "grdi: unknown key"),
    "unknown grid type": (TINY.replace('"rnn"]', '"tcn"]'), r"grid.types: 'tcn' is not one of rnn, lstm, gru"),
    "bad train value": (TINY.replace("epochs = 1\nbatch_size", "epochs = 0\nbatch_size"),
                        r"train.epochs: rnnlens train: error: argument --epochs: 0 is out of range"),
    "unknown train option": (TINY.replace("save_every = 10", "save_evry = 10"),
                             r"train.save_evry: rnnlens train has no option --save-evry"),
    "reserved option": (TINY.replace("save_every = 10", "dropout = 0.5"), "train.dropout: set by rnnlens reproduce"),
    "unknown model": (TINY.replace('"ngram-2"]', '"lstm9-1k"]'), r"analyses.overlap.models: unknown model 'lstm9-1k'"),
    "baseline not trained": (TINY.replace('"ngram-2"]', '"ngram-20"]'),
                             r"analyses.overlap.models: ngram-20: add 20 to baselines.ngram"),
    "too few models": (TINY + '\n[analyses.advantage]\nmodels = ["lstm1-1.5k"]\n',
                       r"analyses.advantage.models: advantage takes 2 model\(s\), the config names 1"),
    "unknown analysis": (TINY + "\n[analyses.fig7]\nmodels = \"grid\"\n", "analyses.fig7: no such analysis"),
    "onion orders": (TINY + '\n[analyses.onion]\nmodels = ["lstm1-1.5k"]\n',
                     r"analyses.onion.orders: orders 4, 5, 6, 7, 8, 9, 10 are not in Table 2"),
    "not TOML": ("[grid\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_config_is_one_line_naming_the_key_and_leaves_no_directory(case, text, tmp_path, capsys):
    import re

    content, pattern = BAD[case]
    bad = write(tmp_path / "bad.toml", content)
    out = tmp_path / "out"
    code = main(["reproduce", "--text", str(text), "--config", str(bad), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code in (1, 2) and len(err.splitlines()) == 1, err
    assert re.search(pattern, err), err
    assert "Traceback" not in err and not out.exists()


def test_print_config_prints_toml_that_reads_back_as_the_effective_config(capsys):
    assert main(["reproduce", "--preset", "quick", "--dataset", "linux-kernel", "--print-config"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    quick, _ = load_config("quick")
    assert printed["analyses"]["brackets"]["pair"] == "{}"  # the Linux override applied
    assert "datasets" not in printed and printed["grid"] == quick["grid"]
    assert tomllib.loads(to_toml(quick)) == quick


def test_a_directory_holding_something_else_is_refused_before_any_work(text, config, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    code = main(["reproduce", "--text", str(text), "--config", str(config), "--out", str(tmp_path), "--quiet"])
    assert code == 1 and "it is not replaced" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_ray_backend_without_ray_says_how_to_install_it(text, config, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    code = main(["reproduce", "--text", str(text), "--config", str(config), "--backend", "ray",
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err == ("rnnlens reproduce: error: the ray backend needs Ray, which is not installed: "
                                 "pip install 'rnnlens[ray]' (or run here with --backend local)")
    assert not (tmp_path / "out").exists()


# --- kill -9 mid-training -------------------------------------------------------------------------------------

LONG = TINY.replace("types = [\"lstm\", \"rnn\"]", "types = [\"lstm\"]").replace(
    "epochs = 1\nbatch_size = 8\nseq_length = 20\nsave_every = 10",
    "epochs = 2\npatience = 0\nbatch_size = 8\nseq_length = 20\nsave_every = 10").replace(
    'models = "grid"', 'models = ["lstm1-1.5k", "ngram-2"]').replace(
    'models = ["lstm1-1.5k", "rnn1-1.5k", "ngram-2"]', 'models = ["lstm1-1.5k", "ngram-1", "ngram-2"]')


def checkpoint_mid_run(root: Path) -> bool:
    """Whether the training has a checkpoint from inside its run (not its start, not its end)."""
    for last in (root / "stages").glob("lstm1-*/lstm1-1.5k/last.safetensors"):
        try:
            progress = read_metadata(last)["progress"]
        except Exception:
            return False
        return progress["epoch"] * 1000 + progress["batch"] > 0 and progress["epoch"] < 1
    return False


@pytest.fixture(scope="module")
def long_config(base) -> Path:
    return write(base / "long.toml", LONG)


@pytest.fixture(scope="module")
def whole(base, text, long_config) -> Path:
    """The long config run from nothing, uninterrupted."""
    out = base / "whole"
    assert main(["reproduce", "--text", str(text), "--config", str(long_config), "--workers", "1", "--out", str(out),
                 "--quiet"]) == 0
    return out


def started_until_mid_training(text: Path, config: Path, out: Path) -> subprocess.Popen:
    """``rnnlens reproduce`` in a process of its own, returned once its training has checkpointed mid-run."""
    argv = [sys.executable, "-m", "rnnlens", "reproduce", "--text", str(text), "--config", str(config),
            "--workers", "1", "--out", str(out), "--quiet", "--json"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not checkpoint_mid_run(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the reproduction ended before the kill: lengthen the training"
    return process


def assert_trained_as(whole: Path, cut: Path) -> None:
    """The training in ``cut`` was continued from its checkpoint and ended with ``whole``'s weights."""
    (stage,), (done,) = stage_dirs(cut, "lstm1"), stage_dirs(whole, "lstm1")
    assert read_marker(stage)["last_attempt"][:2] == ["train", "--resume"]  # continued, not started again
    for name in ("best", "last"):
        assert same_tensors(weights(done / "lstm1-1.5k", name), weights(stage / "lstm1-1.5k", name))


@pytest.mark.slow
def test_a_reproduction_killed_mid_training_finishes_on_rerun_as_if_never_stopped(base, text, long_config, whole,
                                                                                    capsys):
    cut = base / "cut"
    process = started_until_mid_training(text, long_config, cut)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    (stage,) = stage_dirs(cut, "lstm1")
    assert read_marker(stage) is None
    with open(stage / LOCK) as lock:  # its worker died with it: the stage is free within seconds
        for _ in range(100):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.05)
        else:
            pytest.fail("the killed reproduction's worker still holds the training's stage")
    code, rerun, err = reproduce(capsys, "--text", text, "--config", long_config, "--workers", "1", "--out", cut)
    assert code == 0, err
    assert {s["name"]: s["status"] for s in rerun["stages"]}["lstm1-1.5k"] == "ran"
    assert_trained_as(whole, cut)
    for result in ("compare/compare.json", "overlap/overlap.json"):
        a, b = (json.loads(next((root / "stages").glob(f"{result.split('/')[0]}-*/{result}")).read_text())
                for root in (whole, cut))
        assert plain_numbers(a) == plain_numbers(b)


def worker_pids(parent: int) -> list[int]:
    """The local runner's worker processes under ``parent`` (spawned: their command line runs spawn_main)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.slow
def test_a_worker_killed_mid_training_is_replaced_and_the_training_resumes(base, text, long_config, whole):
    cut = base / "worker-cut"
    process = started_until_mid_training(text, long_config, cut)
    (worker,) = worker_pids(process.pid)
    os.kill(worker, signal.SIGKILL)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert {s["name"]: s["status"] for s in json.loads(out)["stages"]}["lstm1-1.5k"] == "ran"
    assert_trained_as(whole, cut)


# --- the Ray runner ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_ray_runner_gives_the_local_runners_results(base, text, config, capsys):
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rnnlens[ray]'")
    local = base / "local-for-ray"
    code, _, err = reproduce(capsys, "--text", text, "--config", config, "--workers", "2", "--out", local)
    assert code == 0, err
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = base / "ray"
        code, summary, err = reproduce(capsys, "--text", text, "--config", config, "--backend", "ray", "--out", remote)
    finally:
        ray.shutdown()
    assert code == 0, err
    assert summary["counts"]["ran"] == 5
    for name in ("lstm1-1.5k", "rnn1-1.5k"):
        (a,), (b,) = stage_dirs(local, name), stage_dirs(remote, name)
        assert a.name == b.name  # the same digest
        assert same_tensors(weights(a / name), weights(b / name))
    for result in ("compare/compare.json", "overlap/overlap.json", "table2/table2/table2.json"):
        stage = result.split("/")[0]
        a, b = (json.loads(next((root / "stages").glob(f"{stage}-*/{result}")).read_text()) for root in (local, remote))
        assert plain_numbers(a) == plain_numbers(b)
