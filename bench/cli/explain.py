"""`bench explain`: why a run's numbers are what they are, from its record and unit files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import out, user_errors


def explain(
    run: Annotated[Path, typer.Argument(help="A run's folder (or its record.json).")],
    plot: Annotated[Path | None, typer.Option(help="PNG to write (default: explain.png in the run's folder).")] = None,
) -> None:
    """A run's diagnostics: transfer from text to audio, text collapse, modality gap, ACPT's
    soundscape specificity and context drift, class weights; tables here and one PNG."""
    from bench.results import explain as diagnostics
    from bench.results.schema import Record

    with user_errors():
        path = run / "record.json" if run.is_dir() else run
        record = Record.read(path)
        shown = diagnostics.tables(record)
        if not shown:
            raise ValueError(f"{path}: the record has no diagnostics (its methods give none; CLEP-DG's do)")
        for table in shown:
            out.print(table)
        written = diagnostics.plot(record, path.parent, plot or path.parent / "explain.png")
    out.print(f"plot: {written}", highlight=False, soft_wrap=True)
