"""The stages of the protocol.

A stage reports progress through ``progress(description, total, unit)``, a context manager that
yields ``advance(n=1)`` (bench.progress.bar in the CLI), so stages never import a console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

Progress = Callable[[str, int, str], AbstractContextManager[Callable[..., None]]]


@contextmanager
def silent(description: str, total: int, unit: str = "") -> Iterator[Callable[..., None]]:
    """The default progress: none."""
    yield lambda n=1: None
