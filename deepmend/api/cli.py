"""``deepmend serve``: the HTTP API and the web app on one port (uvicorn)."""

from __future__ import annotations

from pathlib import Path

import click

from deepmend.errors import InputError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--static", "static_dir", type=click.Path(file_okay=False), default=None,
              help="Directory of the built web app (default: web/dist when built).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests whose Host is NAME (repeatable; 127.0.0.1, localhost and [::1] always). "
                   "Needed when clients reach the server by another name or address; '*' accepts any (not recommended).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--warmup/--no-warmup", default=True, show_default=True,
              help="Prepare the default scene (ground truth, default model, VoronoiBoost) in the background at start.")
def serve(host: str, port: int, static_dir: str | None, allow_hosts: tuple[str, ...], log_level: str, warmup: bool) -> None:
    """Serve the HTTP API (docs/API.md) and the web app.

    Stops within a few seconds on SIGTERM or Ctrl-C, with any worker processes
    (deepmend/api/lifecycle.py).
    """
    from deepmend.api import lifecycle
    from deepmend.api.app import create_app, find_static_dir
    from deepmend.api.security import env_list

    if static_dir is not None and not (Path(static_dir) / "index.html").is_file():
        raise InputError("no index.html in the web app directory (build it with 'npm run build' in web/)", file=static_dir)
    app = create_app(static_dir, allowed_hosts=[*allow_hosts, *env_list("DEEPMEND_ALLOWED_HOSTS")], warmup=warmup)
    where = find_static_dir(static_dir)
    click.echo(f"web app: {where if where else 'not built (API only; see / for how to build it)'}")
    click.echo(f"serving on http://{host}:{port}/  (API docs at /docs)")
    lifecycle.serve(app, host, port, log_level)
