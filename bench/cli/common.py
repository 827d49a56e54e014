"""What every command shares: the console, one-line errors, broken-plugin warnings."""

from __future__ import annotations

from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from bench.api import CheckpointError, DataError
from bench.audio.io import AudioError
from bench.config.settings import SettingError
from bench.plugins import registry

console = Console(stderr=True)
# Results on stdout; where it is not a terminal (a log file, a pipe) a table is printed whole,
# at its own width, instead of cut to 80 columns.
out = Console() if Console().is_terminal else Console(width=100_000)

USER_ERRORS = (DataError, CheckpointError, AudioError, registry.PluginError, SettingError)
# User errors only where bench's own core raised them (a bad value, a full disk); raised in a
# plugin or a library they are bugs, and keep their traceback.
CORE_ERRORS = (OSError, ValueError)
PLUGINS = ("bench.backbones", "bench.datasets")
debug = False  # --debug or BENCH_DEBUG=1: tracebacks for every error


def warn_broken_plugins() -> None:
    for line in registry.problems():
        console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


@contextmanager
def user_errors():
    """Turn the errors a user can fix into one red line and exit code 2 (no traceback)."""
    try:
        yield
    except (*USER_ERRORS, *CORE_ERRORS) as err:
        if debug or not (isinstance(err, USER_ERRORS) or _raised_by_core(err)):
            raise
        console.print(f"[red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True, emoji=False)
        raise typer.Exit(2) from None


def _raised_by_core(err: BaseException) -> bool:
    """Whether the innermost bench frame of the traceback is core code (not a plugin's); a
    ValueError must also be raised there, not in a library it called."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    ours = [name for name in frames if name == "bench" or name.startswith("bench.")]
    if not ours or ours[-1].startswith(PLUGINS):
        return False
    return isinstance(err, OSError) or frames[-1] == ours[-1]
