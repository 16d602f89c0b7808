"""The explorer's HTTP server: the page, its assets and JSON endpoints, on 127.0.0.1 only.

Endpoints (all GET except ``/api/simulate``):

- ``/``: the page; ``/static/app.js``; ``/static/plotly.min.js`` from the installed ``plotly`` package;
- ``/api/curves?x=tau&x_min=…&tau=…``: :func:`iclab.explore.view.curves` of the query's :class:`View`;
- ``POST /api/simulate`` with a JSON body ``{"view": {...}, "d": 32, "runs": 3}``: starts a job, returns its id;
- ``/api/jobs/ID``: a job's progress and its finished points.

Bad input answers 400 with ``{"error": one line}``. Any other exception is a bug: 500, and its traceback is
printed on the server's stderr.
"""

from __future__ import annotations

import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from iclab.explore.jobs import Jobs
from iclab.explore.view import curves, view_from_query
from iclab.sweep.store import DEFAULT_PATH
from iclab.validation import UserInputError

HOST = "127.0.0.1"  # never another interface: the server runs user code paths with no authentication
MAX_BODY = 1 << 16


def plotly_js() -> Path:
    """Plotly.js as shipped inside the ``plotly`` Python package (the ``explore`` extra): served locally, so the
    page needs no network."""
    try:
        import plotly
    except ImportError:
        raise UserInputError('iclab explore needs the plotly package: pip install -e ".[explore]"') from None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise UserInputError(f"plotly {plotly.__version__} ships no plotly.min.js; install plotly >= 5.20")
    return path


def _static(name: str) -> bytes:
    return resources.files("iclab.explore").joinpath("static", name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: ExploreServer
    protocol_version = "HTTP/1.1"  # keep-alive: one connection serves a slider drag

    def log_message(self, fmt, *args):  # no access log on the terminal; errors are reported below
        pass

    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc) -> None:
        self._send(status, json.dumps(doc, allow_nan=False).encode(), "application/json")

    def _guarded(self, work) -> None:
        try:
            work()
        except UserInputError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e).splitlines()[0]})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error: see the server's terminal"})

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._guarded(self._get)

    def do_POST(self):  # noqa: N802
        self._guarded(self._post)

    def _get(self):
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _static("index.html"), "text/html; charset=utf-8")
        elif url.path == "/static/app.js":
            self._send(HTTPStatus.OK, _static("app.js"), "text/javascript; charset=utf-8")
        elif url.path == "/static/plotly.min.js":
            self._send(HTTPStatus.OK, self.server.plotly, "text/javascript; charset=utf-8", cache=True)
        elif url.path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif url.path == "/api/curves":
            self._json(HTTPStatus.OK, curves(view_from_query(parse_qs(url.query))))
        elif url.path.startswith("/api/jobs/"):
            self._json(HTTPStatus.OK, self.server.jobs.status(url.path.rsplit("/", 1)[-1]))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

    def _post(self):
        if urlsplit(self.path).path != "/api/simulate":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
            return
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise UserInputError(f"request body must be <= {MAX_BODY} bytes (got {n})")
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
            view = view_from_query({k: str(v) for k, v in body.get("view", {}).items()})
            d, runs = body.get("d", 32), body.get("runs", 3)
        except (json.JSONDecodeError, AttributeError):
            raise UserInputError("request body must be a JSON object {view, d, runs}") from None
        job = self.server.jobs.start(view, d, runs)
        self._json(HTTPStatus.OK, {"job": job.id, "total": job.total})


class ExploreServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, store: Path | str = DEFAULT_PATH):
        self.plotly = plotly_js().read_bytes()
        self.jobs = Jobs(store)
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def server_close(self) -> None:
        self.jobs.stop_all()
        super().server_close()
