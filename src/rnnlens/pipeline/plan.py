"""From a config and a corpus to the graph of stages: the model grid, Table 2's baselines, every analysis.

Models are named ``TYPE LAYERS - BUDGET`` (``lstm2-50k``; with the grid's
``lstm_hidden`` budgets, ``lstm3-h256`` has the parameters of a 1-layer
LSTM of 256 units, as the paper's Figure 1 labels its columns); with several
dropout values each is trained as ``lstm2-50k-d0.25`` and ``lstm2-50k``
selects the one of lowest validation loss. Analyses name models by those
names, ``best-lstm`` / ``best-gru`` / ``best-rnn`` / ``best`` (the grid's
lowest validation loss), and ``ngram-N`` / ``nnn-N`` (Table 2's models with
N characters of context). Every stage's argv is parsed by the real
command's parser before anything runs, so a bad option is refused at once,
naming its key.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnnlens.data.corpus import Corpus
from rnnlens.data.language import PROSE, detect_language
from rnnlens.models.rnn.fit import TrainOptions
from rnnlens.models.rnn.network import count_parameters
from rnnlens.pipeline.analyses import ANALYSES, TABLE2, Analysis
from rnnlens.pipeline.config import ConfigError, grids
from rnnlens.pipeline.stages import CORPUS, OUT, Arg, Graph, Input, Ref, Stage, command_signature
from rnnlens.training.loop import LAST

# options the pipeline sets itself, per section (the corpus, the text, where to write, how to print)
RESERVED = {"out", "dataset", "text", "data_dir", "split_fractions", "device", "json", "quiet", "resume", "names"}
RESERVED_TRAIN = RESERVED | {"model", "layers", "hidden", "params", "dropout"}
RESERVED_ANALYSIS = RESERVED | {"split", "trace", "models"}
NNN_ROW, NGRAM_ROW = "nnn-n{n}", "ngram-order{order}"


@dataclass
class Plan:
    """The graph, the input files to write before it runs, and which stages each analysis got."""

    graph: Graph
    inputs: dict[str, str] = field(default_factory=dict)  # path -> text
    sections: dict[str, list[str]] = field(default_factory=dict)  # analysis key (or "table2") -> its stages
    unavailable: list[str] = field(default_factory=list)  # analyses configured whose command this rnnlens lacks
    device_commands: set[str] = field(default_factory=set)  # commands that take --device


def cli_parser() -> argparse.ArgumentParser:
    from rnnlens.cli import build_parser  # here: the CLI imports the reproduce command, which imports this

    return build_parser()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def budget_label(params: int) -> str:
    """``50k``, ``1.2M``."""
    return f"{params / 1e6:.3g}M" if params >= 1_000_000 else f"{params / 1e3:.3g}k"


def flags(options: dict, section: str, parser: argparse.ArgumentParser, reserved: set[str]) -> list[str]:
    """Config ``options`` as flags of ``parser``'s command (key ``save_every`` is ``--save-every``)."""
    known = {s for a in parser._actions for s in a.option_strings}
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if key in reserved:
            raise ConfigError(f"{section}.{key}: set by rnnlens reproduce itself; remove it")
        if flag not in known:
            raise ConfigError(f"{section}.{key}: {parser.prog} has no option {flag}; see {parser.prog} --help")
        if value is True:
            argv.append(flag)
        elif value is not False:
            argv += [flag, *map(str, value if isinstance(value, list) else [value])]
    return argv


class Planner:
    """Builds the stages of one config for one corpus (see the module docstring)."""

    def __init__(self, config: dict, corpus: Corpus, root: Path) -> None:
        self.config, self.corpus, self.root = config, corpus, root
        self.parsers = subcommands(cli_parser())
        self.stages: dict[str, Stage] = {}
        self.sections: dict[str, str] = {}  # stage -> config section its options came from
        self.cells: dict[str, list[str]] = {}  # grid model -> its training stages (one per dropout)
        self.types: dict[str, str] = {}  # grid model -> its type
        self.train_extra: dict[str, dict] = {}  # grid model -> options analyses need in its training
        self.inputs: dict[str, str] = {}  # files to write before running: path -> text
        self.section_stages: dict[str, list[str]] = {}  # analysis -> its stages
        self.unavailable: list[str] = []  # analyses whose command this rnnlens lacks

    def option_strings(self, command: str) -> set[str]:
        return {s for a in self.parsers[command]._actions for s in a.option_strings}

    def add(self, stage: Stage, section: str) -> None:
        self.stages[stage.name] = stage
        self.sections[stage.name] = section

    # --- the grid ---------------------------------------------------------
    def budgets(self, grid: dict) -> list[tuple[str, int]]:
        """A grid's parameter budgets with their names."""
        if "params" in grid:
            return [(budget_label(p), p) for p in grid["params"]]
        return [(f"h{h}", count_parameters("lstm", 1, len(self.corpus.vocab), h)) for h in grid["lstm_hidden"]]

    def name_grid(self) -> None:
        for where, grid in grids(self.config):
            for model_type in grid["types"]:
                for layers in grid["layers"]:
                    for label, params in self.budgets(grid):
                        self.name_cell(f"{model_type}{layers}-{label}", (model_type, layers, params), grid, where)

    def name_cell(self, name: str, shape: tuple[str, int, int], grid: dict, where: str) -> None:
        if name in self.cells:
            raise ConfigError(f"{where}: {name} is already in an earlier grid; each model may be named once")
        dropouts = grid.get("dropout", [0.0])
        runs = [name] if len(dropouts) == 1 else [f"{name}-d{d:g}" for d in dropouts]
        self.cells[name] = runs
        self.types[name] = shape[0]
        for run, dropout in zip(runs, dropouts):
            self.types[run] = shape[0]
            self.stages[run] = Stage(run, info={"spec": (*shape, float(dropout)), "train": grid.get("train", {}),
                                                "where": where})

    def add_trainings(self) -> None:
        parser = self.parsers["train"]
        for cell, runs in self.cells.items():
            extra = self.train_extra.get(cell, {})
            for run in runs:
                model_type, layers, params, dropout = self.stages[run].info["spec"]
                options = {**self.config.get("train", {}), **self.stages[run].info["train"]}
                shape = {k: options.get(k, getattr(TrainOptions, k)) for k in ("epochs", "batch_size", "seq_length")}
                section = "train" if not self.stages[run].info["train"] else f"{self.stages[run].info['where']}.train"
                argv = ("train", CORPUS, "--model", model_type, "--layers", str(layers), "--params", str(params),
                        "--dropout", repr(dropout), *flags({**options, **extra}, section, parser, RESERVED_TRAIN),
                        "--quiet", "--out", OUT)
                info = {**shape, "train_chars": len(self.corpus.split_ids("train")), "type": model_type,
                        "layers": layers, "params": params, "dropout": dropout, "fits": True}
                self.add(Stage(run, argv, resume=("train", "--resume", "--quiet", "--out", OUT), resume_file=LAST,
                               fresh=True, info=info), "train")
            if len(runs) > 1:
                self.add(Stage(cell, select=tuple(runs), info={"by": "dropout"}), "grid.dropout")

    # --- Table 2 ----------------------------------------------------------
    def add_baselines(self) -> None:
        section = self.config.get("baselines")
        if section is None:
            return
        parser = self.parsers["baselines"]
        rows = [NGRAM_ROW.format(order=n + 1) for n in section.get("ngram", [])] + \
               [NNN_ROW.format(n=n) for n in section.get("nnn", [])]
        argv = ("baselines", CORPUS, *flags(section, "baselines", parser, RESERVED), "--quiet", "--out", OUT)
        self.add(Stage(TABLE2, argv, info={"rows": rows, "fits": True}), "baselines")

    # --- models named by analyses ----------------------------------------
    def model(self, name: str, where: str) -> Ref:
        """The directory of the model an analysis names (see the module docstring)."""
        if name in self.cells:
            return Ref(name)
        best = re.fullmatch(r"best(?:-(\w+))?", name)
        if best:
            pool = [c for c in self.cells if best.group(1) in (None, self.types[c])]
            if not pool:
                raise ConfigError(f"{where}: {name}: the grid has no {best.group(1)} models")
            if name not in self.stages:
                self.add(Stage(name, select=tuple(pool), info={"by": "grid"}), where)
            return Ref(name)
        row = re.fullmatch(r"(ngram|nnn)-(\d+)", name)
        if row:
            family, n = row.group(1), int(row.group(2))
            if n not in self.config.get("baselines", {}).get(family, []):
                raise ConfigError(f"{where}: {name}: add {n} to baselines.{family} to train it")
            return Ref(TABLE2, NGRAM_ROW.format(order=n + 1) if family == "ngram" else NNN_ROW.format(n=n))
        raise ConfigError(f"{where}: unknown model {name!r}; the grid's are {', '.join(self.cells)}, and best-TYPE, "
                          "ngram-N, nnn-N")

    def text_args(self) -> tuple[Arg, ...]:
        text = self.config.get("text", {})
        split, chars = text.get("split", "test"), text.get("chars", 0)
        if not chars:
            return ("--split", split)
        content = self.corpus.split_text(split)[:chars]
        path = self.root / "texts" / f"{split}-{chars}.txt"
        self.inputs[str(path)] = content
        return ("--text", Input(str(path), hashlib.sha256(content.encode("utf-8")).hexdigest()))

    # --- analyses ---------------------------------------------------------
    def claim_training_options(self) -> None:
        """Options an analysis needs in its models' trainings (dynamics: snapshots) go to those trainings."""
        for analysis in ANALYSES:
            section = self.config.get("analyses", {}).get(analysis.key, {})
            for key in analysis.train_options:
                if key not in section:
                    continue
                for name in self.model_names(analysis, section):
                    if name not in self.cells:
                        raise ConfigError(f"analyses.{analysis.key}.models: {name}: {key} needs a model of the grid, "
                                          "trained by this run")
                    self.train_extra.setdefault(name, {})[key] = section[key]

    def model_names(self, analysis: Analysis, section: dict) -> list[str]:
        models = section["models"]
        return list(self.cells) if models == "grid" else models

    def add_analyses(self) -> None:
        if not self.config.get("analyses"):
            return
        text = self.text_args()
        for analysis in ANALYSES:
            section = self.config.get("analyses", {}).get(analysis.key)
            if section is None:
                continue
            if analysis.command not in self.parsers:
                self.unavailable.append(analysis.key)
                continue
            self.section_stages[analysis.key] = self.analysis_stages(analysis, section, text)

    def analysis_stages(self, analysis: Analysis, section: dict, text: tuple[Arg, ...]) -> list[str]:
        where = f"analyses.{analysis.key}"
        names = self.model_names(analysis, section)
        least, most = analysis.models
        count = 1 if analysis.per_model else len(names)
        if count < least or (most is not None and count > most):
            wanted = f"{least}" if least == most else f"{least} to {most}" if most else f"at least {least}"
            raise ConfigError(f"{where}.models: {analysis.command} takes {wanted} model(s), the config names {count}")
        options = {k: v for k, v in section.items()
                   if k != "models" and k not in analysis.train_options and k not in analysis.model_options
                   and k not in analysis.stage_options}
        pair = self.bracket_pair(options.get("pair")) if analysis.key == "brackets" else None
        if pair:
            options = {**options, "pair": pair}
        extra: list[Arg] = []
        for key in analysis.model_options:
            if key in section:
                extra += ["--" + key.replace("_", "-"), *(self.model(m, f"{where}.{key}") for m in section[key])]
        for key, stage in analysis.stage_options.items():
            if stage not in self.stages:
                raise ConfigError(f"{where}: {analysis.command} needs the [baselines] section (its n-gram models)")
            extra += ["--" + key.replace("_", "-"), Ref(stage)]
        groups = [[n] for n in names] if analysis.per_model else [names]
        made = []
        for group in groups:
            name = f"{analysis.key}-{group[0]}" if analysis.per_model else analysis.key
            argv = (analysis.command, *(self.model(m, f"{where}.models") for m in group), *text, *extra,
                    *analysis.fixed, *flags(options, where, self.parsers[analysis.command], RESERVED_ANALYSIS),
                    "--quiet", "--out", OUT)
            self.add(Stage(name, argv, info={"analysis": analysis.key, "models": group,
                                             "names": "--names" in self.option_strings(analysis.command)}), where)
            made.append(name)
        return made

    def bracket_pair(self, configured: str | None) -> str | None:
        """The brackets a ``--text`` corpus is measured by: its language's (``{}`` for C, ``()`` for Python,
        ``"`` for prose) where the config gives prose's ``"`` or none; a named dataset's config says its own."""
        if "dataset" in self.corpus.source or configured not in (None, PROSE.pair):
            return configured
        return detect_language(self.corpus.text).pair

    def plan(self) -> Plan:
        self.name_grid()
        self.claim_training_options()
        self.add_trainings()
        self.add_baselines()
        self.add_analyses()
        check_onion_orders(self)
        corpus = {"sha256": self.corpus.sha256, "fractions": list(self.corpus.fractions)}
        signatures = {name: command_signature(parser) for name, parser in self.parsers.items()}
        graph = Graph(list(self.stages.values()), corpus, self.root, signatures)
        check_argvs(self, graph)
        sections = {TABLE2: [TABLE2]} if TABLE2 in self.stages else {}
        device = {name for name, p in self.parsers.items() if any("--device" in a.option_strings for a in p._actions)}
        return Plan(graph, self.inputs, {**sections, **self.section_stages}, self.unavailable, device)


def with_names(stage: Stage, argv: list[str]) -> list[str]:
    """``argv`` with ``--names`` where the directories' own names would mislead: Table 2's models go by the
    config's names (``ngram-20``, not ``ngram-order21``), and two models that are one directory (the best
    LSTM may be the small one too) by their references, since a command refuses two models of one name."""
    models = stage.info.get("models", [])
    if not stage.info.get("names") or not models:
        return argv
    dirs = argv[1:1 + len(models)]
    own = [Path(d).name for d in dirs]
    names = [ref if re.fullmatch(r"(ngram|nnn)-\d+", ref) else name for ref, name in zip(models, own)]
    if len(set(names)) < len(names):
        names = list(models)
    return argv if names == own else argv + ["--names", *names]


def check_onion_orders(planner: Planner) -> None:
    """The onion reads its n-gram models from Table 2's directory: each order must be one Table 2 estimates,
    else the onion would write into a finished stage."""
    section = planner.config.get("analyses", {}).get("onion")
    if section is None or "onion" not in planner.parsers or TABLE2 not in planner.stages:
        return
    default = next(a.default for a in planner.parsers["onion"]._actions if "--orders" in a.option_strings)
    orders = section.get("orders", default)
    contexts = set(planner.config["baselines"].get("ngram", []))
    missing = [o for o in orders if o - 1 not in contexts]
    if missing:
        raise ConfigError(f"analyses.onion.orders: orders {', '.join(map(str, missing))} are not in Table 2; add "
                          f"{', '.join(str(o - 1) for o in missing)} to baselines.ngram")


def check_argvs(planner: Planner, graph: Graph) -> None:
    """Parse every stage's argv with the real CLI parser; an error names the config key of the bad option."""
    parser = cli_parser()
    corpus = ["--text", "corpus.txt"]
    for name in graph.order:
        stage = graph.stages[name]
        if stage.select:
            continue
        argv = [str(a) if not isinstance(a, (Ref, Input)) else "/placeholder" for a in stage.argv]
        argv = [x for a in argv for x in (corpus if a == str(CORPUS) else [a])]
        message = io.StringIO()
        try:
            with contextlib.redirect_stderr(message):
                parser.parse_args(argv)
        except SystemExit:
            error = message.getvalue().strip().splitlines()[-1] if message.getvalue().strip() else "invalid options"
            flag = re.search(r"argument (--[\w-]+)", error)
            key = f"{planner.sections[name]}.{flag.group(1)[2:].replace('-', '_')}" if flag else planner.sections[name]
            raise ConfigError(f"{key}: {error}") from None
