"""`bench cache ...`: where the embedding cache is, what it holds, and clearing it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from bench import cache
from bench.cli.common import out, user_errors

app = typer.Typer(help="The embedding cache (audio features by weights, preprocessing and file content).", no_args_is_help=True)


def _size(n: float) -> str:
    unit = "B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            break
        n /= 1024
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"


@app.command("info")
def info() -> None:
    """Location, and per backbone: weight states x preprocessings, entries, size on disk."""
    with user_errors():
        rows = cache.info()
    out.print(f"location: {cache.root()}", highlight=False, soft_wrap=True)
    table = Table("backbone", "spaces", "entries", "size")
    for row in rows:
        table.add_row(row["backbone"], str(row["spaces"]), str(row["entries"]), _size(row["bytes"]))
    table.add_row("total", str(sum(r["spaces"] for r in rows)), str(sum(r["entries"] for r in rows)),
                  _size(sum(r["bytes"] for r in rows)), style="bold")
    out.print(table)
    for row in rows:
        for shard, reason in row["damaged"]:
            out.print(f"damaged: {shard} ({reason}); the next run that needs it recomputes it", highlight=False, soft_wrap=True)
    stale = sum(r["stale"] for r in rows)
    if stale:
        out.print(
            f"{stale} spaces were written by another pipeline version (not {cache.VERSION}) and are never read; "
            "`bench cache clear` frees them",
            highlight=False, soft_wrap=True,
        )


@app.command("clear")
def clear(
    backbone: Annotated[Optional[str], typer.Option(help="Only this backbone's features (default: everything).")] = None,
) -> None:
    """Delete cached features (they are recomputed on the next run that needs them)."""
    with user_errors():
        freed = cache.clear(backbone)
    what = f"{backbone}'s features" if backbone else "the whole cache"
    out.print(f"cleared {what} ({_size(freed)}) at {cache.root()}", highlight=False, soft_wrap=True)
