"""``neardupd serve``: run the review page (:mod:`neardupd.review.server`) with uvicorn, on the loopback
address unless told otherwise with ``--public``."""

from __future__ import annotations

import ipaddress

import click

from neardupd.options import db_option, indexed


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(name="serve")
@db_option
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--public", is_flag=True, help="Allow an address other than this machine's own (no login!).")
@click.pass_context
def serve_command(ctx: click.Context, db: str | None, port: int, host: str, public: bool) -> None:
    """The review page: groups of copies, each pair side by side, decisions. Read-only on the photos.

    \b
    Example:
        neardupd serve            # then open http://127.0.0.1:8765/
    """
    if not is_loopback(host) and not public:
        raise click.UsageError(f"--host {host} would show your photos to the network, without a login; "
                               "add --public if you mean it")
    config = indexed(ctx, db)
    database = config.database
    import uvicorn

    from neardupd.review.server import create_app

    if not is_loopback(host):
        click.echo(f"WARNING: serving {database} to the network on {host}:{port} WITHOUT ANY LOGIN: anyone who "
                   "can reach it sees your photos and can mark them for deletion", err=True)
    app = create_app(database, config, database.parent / "thumbs")
    click.echo(f"review page: http://{host}:{port}/  (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
