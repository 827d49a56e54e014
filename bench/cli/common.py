"""What every command shares: the console, one-line errors, broken-plugin warnings."""

from __future__ import annotations

from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from bench import registry
from bench.audio import AudioError
from bench.contracts import CheckpointError, DataError

console = Console(stderr=True)
out = Console()

USER_ERRORS = (DataError, CheckpointError, AudioError, registry.PluginError, OSError, ValueError)


def warn_broken_plugins() -> None:
    for line in registry.problems():
        console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


@contextmanager
def user_errors():
    """Turn the errors a user can fix into one red line and exit code 2 (no traceback)."""
    try:
        yield
    except USER_ERRORS as err:
        console.print(f"[red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
