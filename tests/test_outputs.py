"""Outputs written whole: a write killed midway leaves a temporary that the next write of that output removes."""

import json
import signal
import subprocess
import sys

from rnnlens.analyses.result import Result
from rnnlens.store.outputs import replace_directory

KILLED_MID_SAVE = """
import os, signal, sys
from rnnlens.store.outputs import replace_directory
with replace_directory(sys.argv[1], "result") as tmp:
    (tmp / "half.json").write_text("{")
    os.kill(os.getpid(), signal.SIGKILL)
"""


class Tally(Result):
    name = "tally"

    def to_dict(self) -> dict:
        return {"n": 3}

    def summary(self) -> str:
        return "3"


def test_the_next_save_removes_a_killed_saves_temporary_and_nothing_else(tmp_path):
    out = tmp_path / "result"
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(out)])
    assert killed.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".result.")]
    assert len(leftovers) == 1 and (leftovers[0] / "half.json").is_file() and not out.exists()
    (tmp_path / ".results.abcd1234.tmp").mkdir()  # another output's temporary
    (tmp_path / ".result.backup.tmp").mkdir()  # a name rnnlens never makes

    with replace_directory(out, "result") as live:  # a write of the same output that is still going on
        (live / "other.json").write_text("{}")
        assert Tally().save(out) == [out / "tally.json"]
        assert json.loads((out / "tally.json").read_text()) == {"n": 3}
        assert live.is_dir() and not leftovers[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".result.backup.tmp", ".results.abcd1234.tmp", "result"]
    assert sorted(p.name for p in out.iterdir()) == [".rnnlens.json", "other.json"]  # the later write won, whole
