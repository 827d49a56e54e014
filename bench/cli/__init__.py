"""The `bench` command line: one Typer app assembled from one module per command group."""

from __future__ import annotations

import typer

from bench.api import DataError
from bench.cli import cache, common, data, explain, finetune, listing, plugin, reproduce, run, settings, sweep, table
from bench.runtime.environment import environment

app = typer.Typer(
    name="bench",
    help="Benchmark speech emotion recognition with CLAP-family audio-text models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def options(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of every error (also BENCH_DEBUG=1)."),
) -> None:
    """Benchmark speech emotion recognition with CLAP-family audio-text models."""
    try:
        from_environment = environment().debug
    except DataError:  # another variable's bad value: the command that reads it says so, in one line
        from_environment = False
    common.debug = debug or from_environment


app.command("run")(run.run)
app.command("finetune")(finetune.finetune)
app.command("list")(listing.list_plugins)
app.command("settings")(settings.show_settings)
app.add_typer(plugin.app, name="plugin")
app.add_typer(data.app, name="data")
app.command("sweep")(sweep.sweep)
app.add_typer(table.app, name="table")
app.command("explain")(explain.explain)
app.command("reproduce")(reproduce.reproduce)
app.add_typer(cache.app, name="cache")


def main() -> None:
    app()
