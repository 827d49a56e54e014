"""`bench data ...`: inspect and prepare corpora."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and prepare corpora.", no_args_is_help=True)
