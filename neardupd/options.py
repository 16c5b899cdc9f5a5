"""What every command that reads an index shares: the ``--db`` option and finding the index it names."""

from __future__ import annotations

from pathlib import Path

import click

from neardupd.config import DATABASE_ENV, Config, default_database

db_option = click.option("--db", type=click.Path(dir_okay=False), envvar=DATABASE_ENV,
                         help=f"Index database [default: ${DATABASE_ENV} or {default_database()}].")


def with_database(ctx: click.Context, db: str | None) -> Config:
    """The command line's config, with ``--db`` as its database when given."""
    config: Config = ctx.obj["config"]
    return config.replace(database=Path(db)) if db else config


def indexed(ctx: click.Context, db: str | None) -> Config:
    """:func:`with_database`, its database as an absolute path (a journal's paths hold from anywhere),
    or a clear error when there is no index there yet."""
    config = with_database(ctx, db)
    config = config.replace(database=config.database.absolute())
    if not config.database.exists():
        raise click.ClickException(f"{config.database}: no index yet; run `neardupd scan FOLDER` first")
    return config
