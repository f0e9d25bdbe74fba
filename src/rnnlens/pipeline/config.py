"""Reproduction configs: TOML files naming the grid, the baselines, the analyses and every option of each stage.

The presets (``quick``, ``paper``) are such files in ``presets/``. A file may
start from one with ``base = "quick"`` and change only what it names
(tables merge key by key). ``[datasets.NAME]`` holds overrides for one
corpus (same shape as the whole file), applied when that dataset is run.
Every problem is a ``ConfigError``: one line naming the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

from rnnlens.data.corpus import SPLITS
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.network import MODEL_TYPES
from rnnlens.pipeline.analyses import BY_KEY

PRESETS = ("quick", "standard", "paper")
SECTIONS = {"description", "base", "grid", "train", "baselines", "text", "analyses", "datasets"}
GRID_KEYS = {"types", "layers", "params", "lstm_hidden", "dropout", "train"}
TEXT_KEYS = {"split", "chars"}


class ConfigError(RnnlensError):
    """A config that cannot be run: the message names the file and the key."""


def read_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML ({err})") from None


def preset_text(name: str) -> str:
    return resources.files("rnnlens.pipeline").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")


def preset_descriptions() -> dict[str, str]:
    """What each preset is for and how long it takes, from its own ``description``."""
    return {name: read_toml(preset_text(name), f"preset {name}").get("description", "") for name in PRESETS}


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over``'s keys replacing its own, tables merged key by key."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(preset: str | None = None, path: str | None = None) -> tuple[dict, str]:
    """The config of ``preset`` or of the file ``path`` (with its ``base`` preset under it); and its source."""
    if path is None:
        preset = preset or "quick"
        return read_toml(preset_text(preset), f"preset {preset}"), f"preset {preset}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"--config {path}: cannot read it ({err.__class__.__name__}: {err})") from None
    config = read_toml(text, path)
    base = config.pop("base", None)
    if base is None:
        return config, path
    if base not in PRESETS:
        raise ConfigError(f"{path}: base: {base!r} is not a preset; choose one of {', '.join(PRESETS)}")
    return merge(read_toml(preset_text(base), f"preset {base}"), config), f"{path} (on preset {base})"


def for_dataset(config: dict, dataset: str | None) -> dict:
    """The config with ``[datasets.DATASET]`` applied and the ``datasets`` table removed."""
    overrides = config.get("datasets", {})
    plain = {k: v for k, v in config.items() if k != "datasets"}
    return merge(plain, overrides.get(dataset, {})) if dataset else plain


def check_config(config: dict, source: str) -> None:
    """Refuse unknown sections and keys and ill-typed values of the grid, the text and the analyses' models."""
    def fail(key: str, problem: str):
        raise ConfigError(f"{source}: {key}: {problem}")

    for key in config:
        if key not in SECTIONS:
            fail(key, f"unknown key; the sections are {', '.join(sorted(SECTIONS - {'base'}))}")
    for key, value in config.items():
        if key not in ("description", "base", "grid") and not isinstance(value, dict):
            fail(key, "must be a table ([" + key + "])")
    if config.get("grid") is None:
        fail("grid", "missing: name the models to train ([grid] types, layers, params, dropout)")
    for where, grid in grids(config):
        check_grid(grid, where, fail)
    text = config.get("text", {})
    for key in text:
        if key not in TEXT_KEYS:
            fail(f"text.{key}", f"unknown key; text takes {', '.join(sorted(TEXT_KEYS))}")
    if text.get("split", "test") not in SPLITS:
        fail("text.split", f"{text['split']!r} is not a split; choose one of {', '.join(SPLITS)}")
    chars = text.get("chars", 0)
    if not isinstance(chars, int) or isinstance(chars, bool) or chars < 0:
        fail("text.chars", f"{chars!r} is not a count of characters (0: the whole split)")
    for name, section in config.get("analyses", {}).items():
        if name not in BY_KEY:
            fail(f"analyses.{name}", f"no such analysis; the pipeline knows {', '.join(BY_KEY)}")
        if not isinstance(section, dict):
            fail(f"analyses.{name}", "must be a table")
        models = section.get("models")
        if models != "grid" and not (isinstance(models, list) and models and all(isinstance(m, str) for m in models)):
            fail(f"analyses.{name}.models", "name the models: \"grid\", or a list of model names (lstm2-50k, "
                                            "best-lstm, ngram-20, nnn-3)")


def grids(config: dict) -> list[tuple[str, dict]]:
    """The config's grids with the key naming each: one ``[grid]`` table, or several ``[[grid]]`` tables (each
    a product of types, layers and budgets, optionally with its own ``train`` options over ``[train]``)."""
    grid = config["grid"]
    return [("grid", grid)] if isinstance(grid, dict) else [(f"grid[{k}]", g) for k, g in enumerate(grid)]


def check_grid(grid, where: str, fail) -> None:
    if not isinstance(grid, dict):
        fail(where, "must be a table ([grid]) or tables ([[grid]])")
    for key in grid:
        if key not in GRID_KEYS:
            fail(f"{where}.{key}", f"unknown key; grid takes {', '.join(sorted(GRID_KEYS))}")
    check_list(grid, "types", str, fail, where, allowed=MODEL_TYPES)
    check_list(grid, "layers", int, fail, where, low=1)
    if ("params" in grid) == ("lstm_hidden" in grid):
        fail(f"{where}.params", "give exactly one of params (parameter budgets) and lstm_hidden (the budgets of "
                                "1-layer LSTMs of these hidden sizes)")
    check_list(grid, "params" if "params" in grid else "lstm_hidden", int, fail, where, low=1)
    check_list(grid, "dropout", (int, float), fail, where, low=0, below=1, default=[0.0])
    if not isinstance(grid.get("train", {}), dict):
        fail(f"{where}.train", "must be a table of rnnlens train options (epochs, batch_size, ...)")


def check_list(table: dict, key: str, kind, fail, grid: str = "grid", allowed=None, low=None, below=None,
               default=None) -> None:
    """``table[key]`` is a non-empty list of ``kind`` values within the bounds (``default`` when absent)."""
    values = table.get(key, default)
    where = f"{grid}.{key}"
    if values is None:
        fail(where, "missing")
    if not isinstance(values, list) or not values:
        fail(where, f"must be a non-empty list, not {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind):
            fail(where, f"{v!r} is not {'a number' if kind != str else 'a name'}")
        if allowed is not None and v not in allowed:
            fail(where, f"{v!r} is not one of {', '.join(allowed)}")
        if (low is not None and v < low) or (below is not None and v >= below):
            bounds = f" [{low}, {below})" if below is not None else f" (at least {low})"
            fail(where, f"{v!r} is out of range{bounds}")
    if len(set(values)) != len(values):
        fail(where, f"{values!r} repeats a value")


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def tables(v) -> bool:
    """``v`` is an array of tables (``[[grid]]``)."""
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(config: dict) -> str:
    """``config`` (tables, strings, numbers, booleans, lists of them) as TOML that ``tomllib`` reads back."""
    lines: list[str] = []

    def key(k: str) -> str:
        return k if BARE_KEY.fullmatch(k) else json.dumps(k)

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    def table(prefix: list[str], t: dict, header: str = "[{}]") -> None:
        plain = {k: v for k, v in t.items() if not isinstance(v, dict) and not tables(v)}
        if prefix and (plain or not t or header != "[{}]"):
            lines.extend(["", header.format(".".join(key(p) for p in prefix))])
        lines.extend(f"{key(k)} = {value(v)}" for k, v in plain.items())
        for k, v in t.items():
            if isinstance(v, dict):
                table(prefix + [k], v)
            elif tables(v):
                for entry in v:
                    table(prefix + [k], entry, "[[{}]]")

    table([], config)
    return "\n".join(lines).lstrip("\n") + "\n"
