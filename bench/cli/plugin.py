"""`bench plugin check NAME`: validate a plugin against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench import registry
from bench.cli.common import out, user_errors
from bench.cli.switches import parse_pairs

app = typer.Typer(help="Work with plugins.", no_args_is_help=True)


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="Backbone or dataset plugin name.")],
    data_root: Annotated[Optional[Path], typer.Option(help="Corpus root for a dataset plugin.")] = None,
    backbone_opt: Annotated[Optional[list[str]], typer.Option(help="Backbone setting KEY=VALUE.")] = None,
) -> None:
    """Check shapes, dtypes, normalisation, soft-prompt gradients (backbones) or scan and folds (datasets)."""
    from bench.checks import check_backbone, check_dataset

    with user_errors():
        if name in registry.plugins("backbone"):
            results = check_backbone(name, parse_pairs(backbone_opt, "--backbone-opt"))
        elif name in registry.plugins("dataset"):
            results = check_dataset(name, data_root)
        else:
            registry.get("backbone", name)  # raises the one-line 'unknown' error
            return
    for check_name, passed, detail in results:
        mark = "[green]ok  [/]" if passed else "[red]FAIL[/]"
        out.print(f"{mark} {check_name}: {detail}", highlight=False)
    if not all(passed for _, passed, _ in results):
        raise typer.Exit(1)
