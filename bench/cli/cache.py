"""`bench cache ...`: where the embedding cache is, what it holds, and clearing it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bench.cli.common import out, user_errors
from bench.data import conditions
from bench.features import cache

app = typer.Typer(
    help="The cache: audio features (by weights, preprocessing and file content) and clips rendered under acoustic conditions.",
    no_args_is_help=True,
)


def _size(n: float) -> str:
    unit = "B"
    for unit in ("B", "KiB", "MiB", "GiB"):  # noqa: B007 (the unit reached is used after the loop)
        if n < 1024:
            break
        n /= 1024
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"


@app.command("info")
def info() -> None:
    """Location; per backbone: weight states x preprocessings, entries, size on disk; per acoustic
    condition: the clips rendered."""
    with user_errors():
        rows = cache.info()
        conditioned = conditions.rendered()
    out.print(f"location: {cache.root()}", highlight=False, soft_wrap=True)
    table = Table("backbone", "spaces", "entries", "size")
    for row in rows:
        table.add_row(row["backbone"], str(row["spaces"]), str(row["entries"]), _size(row["bytes"]))
    table.add_row(
        "total",
        str(sum(r["spaces"] for r in rows)),
        str(sum(r["entries"] for r in rows)),
        _size(sum(r["bytes"] for r in rows)),
        style="bold",
    )
    out.print(table)
    if conditioned:
        rendered = Table("condition", "clips", "size", title=f"rendered conditions ({conditions.rendered_root()})")
        for row in conditioned:
            rendered.add_row(row["condition"], str(row["clips"]), _size(row["bytes"]))
        out.print(rendered)
    for row in rows:
        for shard, reason in row["damaged"]:
            out.print(
                f"damaged: {shard} ({reason}); the next run that needs it recomputes it",
                highlight=False,
                soft_wrap=True,
            )
    stale = sum(r["stale"] for r in rows)
    if stale:
        out.print(
            f"{stale} spaces were written by another pipeline version (not {cache.VERSION}) and are never read; "
            "`bench cache clear` frees them",
            highlight=False,
            soft_wrap=True,
        )


@app.command("clear")
def clear(
    backbone: Annotated[str | None, typer.Option(help="Only this backbone's features (default: everything).")] = None,
    rendered: Annotated[
        bool, typer.Option("--conditions", help="Only the clips rendered under acoustic conditions.")
    ] = False,
) -> None:
    """Delete cached features and rendered clips (recomputed, identically, by the next run that needs them)."""
    if backbone and rendered:
        raise typer.BadParameter("give --backbone or --conditions, not both")
    with user_errors():
        if rendered:
            freed, what, where = conditions.clear_rendered(), "the rendered conditions", conditions.rendered_root()
        elif backbone:
            freed, what, where = cache.clear(backbone), f"{backbone}'s features", cache.root()
        else:
            freed, what, where = cache.clear() + conditions.clear_rendered(), "the whole cache", cache.root().parent
    out.print(f"cleared {what} ({_size(freed)}) at {where}", highlight=False, soft_wrap=True)
