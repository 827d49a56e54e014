"""Rich progress bars for long work, on stderr so tables on stdout stay clean."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench import distributed

console = Console(stderr=True)


@contextmanager
def bar(description: str, total: int) -> Iterator:
    """A progress bar; yields ``advance(n=1)``."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True, disable=not distributed.is_main(),
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


def track(items: Iterable, description: str, total: int | None = None) -> Iterator:
    items = list(items) if total is None else items
    with bar(description, total if total is not None else len(items)) as advance:
        for item in items:
            yield item
            advance()
