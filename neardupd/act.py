"""``neardupd act``: the clean-up of the copies found. ``--plan`` says, for each group, the file kept,
the rule that chose it, and the files that would go to the quarantine, the groups that free the
most space first. Nothing is moved by ``--plan``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from neardupd.config import DATABASE_ENV, Config
from neardupd.plan import GroupPlan, plan
from neardupd.store import display_path, open_store


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def plan_json(group: GroupPlan) -> dict:
    keeper = group.choice.keeper
    return {"keep": display_path(keeper.path), "rule": group.choice.rule,
            "move": [display_path(member.path) for member in group.moved], "bytes_freed": group.freed}


def plan_text(plans: list[GroupPlan]) -> str:
    if not plans:
        return "no copies to clean up"
    lines = []
    for number, group in enumerate(plans, start=1):
        lines.append(f"group {number}: keep {display_path(group.choice.keeper.path)}  (chosen by {group.choice.rule})")
        lines += [f"  move to quarantine  {display_path(member.path)}" for member in group.moved]
    moved = sum(len(group.moved) for group in plans)
    lines.append(f"{moved} file(s) would go to the quarantine, freeing {_megabytes(sum(g.freed for g in plans))}; "
                 "nothing was moved")
    return "\n".join(lines)


@click.command(name="act")
@click.option("--db", type=click.Path(dir_okay=False), envvar=DATABASE_ENV, help="Index database.")
@click.option("--plan", "planned", is_flag=True, required=True, help="Say what the clean-up would do (nothing moves).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group.")
@click.pass_context
def act_command(ctx: click.Context, db: str | None, planned: bool, as_json: bool) -> None:
    """Clean up the copies: which file of each group is kept (and by which rule), which would go.

    \b
    Example:
        neardupd act --plan
        neardupd act --plan --json | jq .
    """
    config: Config = ctx.obj["config"]
    database = Path(db) if db else config.database
    if not database.exists():
        raise click.ClickException(f"{database}: no index yet; run `neardupd scan FOLDER` first")
    with open_store(database, readonly=True) as store:
        threshold = float(store.setting("match_threshold", str(config.match.threshold)) or 0)
        plans = plan(store, store.pairs(threshold), config)
    if as_json:
        for group in plans:
            click.echo(json.dumps(plan_json(group), ensure_ascii=False))
    else:
        click.echo(plan_text(plans))
