"""Progress of long work: a Rich bar on a terminal (stderr, so tables on stdout stay clean),
and plain lines at a bounded rate where output goes to a file, so a batch job's log is never
silent for minutes.

``BENCH_PROGRESS_SECONDS`` (default 30) is the least time between two such lines. The clock
is shared by every stage and by the run's count of units, so a run made of many short stages
still writes a line once that time has passed.

Stages report through a :data:`Progress` (``progress(description, total, unit)``, a context
manager yielding ``advance(n=1)``; :func:`bar` in the CLI, :func:`silent` by default), so no
stage imports a console.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

from bench.runtime import distributed
from bench.runtime.environment import environment

console = Console(stderr=True)
Progress = Callable[[str, int, str], AbstractContextManager[Callable[..., None]]]


def line_interval() -> float:
    """``BENCH_PROGRESS_SECONDS``: the least time between two lines (:mod:`bench.runtime.environment`)."""
    return environment().progress_seconds


def _log_stream() -> TextIO | None:
    """Where progress lines go: stdout when it is not a terminal, else stderr when that is not."""
    return next((s for s in (sys.stdout, sys.stderr) if not s.isatty()), None)


class _Lines:
    """``stage: done/total unit, elapsed, estimate left``, once ``interval`` has passed since the
    last line of any stage."""

    last_line: float | None = None  # when any stage last wrote a line (or the first one began)

    def __init__(self, description: str, total: int, unit: str, stream: TextIO, interval: float) -> None:
        self.description, self.total, self.unit, self.stream, self.interval = description, total, unit, stream, interval
        self.started = time.monotonic()
        if _Lines.last_line is None:
            _Lines.last_line = self.started
        self.done, self.printed = 0, False

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - _Lines.last_line >= self.interval and self.done < self.total:
            elapsed = now - self.started
            left = elapsed / self.done * (self.total - self.done) if self.done else None
            self._print(elapsed, f"~{_clock(left)} left" if left is not None else "estimating")
            _Lines.last_line = now

    def finish(self) -> None:
        if self.printed:
            self._print(time.monotonic() - self.started, "done")

    def _print(self, elapsed: float, estimate: str) -> None:
        unit = f" {self.unit}" if self.unit else ""
        print(
            f"{self.description}: {self.done}/{self.total}{unit}, {_clock(elapsed)} elapsed, {estimate}",
            file=self.stream,
            flush=True,
        )
        self.printed = True


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _lines(description: str, total: int, unit: str) -> _Lines | None:
    stream = _log_stream() if distributed.is_main() else None
    return _Lines(description, total, unit, stream, line_interval()) if stream else None


@contextmanager
def log_lines(description: str, total: int, unit: str = "") -> Iterator:
    """Log lines only, no bar: for work that holds stages with bars of their own (a run's
    units); yields ``advance(n=1)``."""
    tracker = _lines(description, total, unit)
    yield tracker.advance if tracker else lambda n=1: None
    if tracker:
        tracker.finish()


@contextmanager
def bar(description: str, total: int, unit: str = "") -> Iterator:
    """A progress bar (and log lines); yields ``advance(n=1)``."""
    main = distributed.is_main()
    tracker = _lines(description, total, unit)
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not main or not console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            progress.advance(task, n)
            if tracker:
                tracker.advance(n)

        yield advance
    if tracker:
        tracker.finish()


def track(items: Iterable, description: str, total: int | None = None, unit: str = "") -> Iterator:
    items = list(items) if total is None else items
    with bar(description, total if total is not None else len(items), unit) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def silent(description: str, total: int, unit: str = "") -> Iterator[Callable[..., None]]:
    """The default progress of a stage: none."""
    yield lambda n=1: None
