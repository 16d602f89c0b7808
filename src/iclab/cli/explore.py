"""``iclab explore``: the interactive page for the learning curves (see :mod:`iclab.explore`)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from iclab.cli.apps import app
from iclab.cli.options import store_option
from iclab.validation import UserInputError


@app.command("explore")
def explore(
    port: int = typer.Option(8765, min=0, max=65535, help="port on 127.0.0.1 (0: any free port)"),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="open the page in the default browser"),
    store: Path = store_option(help="results store for the page's simulations (cached across sessions)"),
) -> None:
    """Open an interactive page: e_ICL, e_IDG and g_task against τ, α or κ, live; Ctrl-C stops it."""
    from iclab.explore.server import ExploreServer

    try:
        server = ExploreServer(port, store)
    except OSError as e:
        raise UserInputError(f"port {port} cannot be used ({e.strerror}); choose another with --port, "
                             f"or --port 0 for any free one") from None
    print(f"iclab explore: serving {server.url} (Ctrl-C stops)", flush=True)
    if browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("\niclab explore: stopped", flush=True)
    finally:
        server.server_close()
