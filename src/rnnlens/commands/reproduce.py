"""``rnnlens reproduce``: the paper from a corpus, unattended: the model grid, Table 2, every figure, one report.

A graph of stages, each one rnnlens command (``rnnlens.pipeline``): the
grid's trainings, Table 2's baselines, every analysis of the config, then
``DIR/report.html``. A finished stage is reused and an interrupted one
continued, so running the same command again after a kill finishes the job;
a changed option re-runs only the stages that depend on it. Every model it
trains or selects is reachable as ``DIR/models/NAME`` once its stage is done
(``rnnlens.pipeline.model_links``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import signal
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from rnnlens.commands.common import POSITIVE_COUNT, Stopwatch, add_corpus_options, add_device, corpus_from_args, log
from rnnlens.data.corpus import data_directory
from rnnlens.errors import RnnlensError
from rnnlens.pipeline.config import PRESETS, check_config, for_dataset, load_config, to_toml
from rnnlens.store import atomic
from rnnlens.store.outputs import MARK, check_replaceable
from rnnlens.training.loop import Interrupted

HOLDS = "reproduction"


def register(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="the whole paper: model grid, Table 2, Figures 1-6, report",
                                   description=__doc__)
    add_corpus_options(parser, required=False)
    parser.add_argument("--out", help="the reproduction's directory: stages/, report.html (new, empty, or an "
                                      "earlier reproduction to continue)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=PRESETS, help="a config shipped with rnnlens (default: quick)")
    source.add_argument("--config", metavar="FILE.toml", help="a config file (base = \"quick\" starts from a preset)")
    parser.add_argument("--print-config", action="store_true", help="print the effective config as TOML and stop")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="local: worker processes here; ray: tasks on a Ray cluster (default: local)")
    parser.add_argument("--workers", type=POSITIVE_COUNT,
                        help="stages run at once (default: local, the CPU count up to 8; ray: the cluster's CPUs "
                             "over --threads)")
    parser.add_argument("--threads", type=POSITIVE_COUNT,
                        help="torch threads of each stage (default: local, the CPUs divided among the workers; "
                             "ray, 1)")
    parser.add_argument("--address", help="ray: the cluster to join (default: start a local one)")
    parser.add_argument("--stage-gpus", type=float, default=0.0,
                        help="ray: GPUs each stage asks for, a fraction to share one (default: 0)")
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress overview")
    parser.add_argument("--json", action="store_true", help="print each stage's status and the report's path as JSON")
    parser.set_defaults(run=run)


def effective_config(args: argparse.Namespace) -> tuple[dict, str]:
    config, source = load_config(args.preset, args.config)
    config = for_dataset(config, args.dataset)
    check_config(config, source)
    return config, source


def corpus_args(args: argparse.Namespace) -> list[str]:
    """The corpus options every stage that reads the corpus gets, with absolute paths."""
    if args.dataset:
        out = ["--dataset", args.dataset, "--data-dir", str(data_directory(args.data_dir).resolve())]
    else:
        out = ["--text", str(Path(args.text).resolve())]
    return out + (["--split-fractions", *map(repr, args.fractions)] if args.fractions else [])


def check_out_dir(path: str) -> None:
    """Refuse an --out that holds anything but an earlier reproduction, before any work."""
    check_replaceable(path, HOLDS)


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` while the block runs; another reproduce on the same directory is refused."""
    with open(root / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RnnlensError(f"{root} is in use by another rnnlens reproduce; wait for it to end") from None
        yield


def make_runner(args: argparse.Namespace):
    from rnnlens.pipeline.runners import LocalRunner, RayRunner, threads_per_worker

    if args.backend == "ray":
        return RayRunner(args.address, args.workers, args.threads or 1, args.stage_gpus)
    workers = args.workers or min(os.cpu_count() or 1, 8)
    return LocalRunner(workers, args.threads or threads_per_worker(workers))


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    config, source = effective_config(args)
    if args.print_config:
        print(to_toml(config), end="")
        return 0
    if args.out is None or (args.dataset is None and args.text is None):
        raise RnnlensError("rnnlens reproduce needs a corpus (--dataset NAME or --text FILE) and --out DIR")
    check_out_dir(args.out)
    corpus = corpus_from_args(args)
    from rnnlens.pipeline.plan import Planner  # the planner reads every command's parser

    root = Path(args.out).resolve()
    plan = Planner(config, corpus, root).plan()
    with ExitStack() as stack:
        runner = make_runner(args)  # before the directory: a missing Ray leaves nothing behind
        stack.callback(runner.close)
        root.mkdir(parents=True, exist_ok=True)
        stack.enter_context(locked(root))
        if not (root / MARK).is_file():
            atomic.write_json(root / MARK, {"holds": HOLDS})
        atomic.write_text(root / "config.toml", to_toml(config))
        for path, text in plan.inputs.items():
            if not Path(path).is_file():
                atomic.write_text(path, text)
        log(f"read {corpus.name}: {len(corpus):,} characters; config {source}; {len(plan.graph.order)} stages in "
            f"{args.out}/stages")
        statuses = run_stages(args, plan, runner, corpus_args(args))
        from rnnlens.pipeline.model_links import update_links
        from rnnlens.report.build import build_report

        models = update_links(plan.graph)
        report = build_report(root, plan, statuses, corpus, to_toml(config), source, command_line(args))
    return finish(args, statuses, report, models, clock)


def command_line(args: argparse.Namespace) -> str:
    """The reproduce command as a user would type it again (options that change what runs)."""
    argv = ["reproduce", *(["--dataset", args.dataset] if args.dataset else ["--text", args.text])]
    argv += ["--split-fractions", *map(repr, args.fractions)] if args.fractions else []
    argv += ["--config", args.config] if args.config else ["--preset", args.preset or "quick"]
    argv += ["--backend", args.backend] + (["--device", args.device] if args.device != "auto" else [])
    return "rnnlens " + shlex.join(argv + ["--out", args.out])


def run_stages(args: argparse.Namespace, plan, runner, corpus: list[str]) -> dict:
    from rnnlens.pipeline.execute import Job
    from rnnlens.pipeline.model_links import update_links
    from rnnlens.pipeline.plan import with_names
    from rnnlens.pipeline.progress import Overview
    from rnnlens.pipeline.schedule import run_graph

    graph = plan.graph

    def job_for(name: str) -> Job:
        stage = graph.stages[name]
        argv = with_names(stage, graph.resolve(stage.argv, name, corpus))
        if args.device != "auto" and stage.command in plan.device_commands:
            argv += ["--device", args.device]  # how to run, not what: not part of the digest
        resume = graph.resolve(stage.resume, name, corpus) if stage.resume else None
        return Job(name, graph.digests[name], str(graph.directory(name)), str(graph.output(name)), tuple(argv),
                   tuple(resume) if resume else None, stage.resume_file, stage.fresh, runner.threads)

    overview = Overview(graph, quiet=args.quiet, on_change=lambda: update_links(graph))
    try:
        return run_graph(graph, runner, job_for, overview)
    except (KeyboardInterrupt, Exception) as err:
        runner.stop(signal.SIGTERM)  # trainings save a checkpoint and stop
        if isinstance(err, KeyboardInterrupt):
            raise Interrupted("stopped; run the same rnnlens reproduce command again to continue",
                              signal.SIGINT) from None
        raise


def finish(args: argparse.Namespace, statuses: dict, report: Path, models: dict[str, Path], clock: Stopwatch) -> int:
    """Print the report's path and the models' links (``--json``: with every stage's status); fail if a stage did."""
    counts = {s: sum(v.status == s for v in statuses.values()) for s in ("reused", "ran", "failed", "blocked")}
    if args.json:
        print(json.dumps({"report": str(report), "counts": counts,
                          "models": {name: str(link) for name, link in models.items()},
                          "stages": [{"name": v.name, "status": v.status, "seconds": round(v.seconds, 3),
                                      "detail": v.detail} for v in statuses.values()]}))
    else:
        print(f"report: {report}")
        if models:
            best = [link for name, link in models.items() if name.startswith("best")]
            example = (best or list(models.values()))[0]
            print(f"models in {example.parent}: {', '.join(models)} (any command takes one: rnnlens evaluate "
                  f"{shlex.quote(str(example))})")
    log(f"{len(statuses)} stages: {counts['ran']} run, {counts['reused']} reused, {counts['failed']} failed, "
        f"{counts['blocked']} blocked; took {clock}")
    failed = [v for v in statuses.values() if v.status == "failed"]
    if failed:
        raise RnnlensError(f"stage {failed[0].name} failed ({failed[0].detail}); the report shows the rest; "
                           "fix it and run the same command again")
    return 0
