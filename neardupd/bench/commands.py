"""The ``neardupd bench`` commands: ``run`` scores a labelled folder, ``make`` writes one.

Registered on the main command line by :mod:`neardupd.cli`; the bench modules themselves (the edit
suite, the baselines and imagehash) are imported only when a bench command runs.
"""

from __future__ import annotations

import json
import os

import click

from neardupd.config import Config


class BenchGroup(click.Group):
    """``bench`` with subcommands, where a first word that is none of them is the folder of ``run``:
    ``neardupd bench BENCH_DIR`` predates the subcommands, and the README and scripts use it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


class MakeDefault:
    """A default of ``bench make``, read from MakeSettings only when used or shown by --help, so
    that loading the CLI does not import the bench package (the edit suite, imagehash)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self) -> object:
        from neardupd.bench.make import MakeSettings

        return getattr(MakeSettings, self.name)

    def __str__(self) -> str:
        return str(self())


@click.group(name="bench", cls=BenchGroup, subcommand_metavar="COMMAND [ARGS]... | BENCH_DIR [OPTIONS]")
def bench_group() -> None:
    """Measure copy finding on a labelled folder, or make one from your photos.

    \b
    A labelled folder holds images/ and truth.json, which says what is a copy
    of what: `bench make` writes one, `bench run` scores neardupd on it.
    `neardupd bench BENCH_DIR` is short for `neardupd bench run BENCH_DIR`.

    \b
    Example:
        neardupd bench make ~/Pictures/2019 /tmp/mybench --limit 300
        neardupd bench run /tmp/mybench
    """


@bench_group.command(name="run")
@click.argument("bench_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
@click.option("--no-baselines", is_flag=True, help="Score neardupd only (the baselines take a while).")
@click.option("--keep-db", type=click.Path(dir_okay=False), help="Index into this new file and keep it.")
@click.pass_context
def bench_run(ctx: click.Context, bench_dir: str, as_json: bool, no_baselines: bool, keep_db: str | None) -> None:
    """Score neardupd on a labelled folder, next to three baselines.

    \b
    Indexes BENCH_DIR/images with the current settings into a fresh database
    and scores the copies found against BENCH_DIR/truth.json: strict and ref
    R@P99, average precision, recall per transform, candidate recall. The
    baselines, on every pair: imagehash pHash, 50x50 black/white pixels, and
    blur + matchTemplate.

    \b
    Example:
        neardupd bench run ../shared/bench-dev
        neardupd bench run /tmp/mybench --json --no-baselines | jq .finders
    """
    from neardupd.bench import baselines
    from neardupd.bench.run import run_bench
    from neardupd.bench.text import bench_text
    from neardupd.report import progress_bar

    config: Config = ctx.obj["config"]
    folder = os.path.join(bench_dir, "images")
    images = sum(1 for entry in os.scandir(folder) if entry.is_file()) if os.path.isdir(folder) else 0
    if not no_baselines:
        click.echo("indexing with neardupd, then scoring the baselines on every pair (they take a while; "
                   "--no-baselines skips them)", err=True)
    with progress_bar(images, "indexing") as step:
        result = run_bench(bench_dir, config, baseline_names=() if no_baselines else baselines.BASELINES,
                           keep_database=keep_db, progress=step)
    click.echo(json.dumps(result.as_json()) if as_json else bench_text(result))


@bench_group.command(name="make")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--copies", type=click.IntRange(1, 10), default=MakeDefault("copies"), show_default=True,
              help="Modified copies per original (ignored with --frames).")
@click.option("--distractors", type=click.FloatRange(0, 0.9), default=MakeDefault("distractors"), show_default=True,
              help="Share of the photos kept without copies.")
@click.option("--limit", type=click.IntRange(0), default=0, help="Use at most this many photos (0: all).")
@click.option("--max-side", type=click.IntRange(64), default=MakeDefault("max_side"), show_default=True,
              help="Longest side of the stored originals, in pixels.")
@click.option("--seed", type=int, default=MakeDefault("seed"), show_default=True, help="Random seed.")
@click.option("--frames", is_flag=True,
              help="Put every original into the same four frames (a phone screenshot, a meme bar, a card border, "
                   "a big watermark) instead of editing it: pairs of two different photos in one frame are "
                   "negatives, so strict precision against shared frames is measured. --copies is ignored.")
def bench_make(src: str, out: str, copies: int, distractors: float, limit: int, max_side: int, seed: int,
               frames: bool) -> None:
    """Make a labelled folder OUT from the photos under SRC (only read).

    \b
    A few photos are set aside to be pasted on as logos; of the others, most
    become originals with modified copies (neardupd's own edit suite: mild,
    geometric and overlay edits, and chains of them), the rest distractors
    without copies. Files get random names; OUT/truth.json says which is which.
    SRC should hold each photo once. With --frames, every original is put
    into the same four frames instead (no photos set aside).

    \b
    Examples:
        neardupd bench make ~/Pictures/2019 /tmp/mybench --limit 300 --seed 1
        neardupd bench make ~/Pictures/2019 /tmp/myframes --frames --limit 200
    """
    from neardupd.bench.make import MakeSettings, make_bench

    settings = MakeSettings(copies=copies, distractors=distractors, seed=seed, max_side=max_side, limit=limit)
    if frames:
        from neardupd.bench.frames import make_frames

        made = make_frames(src, out, settings)
        click.echo(f"{made.folder}: {made.originals} originals, {made.copies} framed copies (4 frames each), "
                   f"{made.distractors} distractors ({made.skipped} unreadable); "
                   f"measure with `neardupd bench run {made.folder}`")
        return
    made = make_bench(src, out, settings)
    click.echo(f"{made.folder}: {made.originals} originals, {made.copies} copies, {made.distractors} "
               f"distractors ({made.donors} set aside for pasting, {made.skipped} unreadable); "
               f"measure with `neardupd bench run {made.folder}`")
