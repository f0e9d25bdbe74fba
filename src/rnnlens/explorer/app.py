"""The explorer's web app (ASGI, Starlette): the page, its static files, and a JSON API over windows of the traces.

Every request is bounded (``LIMITS``: window length, units, brush length,
candidates, results) so none can read a whole trace or exhaust memory; the
API takes model numbers and positions, never paths, so nothing outside the
directories given on the command line can be read; a missing, malformed or
out-of-range parameter is a 4xx with ``{"error": ..., "parameter": ...}``.
Rows are positions: row ``t`` is the state after reading ``text[t]``.

``GET /api/info``                          models, text length, limits
``GET /api/text?start&length``             the text of a window
``GET /api/states?model&layer&quantity&units&start&length``   values of a few units over a window
``GET /api/histogram?model&quantity&layers``                  value histogram (of evenly spaced rows)
``GET /api/select?model&quantity&layers&start&end&threshold&sign&left&right``    the brushed units
``GET /api/match?model&quantity&units&threshold&sign&left&right&min_length&exclude_start&exclude_end&limit``
``GET /api/predictions?model&start&length&k``                 p(true) and the top k next characters
``GET /api/cells?model``                                      the discovered-cells table
``GET /api/onion?model&start&length``                         onion categories of a window (``--onion``)
"""

from __future__ import annotations

import socket
from importlib import resources
from pathlib import Path

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from rnnlens.errors import RnnlensError
from rnnlens.explorer import matching
from rnnlens.explorer.params import BadRequest, Query
from rnnlens.explorer.sources import ExploredModel, discovered_cells

LIMITS = {
    "window": 5000,  # characters of text or states per request
    "units": 64,  # units of one states request
    "selected": 128,  # units a match may use
    "brush": 2000,  # characters a selection may span
    "padding": 20,  # rows of padding on either side
    "results": 200,  # matches returned
    "candidates": 1000,  # candidate runs found per match
    "rows": 2_000_000,  # rows read to score the candidates of one match
    "predictions": 2000,  # positions of one predictions request
    "k": 20,  # top-k next characters
    "histogram_rows": 5000,  # evenly spaced rows a histogram reads (2.5M values of a 2 x 256 model)
    "bins": 100,
}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
STATIC = Path(str(resources.files("rnnlens.explorer") / "static"))


class Explorer:
    """The models shown (over one text) and the handlers of the API."""

    def __init__(self, models: list[ExploredModel]) -> None:
        self.models = models
        self.text = models[0].text
        self.positions = len(models[0].prob)
        self.histograms: dict[tuple, dict] = {}

    def model(self, q: Query, traced: bool = False) -> ExploredModel:
        model = self.models[q.integer("model", 0, len(self.models) - 1, default=0)]
        if traced and model.trace is None:
            raise BadRequest(f"{model.name} has no trace (no internal states): choose a network", "model")
        return model

    def window(self, q: Query, most: int) -> tuple[int, int]:
        """``(start, end)`` of a window of positions, clipped to the text."""
        start = q.integer("start", 0, max(self.positions - 1, 0), default=0)
        length = q.integer("length", 1, most, default=min(most, 1000))
        return start, min(start + length, self.positions)

    def quantity(self, q: Query, model: ExploredModel) -> str:
        shown = sorted({name for names in model.quantities().values() for name in names})
        return q.choice("quantity", shown, default=model.default_quantity())

    def layers(self, q: Query, model: ExploredModel, quantity: str) -> list[int]:
        layers = q.integers("layers", 1, 10_000, len(model.trace.layers), default=",".join(map(str, model.trace.layers)))
        for layer in layers:
            if quantity not in model.quantities().get(layer, []):
                raise BadRequest(f"{model.name} has no {quantity} in layer {layer}", "layers")
        return layers

    def rule(self, q: Query) -> matching.Rule:
        sign = q.choice("sign", ["1", "-1"], default="1")
        return matching.Rule(q.number("threshold", -1e6, 1e6), int(sign),
                             q.integer("left", 0, LIMITS["padding"], default=1),
                             q.integer("right", 0, LIMITS["padding"], default=0),
                             q.integer("min_length", 1, LIMITS["brush"], default=2))

    # handlers: each takes the Query and returns a JSON-able dict

    def info(self, q: Query) -> dict:
        return {"positions": self.positions, "chars": len(self.text), "limits": LIMITS,
                "models": [m.summary() for m in self.models]}

    def text_window(self, q: Query) -> dict:
        start = q.integer("start", 0, max(len(self.text) - 1, 0), default=0)
        length = q.integer("length", 1, LIMITS["window"], default=1000)
        return {"start": start, "text": self.text[start:start + length]}

    def states(self, q: Query) -> dict:
        model = self.model(q, traced=True)
        layer = q.integer("layer", 1, 10_000, default=model.trace.layers[0])
        quantity = self.quantity(q, model)
        if quantity not in model.quantities().get(layer, []):
            raise BadRequest(f"{model.name} has no {quantity} in layer {layer}", "layer")
        values = model.values(layer, quantity)
        units = q.integers("units", 0, values.shape[1] - 1, LIMITS["units"])
        start, end = self.window(q, LIMITS["window"])
        window = values[start:end, units]
        return {"start": start, "end": end, "layer": layer, "quantity": quantity, "units": units,
                "values": np.round(window.T.astype(np.float64), 4).tolist()}

    def histogram(self, q: Query) -> dict:
        model = self.model(q, traced=True)
        quantity = self.quantity(q, model)
        layers = self.layers(q, model, quantity)
        bins = q.integer("bins", 2, LIMITS["bins"], default=40)
        key = (self.models.index(model), quantity, tuple(layers), bins)
        if key not in self.histograms:
            rows = np.unique(np.linspace(0, self.positions - 1, min(self.positions, LIMITS["histogram_rows"]))
                             .astype(np.int64))
            sample = np.concatenate([np.asarray(model.values(layer, quantity)[rows], np.float64).ravel()
                                     for layer in layers])
            low, high = float(sample.min()), float(sample.max())
            counts, edges = np.histogram(sample, bins=bins, range=(low, high if high > low else low + 1))
            self.histograms[key] = {"quantity": quantity, "layers": layers, "rows": int(len(rows)),
                                    "counts": counts.tolist(), "edges": edges.tolist()}
        return self.histograms[key]

    def select(self, q: Query) -> dict:
        model = self.model(q, traced=True)
        quantity = self.quantity(q, model)
        layers = self.layers(q, model, quantity)
        start = q.integer("start", 0, max(self.positions - 1, 0))
        end = q.integer("end", start + 1, start + LIMITS["brush"])
        end = min(end, self.positions)
        rule = self.rule(q)
        chosen = matching.select([model.values(layer, quantity) for layer in layers], start, end, rule)
        units = [{"layer": layer, "unit": int(u)} for layer, found in zip(layers, chosen) for u in found]
        return {"quantity": quantity, "start": start, "end": end, "units": units, "count": len(units)}

    def match(self, q: Query) -> dict:
        model = self.model(q, traced=True)
        quantity = self.quantity(q, model)
        pairs = q.pairs("units", LIMITS["selected"])
        layers = sorted({layer for layer, _ in pairs})
        for layer, unit in pairs:
            if quantity not in model.quantities().get(layer, []):
                raise BadRequest(f"{model.name} has no {quantity} in layer {layer}", "units")
            if not 0 <= unit < model.values(layer, quantity).shape[1]:
                raise BadRequest(f"layer {layer} has no unit {unit}", "units")
        rule = self.rule(q)
        exclude = None
        if "exclude_start" in q.params or "exclude_end" in q.params:
            lo = q.integer("exclude_start", 0, self.positions)
            exclude = (lo, q.integer("exclude_end", lo, self.positions))
        limit = q.integer("limit", 1, LIMITS["results"], default=50)
        blocks = [model.values(layer, quantity) for layer in layers]
        selected = [np.array(sorted(u for l, u in pairs if l == layer), np.int64) for layer in layers]
        found = matching.match(blocks, selected, rule, exclude, limit, LIMITS["candidates"], LIMITS["rows"])
        return {"quantity": quantity, "selected": len(pairs), "candidates": found.candidates, "scored": found.scored,
                "truncated": found.truncated, "matches": [{**m.to_dict(), **self.snippet(m.start, m.start + m.length)}
                                                          for m in found.matches]}

    def snippet(self, start: int, end: int, context: int = 15, most: int = 80) -> dict:
        """The text of ``[start, end)`` (its first ``most`` characters) with ``context`` characters either side."""
        return {"before": self.text[max(start - context, 0):start], "text": self.text[start:min(end, start + most)],
                "after": self.text[end:end + context]}

    def predictions(self, q: Query) -> dict:
        model = self.model(q)
        start, end = self.window(q, LIMITS["predictions"])
        k = q.integer("k", 1, LIMITS["k"], default=5)
        result = {"start": start, "end": end, "p_true": np.round(np.asarray(model.prob[start:end], np.float64), 5)
                  .tolist(), "top": None}
        if model.distributions is not None and model.chars is not None:
            window = np.asarray(model.distributions[start:end], np.float32)
            k = min(k, window.shape[1])
            best = np.argsort(-window, axis=1, kind="stable")[:, :k]
            p = np.take_along_axis(window, best, axis=1)
            result["top"] = [[[model.chars[i], round(float(v), 5)] for i, v in zip(row, prow)]
                             for row, prow in zip(best, p)]
        return result

    def onion(self, q: Query) -> dict:
        """Rows ``[start, end)`` of the model's onion categories: entry ``t`` is the prediction of character
        ``start + t + 1``, -1 where it was no error, else an index into the model's ``onion.legend`` (info)."""
        model = self.model(q)
        if model.onion is None:
            raise BadRequest(f"{model.name} has no onion result: give one with --onion", "model")
        start, end = self.window(q, LIMITS["window"])
        return {"start": start, "end": end, "category": np.asarray(model.onion.category[start:end]).tolist()}

    def cells(self, q: Query) -> dict:
        model = self.model(q, traced=True)
        result = discovered_cells(model)
        rows = [{key: m[key] for key in ("feature", "layer", "unit", "metric", "score", "direction", "support",
                                         "null_score", "beyond_chance", "window")} for m in result["best"]]
        return {"quantity": result["quantity"], "source": result["source"], "positions": result["positions"],
                "rows": rows}


def _endpoint(handler):
    def respond(request: Request) -> JSONResponse:
        try:
            return JSONResponse(handler(Query(request.query_params)))
        except BadRequest as err:
            return JSONResponse(err.to_dict(), status_code=err.status)
        except RnnlensError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
    return respond


async def _http_error(request: Request, err: HTTPException) -> JSONResponse:
    return JSONResponse({"error": err.detail}, status_code=err.status_code)


async def _server_error(request: Request, err: Exception) -> JSONResponse:
    return JSONResponse({"error": f"internal error: {type(err).__name__}"}, status_code=500)


def index(request: Request) -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


def allowed_hosts(host: str) -> list[str]:
    """Host headers accepted: the loopback names when bound to loopback (so that a page on another site,
    rebinding its name to 127.0.0.1, is refused), else any."""
    if host in LOOPBACK:
        return ["127.0.0.1", "localhost", "::1", "[::1]"]
    return ["*"]


def create_app(models: list[ExploredModel], host: str = "127.0.0.1") -> Starlette:
    """The ASGI app over ``models`` (shown over one text), for a server bound to ``host``."""
    explorer = Explorer(models)
    api = {"info": explorer.info, "text": explorer.text_window, "states": explorer.states,
           "histogram": explorer.histogram, "select": explorer.select, "match": explorer.match,
           "predictions": explorer.predictions, "cells": explorer.cells, "onion": explorer.onion}
    routes = [Route("/", index)] + [Route(f"/api/{name}", _endpoint(handler)) for name, handler in api.items()]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host))],
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.explorer = explorer
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port the system picks; ``getsockname`` tells which)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        raise RnnlensError(f"cannot listen on {host} port {port}: {err.strerror or err}",
                           "choose another port (0 picks a free one)", option="port") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    """The address to open in a browser for a socket from ``bind``."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM (uvicorn, one worker, no access log)."""
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")).run(sockets=[sock])
