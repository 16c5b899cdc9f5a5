"""The ``neardupd`` command line: parse, call one function, print."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from neardupd import asking, health, report
from neardupd.analyse import Analyser
from neardupd.bench.commands import bench_group
from neardupd.config import Config, load_config
from neardupd.errors import ConfigError, NeardupError, StoreDamagedError
from neardupd.indexer import Indexer
from neardupd.options import db_option, indexed, with_database
from neardupd.review.act import act_command, undo_command
from neardupd.review.decide import decide_group
from neardupd.review.serve import serve_command
from neardupd.rules import compare
from neardupd.store import Store, display_path, open_store, path_fields

EXIT_USAGE = 64
EXIT_DATAERR = 65
EXIT_CONFIG = 78


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="neardupd")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, verbose: int, debug: bool) -> None:
    """Find exact duplicates, near-duplicates and modified copies in photo folders.

    \b
    Example:
        neardupd scan ~/Pictures
        neardupd dupes
    """
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # Pillow's and libraries' warnings as log lines, not raw stderr
    ctx.obj = {"config": load_config(config_file), "config_file": config_file, "debug": debug}


@main.command()
@db_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.pass_context
def scan(ctx: click.Context, db: str | None, paths: Sequence[str]) -> None:
    """Index the images under PATHS (incremental) and record their copies.

    \b
    Example:
        neardupd scan ~/Pictures /mnt/photos
    """
    config = with_database(ctx, db)
    with open_store(config.database) as store:
        indexer = _loaded_indexer(store, config)
        try:
            summary = report.scan_with_progress(indexer, paths, show=sys.stderr.isatty())
        finally:
            indexer.close()
        click.echo(report.scan_summary(summary, store.counts(), config.database))


@main.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per pair, one per line.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=None,
              help="Lowest score shown [default: the index's match threshold; with --kind similar alone, every "
                   "similar pair]; lower shows weaker candidates.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["exact", "pixel", "near", "modified", "similar"]),
              help="Only these kinds (repeatable; `similar`, other shots of one scene, only when asked).")
@click.option("--html", "html", type=click.Path(dir_okay=False, writable=True),
              help="Write the groups as one self-contained page (thumbnails inline) to this file.")
@click.pass_context
def dupes(ctx: click.Context, db: str | None, as_json: bool, min_score: float | None, kinds: tuple[str, ...],
          html: str | None) -> None:
    """List the copies found, as groups (or pairs with --json).

    \b
    Example:
        neardupd dupes --kind exact
        neardupd dupes --kind similar
        neardupd dupes --json --min-score 0.4 | jq .
        neardupd dupes --html copies.html
    """
    config = indexed(ctx, db)
    with open_store(config.database, readonly=True) as store:
        threshold = float(store.setting("match_threshold", str(config.match.threshold)) or 0)
        if min_score is None and set(kinds) == {"similar"}:  # scored under the threshold by design
            threshold = config.match.floor
        rows = store.pairs(threshold if min_score is None else min_score, kinds)
        if html:
            from neardupd.review.html_report import write_report  # Jinja2 only for this

            shown = write_report(store, rows, config, Path(html))
            click.echo(f"{shown} group(s) written to {html}")
            return
    if as_json:
        for row in rows:
            click.echo(json.dumps(report.pair_json(row), ensure_ascii=False))
    else:
        click.echo(report.groups_text(rows))


@main.command(name="compare")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="The pairs as JSON lines.")
@click.pass_context
def compare_command(ctx: click.Context, paths: Sequence[str], as_json: bool) -> None:
    """How alike images are: one score for two, an n x n matrix for more.

    \b
    Example:
        neardupd compare original.jpg copy.jpg
    """
    config: Config = ctx.obj["config"]
    if len(paths) < 2:
        raise click.UsageError("compare needs two or more images")
    with Analyser(config) as analyser:
        items = [analyser.analyse(os.fsencode(os.path.abspath(path))) for path in paths]
    results = {(i, j): compare(items[i], items[j], config) for i in range(len(items)) for j in range(i + 1, len(items))}
    if as_json:
        for (i, j), scored in results.items():
            click.echo(json.dumps({"a": paths[i], "b": paths[j], "score": round(scored.score, 4), "kind": scored.kind,
                                   "transform": scored.transform, **scored.details}, ensure_ascii=False))
    elif len(items) == 2:
        click.echo(report.pair_line(paths[0], paths[1], results[(0, 1)], config.match.threshold))
    else:
        click.echo(report.matrix_text(paths, {k: v.score for k, v in results.items()}))


@main.command()
@db_option
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=None, help="Lowest score shown.")
@click.option("--local", is_flag=True, help="Load the index here instead of asking the running daemon.")
@click.pass_context
def query(ctx: click.Context, db: str | None, image: str, as_json: bool, min_score: float | None,
          local: bool) -> None:
    """Do I already have IMAGE? Matches it against the index without adding it.

    IMAGE is decoded here; the daemon running on the index, when there is one, matches it against
    the index it holds (answering in well under a second); else the index is loaded here.

    \b
    Example:
        neardupd query ~/Downloads/IMG_1234.jpg
    """
    config = indexed(ctx, db)
    floor = config.match.threshold if min_score is None else min_score
    with Analyser(config) as analyser:
        item = analyser.analyse(os.fsencode(os.path.abspath(image)))
    found = None if local else asking.asked_matches(config.database, item)
    if found is None:
        with open_store(config.database) as store:
            indexer = _loaded_indexer(store, config)
            try:
                found = [(store.path_of(c.other), c) for c in indexer.matches_of(item) if c.other is not None]
            finally:
                indexer.close()
    rows = [(display_path(path), cand) for path, cand in found if cand.score >= floor]
    asked = display_path(item.path)  # as the index writes paths: absolute
    for path, cand in rows:
        if as_json:
            click.echo(json.dumps({"a": path, "b": asked, "score": round(cand.score, 4), "kind": cand.kind,
                                   "transform": cand.transform, **cand.details}, ensure_ascii=False))
        else:
            click.echo(report.pair_line(path, "this image", cand, floor))
    if not rows and not as_json:
        click.echo("no copy of this image is indexed")
    ctx.exit(0 if rows else 1)


def _loaded_indexer(store: Store, config: Config) -> Indexer:
    """An indexer over the store's pictures, saying on a terminal that a large index is loading."""
    said = report.loading_line(store.file_count()) if sys.stderr.isatty() else None
    if said:
        click.echo(said, err=True)
    return Indexer(store, config)


main.add_command(bench_group)
main.add_command(decide_group)
main.add_command(act_command)
main.add_command(undo_command)
main.add_command(serve_command)


@main.command(name="run")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file (reloaded on SIGHUP).")
@click.option("--root", "roots", multiple=True, type=click.Path(file_okay=False),
              help="A folder to watch, besides the config's daemon.roots (repeatable).")
@db_option
@click.pass_context
def run_command(ctx: click.Context, config_file: str | None, roots: tuple[str, ...], db: str | None) -> None:
    """Run the daemon in the foreground: watch folders, index what appears, record copies.

    \b
    Made for systemd (Type=notify; see systemd/neardupd.service). SIGTERM stops it
    after the files being decoded; SIGHUP reloads the config file.
    Example:
        neardupd run --root ~/Pictures
        neardupd run --config /etc/neardupd/neardupd.toml
    """
    config_file = config_file or ctx.obj["config_file"]
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a service logs what it does

    def load(path: str | os.PathLike | None) -> Config:
        loaded = load_config(path)
        extra = tuple(os.path.abspath(root) for root in roots)
        loaded = loaded.replace(daemon=dataclasses.replace(loaded.daemon, roots=loaded.daemon.roots + extra))
        return loaded.replace(database=Path(db)) if db else loaded

    from neardupd import daemon  # only here: the watcher, workers and scheduler are the daemon's alone

    ctx.exit(daemon.run(load(config_file), config_file, load))


@main.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="The same as one JSON object.")
@click.pass_context
def status(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """What is indexed, pending, quarantined and missing, and whether the daemon is alive.

    Exit status 0 when the daemon is running and healthy, 3 when it is not running.
    """
    config = with_database(ctx, db)
    if not config.database.exists():
        raise click.ClickException(f"{config.database}: no index yet; start `neardupd run` or `neardupd scan`")
    with open_store(config.database, readonly=True) as store:
        state = health.daemon_status(store)
    click.echo(json.dumps(state) if as_json else health.status_text(state, config.database))
    ctx.exit(0 if state["daemon"]["running"] else 3)


@main.command(name="errors")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.pass_context
def errors_command(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """List the files that could not be indexed: class and message (retried when they change).

    \b
    Example:
        neardupd errors
        neardupd errors --json | jq -r .path
    """
    config = with_database(ctx, db)
    with open_store(config.database, readonly=True) as store:
        rows = store.failures()
    for path, kind, message in rows:
        if as_json:
            click.echo(json.dumps({**path_fields("path", path), "kind": kind, "message": message}, ensure_ascii=False))
        else:
            click.echo(f"{kind:<13} {display_path(path)}: {message}")
    if not rows and not as_json:
        click.echo("every file found could be indexed")


main.add_command(errors_command, name="failed")  # its first name: scripts may use it


@main.command(name="check")
@db_option
@click.option("--sample", type=click.IntRange(0), default=20, show_default=True,
              help="Files re-read and re-hashed against their stored digests and signatures.")
@click.pass_context
def check_command(ctx: click.Context, db: str | None, sample: int) -> None:
    """Check the index: SQLite integrity, foreign keys, and a sample of files against the disk.

    Exit status 0 when all is well, 1 when something is wrong (each problem is printed).
    """
    config = with_database(ctx, db)
    if not config.database.exists():
        raise click.ClickException(f"{config.database}: no index yet")
    try:
        with open_store(config.database, readonly=True) as store:
            problems, notes = health.check(store, config, sample)
    except StoreDamagedError as err:  # so damaged that it does not even open
        problems, notes = [f"integrity: {err.reason}"], []
    for note in notes:
        click.echo(note)
    for problem in problems:
        click.echo(f"PROBLEM: {problem}")
    click.echo("ok" if not problems else f"{len(problems)} problem(s)")
    ctx.exit(1 if problems else 0)


def run(args: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and return an exit code; domain errors become one line."""
    try:
        code = main.main(args=args, prog_name="neardupd", standalone_mode=False)
    except click.exceptions.Exit as done:  # pragma: no cover - click returns it in non-standalone mode
        return int(done.exit_code)
    except click.ClickException as err:
        err.show()
        return EXIT_USAGE if isinstance(err, click.UsageError) else 1
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except NeardupError as err:
        if "--debug" in (args if args is not None else sys.argv):
            raise
        click.echo(f"neardupd: {err}", err=True)
        return EXIT_CONFIG if isinstance(err, ConfigError) else EXIT_DATAERR
    return code if isinstance(code, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
