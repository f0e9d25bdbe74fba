"""Run directories on disk: a JSON config plus safetensors files, never pickle.

Every predictor (RNN, n-gram, n-NN) lives in a directory with ``config.json``
whose ``kind`` says which loader reads it; tensors are in ``.safetensors``
files with string metadata. Writes are atomic, and reads take one version
of a file: a checkpoint replaced while it is read (a training saving
``last``) is read old or new, never a mix of both.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file

from rnnlens.store import atomic
from rnnlens.errors import RnnlensError

CONFIG_FILE = "config.json"
FORMAT = "rnnlens"
FORMAT_VERSION = 1
SNAPSHOTS = "snapshots"  # RUN/snapshots/snapshot-000500.safetensors: the weights after 500 training batches
SNAPSHOT_NAME = re.compile(r"snapshot-\d+")


def snapshot_name(batch: int) -> str:
    """The weights name of the snapshot taken after ``batch`` training batches: ``snapshot-000500``."""
    return f"snapshot-{batch:06d}"


def weights_path(run_dir: str | os.PathLike, weights: str) -> Path:
    """The file of a run's ``weights``: ``best``/``last`` beside ``config.json``, a snapshot in ``snapshots/``."""
    folder = Path(run_dir) / SNAPSHOTS if SNAPSHOT_NAME.fullmatch(weights) else Path(run_dir)
    return folder / f"{weights}.safetensors"


def write_config(run_dir: str | os.PathLike, kind: str, config: dict) -> None:
    """Write ``config.json`` for a predictor of the given kind."""
    atomic.write_json(Path(run_dir) / CONFIG_FILE, {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind, **config})


def read_config(run_dir: str | os.PathLike) -> dict:
    """Read and check a run directory's ``config.json``."""
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise RnnlensError(f"{run_dir}: not a directory; give the run directory a model was written to")
    if not path.is_file():
        raise RnnlensError(f"{run_dir}: no {CONFIG_FILE}; this is not an rnnlens model directory")
    config = atomic.read_json(path, RnnlensError, "the file is damaged")
    if config.get("format") != FORMAT or config.get("version") != FORMAT_VERSION:
        raise RnnlensError(f"{path}: not an rnnlens config of version {FORMAT_VERSION}")
    return config


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Save tensors (moved to CPU, made contiguous) and JSON metadata atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {"json": json.dumps(metadata or {})}
    with atomic.atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Load tensors onto the CPU and the JSON metadata saved with them, both from one read of the file."""
    path = Path(path)
    if not path.is_file():
        raise RnnlensError(f"{path}: no such checkpoint file")
    try:
        data = path.read_bytes()
        return load(data), _metadata(io.BytesIO(data))
    except (SafetensorError, OSError, ValueError, struct.error, AttributeError) as err:
        raise damaged(path, err) from None


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata saved with tensors, from the file's header alone."""
    try:
        with open(path, "rb") as f:
            return _metadata(f)
    except (OSError, ValueError, struct.error, AttributeError) as err:
        raise damaged(path, err) from None


MAX_HEADER = 100_000_000  # bytes: safetensors' own limit on a header


def _metadata(stream: io.BufferedIOBase) -> dict:
    """The JSON metadata in the header of the safetensors file ``stream`` reads from its start.

    One open file, not ``safe_open``: that maps the file again by its name, and a file replaced in between
    (a checkpoint of another length) makes it fail, or read offsets from one version and bytes from the other.
    """
    (size,) = struct.unpack("<Q", stream.read(8))
    if size > MAX_HEADER:
        raise ValueError(f"a header of {size:,} bytes")
    return json.loads(json.loads(stream.read(size)).get("__metadata__", {}).get("json", "{}"))


def damaged(path: str | os.PathLike, err: Exception) -> RnnlensError:
    return RnnlensError(f"{path}: unreadable checkpoint ({err}); the file is damaged")


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix.``, with the prefix removed."""
    start = prefix + "."
    return {k[len(start):]: v for k, v in tensors.items() if k.startswith(start)}
