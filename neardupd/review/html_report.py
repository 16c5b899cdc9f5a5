"""``neardupd dupes --html OUT.html``: the groups as one self-contained page (thumbnails inline), for
people without a server: the file kept and the rule that chose it, each copy with what was done to
the original to make it. Photos are only read (regular files only); a file that cannot be read now
shows without its thumbnail.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from neardupd.config import Config
from neardupd.review import views
from neardupd.review.plan import GroupPlan, plan
from neardupd.store import PairRow, Store, display_path

THUMB = 160


def write_report(store: Store, rows: list[PairRow], config: Config, out: Path) -> int:
    """Write the page; return how many groups it shows."""
    plans = plan(store, rows, config)
    templates = Environment(loader=PackageLoader("neardupd.review", "templates"),
                            autoescape=select_autoescape(["html"]))
    thumbs: dict[bytes, str] = {}
    groups = [_group(group, thumbs) for group in plans]
    html = templates.get_template("report.html").render(groups=groups, freed=sum(g.freed for g in plans))
    partial = out.with_name(f".{out.name}.part")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)
    return len(groups)


def _group(group: GroupPlan, thumbs: dict[bytes, str]) -> dict:
    keeper = group.choice.keeper
    copies = []
    for member in group.moved:
        row = group.shown_with(member.path)
        other = row.b if row.a == member.path else row.a
        via = "" if other == keeper.path else f"from {os.path.basename(display_path(other))}: "
        copies.append({"path": display_path(member.path), "thumb": _thumb(member.path, thumbs),
                       "score": row.score, "kind": row.kind, "words": via + group.words_for(member.path),
                       "size": member.size})
    return {"keep": display_path(keeper.path), "thumb": _thumb(keeper.path, thumbs), "rule": group.choice.rule,
            "freed": group.freed, "copies": copies}


def _thumb(path: bytes, thumbs: dict[bytes, str]) -> str:
    """A data URI of the file's thumbnail ("" if it cannot be read now)."""
    if path not in thumbs:
        try:
            thumbs[path] = "data:image/jpeg;base64," + base64.b64encode(
                views.jpeg(views.upright_rgb(path, THUMB), quality=75)).decode("ascii")
        except (OSError, ValueError):
            thumbs[path] = ""
    return thumbs[path]
