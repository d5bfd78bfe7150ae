"""``aggregator serve``: the reader's web app and JSON API on the same database (#15)."""

from __future__ import annotations

import socket

import click

from aggregator.cli._base import Context, fail, note, pass_ctx


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so that a port in use is one clear line, not a traceback
    from inside the server (and so port 0 can pick a free port that we can print)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option(
    "--token",
    envvar="AGGREGATOR_WEB_TOKEN",
    metavar="TOKEN",
    help="Allow changes (add/remove sources, start crawls) to whoever gives this token; without "
    "it the app is read-only. Prefer AGGREGATOR_WEB_TOKEN: a command line is visible to all users.",
)
@pass_ctx
def serve(ctx: Context, host: str, port: int, token: str | None) -> None:
    """Serve the web app (search, articles, stories, sources, tags, feeds) and the JSON API.

    Pages work without JavaScript; the API is described at /api/openapi.json. Ctrl-C stops it.
    """
    try:
        import uvicorn

        from aggregator.web import WebSettings, make_app
    except ImportError as exc:
        fail(f"the web app needs its extra: pip install 'industry-news-aggregator[web]' ({exc})")
    if token is not None and len(token) < 8:
        raise click.BadParameter("use a token of at least 8 characters", param_hint="--token")
    app = make_app(WebSettings(ctx.db_url, token=token or None, search_index=ctx.search_index))
    sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    mode = "changes allowed with the token" if token else "read-only"
    note(f"serving {ctx.db_url} at http://{shown}:{bound_port}/ ({mode}); Ctrl-C stops")
    config = uvicorn.Config(
        app,
        log_level="debug" if ctx.debug else ("info" if ctx.verbose else "warning"),
        access_log=ctx.verbose,
        server_header=False,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
