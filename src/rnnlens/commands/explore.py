"""``rnnlens explore``: look inside models in the browser: units over the text, select and match, predictions.

Each PATH is a trace directory or a run directory (a network is traced over
the text on first use and the trace kept in ``RUN/traces/``, in float16, its
size said first; an n-gram or n-NN model shows its predictions only). With two models, both models'
predictions are shown side by side and their difference in p(true) is
coloured along the text. With ``--onion`` (a result of ``rnnlens onion`` of a
model explored here, over the same text) that model's errors can be coloured by
the oracle that explains each. The server listens on loopback unless ``--host``
says otherwise; ``--port 0`` picks a free port. It prints the URL to open.
"""

from __future__ import annotations

import argparse

from rnnlens.analyses.onion.saved import read_onion
from rnnlens.checks import Range
from rnnlens.commands.common import Stopwatch, add_model_options, add_reporting, add_text_source, log, show_progress, \
    text_from_args
from rnnlens.commands.models import model_names
from rnnlens.errors import RnnlensError
from rnnlens.explorer.app import LOOPBACK, bind, create_app, serve, url_of
from rnnlens.explorer.sources import attach_cells, attach_onions, check_same_text, load_model
from rnnlens.store.traces import is_trace_directory

PORT = Range(0, 65535, integer=True)


def register(subparsers) -> None:
    parser = subparsers.add_parser("explore", help="explore models in the browser: units, select and match, "
                                                   "predictions side by side", description=__doc__)
    parser.add_argument("paths", metavar="PATH", nargs="+", help="trace directories or run directories")
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="a name for each model, in order (default: each directory's base name)")
    add_text_source(parser, default_split="test")
    add_model_options(parser)
    parser.add_argument("--cells", action="append", default=[], metavar="CELLS_DIR",
                        help="a result of rnnlens cells for one of the models (repeatable; without it the "
                             "table is computed on the first 50,000 positions when first shown)")
    parser.add_argument("--onion", action="append", default=[], metavar="ONION_DIR",
                        help="a result of rnnlens onion of one (or both) of the models over this text: colour its "
                             "errors by onion category (repeatable)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: this machine only, 127.0.0.1)")
    parser.add_argument("--port", type=PORT.argparse_type(), default=0,
                        help="port to listen on (default: 0, a free port)")
    add_reporting(parser, json_help=None)
    parser.set_defaults(run=run)


def host_warning(host: str) -> str | None:
    """What to say when the server will be reachable from other machines (None on loopback)."""
    if host in LOOPBACK:
        return None
    return (f"warning: listening on {host}: anyone who can reach this machine can read the models' traces and "
            "texts; there is no password (use the default 127.0.0.1 unless you mean it)")


def run(args: argparse.Namespace) -> int:
    clock = Stopwatch()
    names = model_names(args.paths, args.names)
    if (args.split or args.text) and all(is_trace_directory(path) for path in args.paths):
        raise RnnlensError("every PATH is a trace directory, which holds its own text; --split and --text apply to "
                           "run directories")
    for directory in args.onion:
        read_onion(directory)  # a missing or damaged result is refused before any model is traced
    sock = bind(args.host, args.port)  # before any work: a busy port fails at once

    def text_of(predictor):
        return text_from_args(args, predictor)

    models = [load_model(path, name, text_of, weights=args.weights, device=args.device,
                         progress=show_progress(args), log=log) for path, name in zip(args.paths, names)]
    check_same_text(models)
    attach_cells(models, args.cells)
    attach_onions(models, args.onion)
    app = create_app(models, host=args.host)
    warning = host_warning(args.host)
    if warning:
        log(warning)
    log(f"ready in {clock}; Ctrl-C stops the server")
    print(f"rnnlens explore: open {url_of(sock)}", flush=True)
    serve(app, sock)
    return 0
