"""`bench reproduce TABLE`: run what a paper table (or the EmoBox comparison) needs, skipping what is
recorded, then render it with the published figures beside ours."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bench.cli.common import USER_ERRORS, console, out, user_errors, warn_broken_plugins
from bench.cli.switches import run_config


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def reproduce(
    table: Annotated[str, typer.Argument(help="comparison, ablation, loss, prompt-length or emobox.")],
    backbones: Annotated[
        str | None, typer.Option("--backbones", "--backbone", help="Comma-separated backbones (default: the paper's).")
    ] = None,
    datasets: Annotated[
        str | None,
        typer.Option(help="Comma-separated datasets (default: the paper's five; emobox: the eight it shares)."),
    ] = None,
    emobox: Annotated[
        Path | None, typer.Option(help="EmoBox's data/ folder (or BENCH_EMOBOX_DIR), for emobox.")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds per run (default 3).")] = None,
    profile: Annotated[str, typer.Option(help="paper or quick.")] = "paper",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A setting for every run, e.g. finetune.epochs=10.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    output: Annotated[Path, typer.Option(help="Runs folder, searched for recorded runs and written to.")] = Path(
        "runs"
    ),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the runs, the files each needs, and what is recorded.")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="Format of the table at the end (rich, markdown, latex, csv, json).")
    ] = "rich",
    reference: Annotated[
        bool, typer.Option(help="Show the published figures (paper, or EmoBox's) beside ours.")
    ] = True,
) -> None:
    """Run the runs a paper table needs, skipping those already recorded, then render the table."""
    from bench.cli.table import emit
    from bench.results import tables
    from bench.results.catalog import find
    from bench.sweep import reproduce as repro

    warn_broken_plugins()
    with user_errors():
        template = run_config(
            {
                "device": device,
                "output": output,
                "profile": profile,
                "seeds": seeds,
                "set_": set_,
                "emobox": emobox,
            }
        )
        items = repro.plan(table, template, _names(backbones), _names(datasets))
    for item in items:
        state = f"[green]recorded[/] {escape(item.recorded)}" if item.recorded else "[yellow]to run[/]"
        if not item.data_found:
            state = "[red]cannot run: no corpus[/]"
        out.print(f"{item.label}: {state}", highlight=False, soft_wrap=True)
        for what, found in item.needs:
            out.print(
                f"    {'[green]found[/]  ' if found else '[red]missing[/]'} {escape(what)}",
                highlight=False,
                soft_wrap=True,
            )
    if dry_run:
        return
    failed = [item for item in items if not item.data_found]
    for item in items:
        if item.data_found and not item.recorded:
            console.print(f"running {item.label}", highlight=False)
            try:
                console.print(f"done: {repro.execute(item)}", highlight=False)
            except USER_ERRORS as err:  # a missing weight file of one backbone must not stop the others
                console.print(f"[red]failed:[/] {item.label}: {escape(str(err))}", highlight=False)
                failed.append(item)
    with user_errors():
        found, _ = find(output)
        builders = {
            "comparison": lambda: tables.comparison(found, "paper" if reference else None),
            "ablation": lambda: tables.ablation(found, "wa", reference),
            "loss": lambda: tables.loss(found, "wa", reference),
            "prompt-length": lambda: tables.prompt_length(found, "wa"),
            "emobox": lambda: tables.comparison(found, "emobox" if reference else None),
        }
        emit(builders[table](), fmt, None)
    if failed:
        console.print(f"[red]error:[/] {len(failed)} of {len(items)} runs could not run (listed above)")
        raise typer.Exit(1)
