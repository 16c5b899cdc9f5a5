"""``neardupd decide``: a person's decisions about copies, said once and kept.

``not-duplicate`` takes two or more indexed files and marks every pair among them, so a pair (or a
group) said not to be copies is never reported again, after rescans, moves and renames: decisions
are keyed on the files' content digests (see :mod:`neardupd.store.decisions`). ``keep`` and
``discard`` mark files for the clean-up; ``forget`` takes decisions back; ``list`` shows them.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence

import click

from neardupd.options import db_option, indexed
from neardupd.store import Store, display_path, open_store

WORDS = {"not_duplicate": "not a duplicate", "keep": "keep", "discard": "discard"}


def digests_of(store: Store, paths: Sequence[str]) -> list[bytes]:
    """The content digest of each indexed file, in order (a path not indexed is an error saying so)."""
    digests = []
    for path in paths:
        row = store.file_at(os.fsencode(os.path.abspath(path)))
        if row is None:
            raise click.ClickException(f"{path}: not in the index (run `neardupd scan` on its folder first, "
                                       "or check --db)")
        digests.append(row.file_digest)
    return digests


def pairs_among(digests: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """Every pair of different contents among ``digests`` (exact copies of one file are no pair)."""
    return [(a, b) for a, b in itertools.combinations(dict.fromkeys(digests), 2)]


def _store(ctx: click.Context, db: str | None) -> Store:
    return open_store(indexed(ctx, db).database)


@click.group(name="decide")
def decide_group() -> None:
    """Say once what you decided about copies: kept across rescans, moves and renames.

    \b
    Example:
        neardupd decide not-duplicate beach-2019.jpg beach-2021.jpg
        neardupd decide keep IMG_1234.jpg
        neardupd decide list
    """


@decide_group.command(name="not-duplicate")
@db_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def not_duplicate(ctx: click.Context, db: str | None, paths: Sequence[str]) -> None:
    """These files are not copies of each other (every pair among them): never report them again."""
    if len(paths) < 2:
        raise click.UsageError("not-duplicate needs two or more files")
    with _store(ctx, db) as store:
        pairs = pairs_among(digests_of(store, paths))
        with store.transaction():
            for first, second in pairs:
                store.decide_pair("not_duplicate", first, second)
    click.echo(f"{len(pairs)} pair(s) marked not a duplicate: not reported again")


def _file_command(decision: str) -> click.Command:
    @db_option
    @click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.pass_context
    def command(ctx: click.Context, db: str | None, paths: Sequence[str]) -> None:
        with _store(ctx, db) as store:
            digests = digests_of(store, paths)
            with store.transaction():
                for digest in digests:
                    store.decide_file(decision, digest)
        click.echo(f"{len(digests)} file(s) marked {decision}")

    command.__doc__ = f"Mark files to {decision} in the clean-up (by content: a moved file keeps its mark)."
    return click.command(name=decision)(command)


decide_group.add_command(_file_command("keep"))
decide_group.add_command(_file_command("discard"))


@decide_group.command(name="forget")
@db_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def forget(ctx: click.Context, db: str | None, paths: Sequence[str]) -> None:
    """Take decisions back: one file's keep/discard, or the not-a-duplicate of every pair among several."""
    with _store(ctx, db) as store:
        digests = digests_of(store, paths)
        with store.transaction():
            if len(digests) == 1:
                taken = int(store.forget_decision(digests[0]))
            else:
                taken = sum(store.forget_decision(first, second) for first, second in pairs_among(digests))
    click.echo(f"{taken} decision(s) taken back")


@decide_group.command(name="list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per decision.")
@click.pass_context
def list_decisions(ctx: click.Context, db: str | None, as_json: bool) -> None:
    """Every decision, with the paths its files have now."""
    with _store(ctx, db) as store:
        decisions = store.decisions()
        where = store.paths_with_digest([d.digest for d in decisions] + [d.other for d in decisions if d.other])
    for decision in decisions:
        files = [[display_path(path) for path in where[digest]] for digest in (decision.digest, decision.other)
                 if digest]
        if as_json:
            click.echo(json.dumps({"decision": decision.decision, "digests": [d.hex() for d in
                                   (decision.digest, decision.other) if d], "paths": files,
                                   "decided_at": decision.decided_at}, ensure_ascii=False))
        else:
            shown = " | ".join(", ".join(paths) or "(no indexed file now)" for paths in files)
            click.echo(f"{WORDS[decision.decision]:<16} {shown}")
    if not decisions and not as_json:
        click.echo("no decisions yet")
