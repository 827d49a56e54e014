"""`bench plugin check NAME`: validate a plugin against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import out, user_errors
from bench.cli.switches import parse_pairs
from bench.plugins import registry

app = typer.Typer(help="Work with plugins.", no_args_is_help=True)


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="Backbone, dataset or method plugin name.")],
    data_root: Annotated[Path | None, typer.Option(help="Corpus root for a dataset plugin.")] = None,
    backbone_opt: Annotated[list[str] | None, typer.Option(help="Backbone setting KEY=VALUE.")] = None,
    backbone: Annotated[str, typer.Option(help="The backbone a method is checked through.")] = "mini-clap",
) -> None:
    """Check shapes, dtypes, normalisation, soft-prompt gradients (backbones), scan and folds
    (datasets), or predictions on a small problem through a real backbone (methods)."""
    from bench.cli.checks import check_backbone, check_dataset, check_method

    with user_errors():
        if name in registry.plugins("backbone"):
            results = check_backbone(name, parse_pairs(backbone_opt, "--backbone-opt"))
        elif name in registry.plugins("dataset"):
            results = check_dataset(name, data_root)
        elif name in registry.plugins("method"):
            results = check_method(name, backbone, parse_pairs(backbone_opt, "--backbone-opt"))
        else:
            registry.get("backbone", name)  # raises the one-line 'unknown' error
            return
    for check_name, passed, detail in results:
        mark = "[green]ok  [/]" if passed else "[red]FAIL[/]"
        out.print(f"{mark} {check_name}: {detail}", highlight=False)
    if not all(passed for _, passed, _ in results):
        raise typer.Exit(1)
