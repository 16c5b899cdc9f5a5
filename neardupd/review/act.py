"""``neardupd act``: the clean-up of the copies found. ``--plan`` says, for each group, the file kept,
the rule that chose it, and the files that would go to the quarantine, the groups that free the
most space first; nothing is moved. ``--apply`` moves them there (see :mod:`neardupd.review.quarantine`:
journal first, a file changed since it was indexed refused) and takes them out of the index;
``neardupd undo`` puts them back.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import click

from neardupd.config import Config
from neardupd.options import db_option, indexed
from neardupd.review.plan import GroupPlan, plan
from neardupd.review.quarantine import Journal, Move, Refused, check_unchanged, move, quarantine_path, undo
from neardupd.store import Store, display_path, open_store, path_fields


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def plan_json(group: GroupPlan) -> dict:
    keeper = group.choice.keeper
    return {**path_fields("keep", keeper.path), "rule": group.choice.rule,
            "move": [display_path(member.path) for member in group.moved],
            "move_b64": [base64.b64encode(member.path).decode("ascii") for member in group.moved],
            "changes": [group.words_for(member.path) for member in group.moved],
            "bytes_freed": group.freed}


def plan_text(plans: list[GroupPlan]) -> str:
    if not plans:
        return "no copies to clean up"
    lines = []
    for number, group in enumerate(plans, start=1):
        lines.append(f"group {number}: keep {display_path(group.choice.keeper.path)}  (chosen by {group.choice.rule})")
        lines += [f"  move to quarantine  {display_path(member.path)}  ({group.words_for(member.path)})"
                  for member in group.moved]
    moved = sum(len(group.moved) for group in plans)
    lines.append(f"{moved} file(s) would go to the quarantine, freeing {_megabytes(sum(g.freed for g in plans))}; "
                 "nothing was moved")
    return "\n".join(lines)


def quarantine_folder(config: Config, database: Path) -> Path:
    return config.keep.quarantine if config.keep.quarantine != Path() else database.parent / "quarantine"


def journal_folder(database: Path) -> Path:
    return database.parent / "journal"


@click.command(name="act")
@db_option
@click.option("--plan", "planned", is_flag=True, help="Say what the clean-up would do (nothing moves).")
@click.option("--apply", "applied", is_flag=True, help="Move the copies into the quarantine (undo: `neardupd undo`).")
@click.option("--link-exact", is_flag=True,
              help="With --apply: an exact duplicate's path gets a hard link to the kept file (same bytes, no space).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group (with --plan).")
@click.pass_context
def act_command(ctx: click.Context, db: str | None, planned: bool, applied: bool, link_exact: bool,
                as_json: bool) -> None:
    """Clean up the copies: which file of each group is kept (and by which rule), which go.

    \b
    Example:
        neardupd act --plan
        neardupd act --apply        # the copies to the quarantine; `neardupd undo` puts them back
    """
    if planned == applied:
        raise click.UsageError("say --plan (what would happen) or --apply (do it)")
    config = indexed(ctx, db)
    database = config.database
    with open_store(database, readonly=planned) as store:
        threshold = float(store.setting("match_threshold", str(config.match.threshold)) or 0)
        plans = plan(store, store.pairs(threshold), config)
        if applied:
            moved, refused = _apply(store, plans, quarantine_folder(config, database), journal_folder(database),
                                    link_exact=link_exact)
    if planned and as_json:
        for group in plans:
            click.echo(json.dumps(plan_json(group), ensure_ascii=False))
    elif planned:
        click.echo(plan_text(plans))
    else:
        for reason in refused:
            click.echo(f"refused: {reason}", err=True)
        click.echo(f"{moved} file(s) moved to {quarantine_folder(config, database)}; `neardupd undo` puts them back")
        ctx.exit(1 if refused else 0)


def _apply(store: Store, plans: list[GroupPlan], quarantine: Path, journals: Path, *,
           link_exact: bool = False) -> tuple[int, list[str]]:
    """Journal every move first, then move the files still as indexed and forget them in the index."""
    moves = []
    for group in plans:
        kept = store.file_at(group.choice.keeper.path)
        for member in group.moved:
            row = store.file_at(member.path)
            if row is None:
                continue
            exact = link_exact and kept is not None and kept.file_digest == row.file_digest
            moves.append((row.id, Move(row.path, quarantine_path(quarantine, row.path), row.file_digest,
                                       row.size, row.mtime_ns, kept.path if exact and kept else None)))
    journal = Journal.start(journals, Path(store.path))
    for _, item in moves:
        journal.announce(item)
    done, refused = 0, []
    for file_id, item in moves:
        try:
            check_unchanged(item)
            move(item)
        except (Refused, OSError) as err:
            refused.append(str(err))
            continue
        journal.done(item)
        with store.transaction():
            store.remove_file(file_id)
        done += 1
    journal.write({"op": "finished"})
    return done, refused


@click.command(name="undo")
@db_option
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, exists=True),
              help="The journal of the apply to undo [default: the latest].")
@click.pass_context
def undo_command(ctx: click.Context, db: str | None, journal_path: str | None) -> None:
    """Put back every file the last `neardupd act --apply` moved (even one that was interrupted)."""
    database = indexed(ctx, db).database
    journal = Journal(Path(journal_path)) if journal_path else Journal.latest(journal_folder(database))
    if journal is None:
        raise click.ClickException(f"no journal in {journal_folder(database)}: nothing was applied")
    restored, problems = undo(journal)
    for problem in problems:
        click.echo(f"not put back: {problem}", err=True)
    click.echo(f"{restored} file(s) put back at their paths; `neardupd scan` (or the daemon) indexes them again")
    ctx.exit(1 if problems else 0)
