"""``neardupd serve``: the review page over the index (Starlette, Jinja2 templates, no JavaScript build).

Groups of copies sorted by the space they would free (or by score, kind, folder), paged; each pair side
by side at one scale, the second aligned onto the first by the stored transform, a slider between them,
a heat map of where they differ with the changed region boxed, the explanation in words and the files'
facts; and the decisions (not a duplicate, keep, discard) written to the index.

Files are named by their row id, never by a path: only indexed files are ever served, and no URL can
reach another file. Photos are only read; thumbnails go to the cache folder. Each request opens the index
for itself, so the page works while the daemon writes.
"""

from __future__ import annotations

import datetime
import itertools
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from neardupd.config import Config
from neardupd.decode import read_metadata
from neardupd.review import views
from neardupd.review.explanation import original_side, phrase
from neardupd.review.plan import GroupPlan, plan
from neardupd.store import FileFacts, PairRow, Store, display_path, open_store

PER_PAGE = 20
FRESH = 60.0
"""Seconds a made plan is used while the index looks unchanged (a moved file changes no count)."""
SORTS = ("space", "score", "kind", "folder")
VIEW = views.VIEW_SIDE
THUMB_SIDES = (160, VIEW)


@dataclass
class _Cache:
    """The groups' plans, made again only when the index changed (pairs, files or decisions)."""

    key: tuple = ()
    plans: list[GroupPlan] | None = None
    made: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def create_app(database: Path, config: Config, cache_folder: Path) -> Starlette:
    templates = Environment(loader=PackageLoader("neardupd.review", "templates"),
                            autoescape=select_autoescape(["html"]))
    templates.filters["name"] = lambda path: os.path.basename(display_path(path))
    templates.filters["mb"] = lambda count: f"{count / 1e6:.1f} MB"
    plans = _Cache()

    def store(readonly: bool = True) -> Store:
        return open_store(database, readonly=readonly)

    def current_plans(index: Store) -> list[GroupPlan]:
        key = index.review_state()
        with plans.lock:
            if plans.plans is None or plans.key != key or time.monotonic() - plans.made > FRESH:
                threshold = float(index.setting("match_threshold", str(config.match.threshold)) or 0)
                plans.plans, plans.key = plan(index, index.pairs(threshold), config), key
                plans.made = time.monotonic()
            return plans.plans

    async def groups(request: Request) -> HTMLResponse:
        sort = request.query_params.get("sort", "space")
        if sort not in SORTS:
            raise HTTPException(400, f"sort by one of {', '.join(SORTS)}")
        page = max(1, _int(request.query_params.get("page", "1")))
        with store() as index:
            ordered = _sorted(current_plans(index), sort)
            shown = ordered[(page - 1) * PER_PAGE:page * PER_PAGE]
            ids = index.file_ids([path for g in shown for path in g.paths])
        partners = {m.path: _other(g.shown_with(m.path), m.path) for g in shown for m in g.moved}
        words = {m.path: g.words_for(m.path) for g in shown for m in g.moved}
        body = templates.get_template("groups.html").render(
            groups=shown, ids=ids, partners=partners, words=words, here=f"/?sort={sort}&page={page}",
            sort=sort, sorts=SORTS, page=page, pages=max(1, -(-len(ordered) // PER_PAGE)),
            total=len(ordered), freed=sum(g.freed for g in ordered), first=(page - 1) * PER_PAGE)
        return HTMLResponse(body)

    def _pair(first: int, second: int) -> tuple[list[FileFacts], PairRow, dict]:
        """Both files of a pair and its details (from the stored a to b), or 404."""
        with store() as index:
            files = [_file(index, first), _file(index, second)]
            row = index.pair_of(first, second)
        if row is None:
            raise HTTPException(404, "these two files are no pair in the index")
        return files, row, row.explained

    async def pair(request: Request) -> HTMLResponse:
        first, second = request.path_params["a"], request.path_params["b"]
        if first > second:  # one page per pair: the details run from the lower id (stored a) to the other
            return RedirectResponse(f"/pair/{second}/{first}", status_code=308)
        files, row, details = _pair(first, second)
        facts = [_facts(file_id, found) for file_id, found in ((first, files[0]), (second, files[1]))]
        body = templates.get_template("pair.html").render(
            a=first, b=second, facts=facts, score=row.score, kind=row.kind, words=phrase(details),
            original="A" if original_side(details) == "a" else "B", region=details.get("differing_region"),
            back=request.headers.get("referer", "/"))
        return HTMLResponse(body)

    async def thumb(request: Request) -> Response:
        file_id, side = request.path_params["file_id"], request.path_params["side"]
        if side not in THUMB_SIDES:
            raise HTTPException(404, f"thumbnails are {THUMB_SIDES} pixels")
        with store() as index:
            found = _file(index, file_id)
        path, name = found.path, f"{found.file_digest.hex()}-{side}.jpg"
        data = views.cached(cache_folder, name) or views.cached(cache_folder, name, views.jpeg(_read(path, side)))
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    async def aligned(request: Request) -> Response:
        return _pair_image(request, heat=False)

    async def heat(request: Request) -> Response:
        return _pair_image(request, heat=True)

    def _pair_image(request: Request, *, heat: bool) -> Response:
        first, second = request.path_params["a"], request.path_params["b"]
        if first > second:
            raise HTTPException(404, "a pair's pictures are named lower id first")
        files, _, details = _pair(first, second)
        name = f"{files[0].file_digest.hex()}-{files[1].file_digest.hex()}-{'heat' if heat else 'aligned'}.jpg"
        data = views.cached(cache_folder, name)
        if data is None:
            a, b = _read(files[0].path, VIEW), _read(files[1].path, VIEW)
            shown = views.aligned(a, b, details)
            data = views.cached(cache_folder, name, views.jpeg(views.heat_map(a, shown, details.get(
                "differing_region")) if heat else shown))
        return Response(data, media_type="image/jpeg")

    async def decide(request: Request) -> Response:
        # the page's forms are url-encoded: parsed here (Starlette's form parser needs python-multipart)
        form = {key: values[0] for key, values in urllib.parse.parse_qs((await request.body()).decode()).items()}
        decision = str(form.get("decision", ""))
        ids = [_int(text) for text in str(form.get("ids", "")).split(",") if text] \
            or [_int(str(form.get(name, ""))) for name in ("a", "b") if form.get(name)]
        with store(readonly=False) as index:
            digests = [_file(index, file_id).file_digest for file_id in ids]
            with index.transaction():
                distinct = sorted(set(digests))  # exact copies share a digest: no pair with themselves
                if decision == "not_duplicate" and len(distinct) >= 2:  # a pair, or every pair of a group
                    for first, second in itertools.combinations(distinct, 2):
                        index.decide_pair(decision, first, second)
                elif decision in ("keep", "discard") and len(digests) == 1:
                    index.decide_file(decision, digests[0])
                else:
                    raise HTTPException(400, "decide not_duplicate (two or more different files) or keep / discard "
                                        "(one file)")
        back = str(form.get("back", "/"))
        return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", status_code=303)

    routes = [Route("/", groups), Route("/pair/{a:int}/{b:int}", pair),
              Route("/thumb/{file_id:int}/{side:int}.jpg", thumb), Route("/aligned/{a:int}/{b:int}", aligned),
              Route("/heat/{a:int}/{b:int}", heat), Route("/decide", decide, methods=["POST"])]
    return Starlette(routes=routes)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError as err:
        raise HTTPException(400, f"not a number: {text!r}") from err


def _file(index: Store, file_id: int) -> FileFacts:
    found = index.file_by_id(file_id)
    if found is None:
        raise HTTPException(404, "no such file in the index")
    return found


def _read(path: bytes, side: int):
    try:
        return views.upright_rgb(path, side)
    except (OSError, ValueError) as err:
        raise HTTPException(404, f"{display_path(path)} cannot be read now ({err})") from err


def _facts(file_id: int, found: FileFacts) -> dict:
    known = found.metadata or read_metadata(found.path)
    shown = display_path(found.path)
    return {"id": file_id, "path": shown, "name": os.path.basename(shown), "size": found.size,
            "width": found.width, "height": found.height, "format": found.format, "tags": known.tags,
            "quality": known.quality if known.quality is not None else "-",
            "captured": _when(known.captured), "modified": _when(found.mtime_ns / 1e9)}


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M")


def _sorted(plans: list[GroupPlan], sort: str) -> list[GroupPlan]:
    if sort == "score":
        return sorted(plans, key=lambda g: -max(row.score for row in g.pairs))
    if sort == "kind":
        return sorted(plans, key=lambda g: (min(row.kind for row in g.pairs), -g.freed))
    if sort == "folder":
        return sorted(plans, key=lambda g: os.path.dirname(g.choice.keeper.path))
    return plans  # by space freed, as planned



def _other(row, path: bytes) -> bytes:
    return row.b if row.a == path else row.a
