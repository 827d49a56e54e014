"""`bench table`: the paper's tables and figures, rendered from the result records under a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bench.cli.common import console, out, user_errors

app = typer.Typer(
    help="Tables from result records: comparison, ablation, loss, objective, prompt-length, soundscape, confusion.",
    no_args_is_help=True,
)

Runs = Annotated[Path, typer.Option(help="Folder searched (recursively) for record.json files.")]
Format = Annotated[str, typer.Option("--format", help="rich, markdown, latex, csv or json.")]
Reference = Annotated[
    str | None,
    typer.Option("--reference", help="paper or emobox: the published figure and our difference beside each of ours."),
]
Metric = Annotated[str, typer.Option(help="wa, ua or f1 (the paper reports WA).")]
Output = Annotated[Path | None, typer.Option(help="Write the table to this file instead of the terminal.")]


def emit(report, fmt: str, output: Path | None) -> None:
    """Render ``report`` in ``fmt`` to the terminal or a file (a Rich table goes to the terminal only)."""
    from bench.results.render import render

    rendered = render(report, fmt)
    if output is None and isinstance(rendered, str):
        out.print(rendered, soft_wrap=True, highlight=False, markup=False, end="")
        return
    if output is None:
        out.print(rendered)
        return
    if not isinstance(rendered, str):
        raise ValueError("--output writes text formats: pick --format markdown, latex, csv or json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered)
    console.print(f"wrote {output}", highlight=False)


def _found(runs: Path):
    from bench.results.catalog import find

    found, problems = find(runs)
    for line in problems:
        console.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False, soft_wrap=True, emoji=False)
    if not found:
        raise ValueError(f"no result records under {runs} (run `bench run --output {runs}` first)")
    return found


@app.command()
def comparison(
    runs: Runs = Path("runs"), fmt: Format = "rich", reference: Reference = None, output: Output = None
) -> None:
    """Backbones x datasets, WA / UA (paper Table 2; with --reference emobox, runs on EmoBox's partitions)."""
    from bench.results import tables

    with user_errors():
        emit(tables.comparison(_found(runs), reference), fmt, output)


def _paper_only(reference: str | None) -> bool:
    if reference not in (None, "paper"):
        raise ValueError(f"--reference {reference}: only the paper has figures for this table (use --reference paper)")
    return reference == "paper"


@app.command()
def ablation(
    runs: Runs = Path("runs"),
    fmt: Format = "rich",
    reference: Reference = None,
    metric: Metric = "wa",
    output: Output = None,
    texts: Annotated[
        str,
        typer.Option(
            help="prompts: the paper's arms (no ACPT: classifier on the class prompts alone); "
            "descriptions: the named ablation whose classifier also trains on the soundscape descriptions "
            "(runs with --set classifier.texts=descriptions)."
        ),
    ] = "prompts",
    target: Annotated[
        str,
        typer.Option(help="ACPT's target: class (the paper's) or soundscape-class (the variant, acpt.target)."),
    ] = "class",
) -> None:
    """Fine-tune x ACPT rows per dataset and ACPT's gain on the fine-tuned weights (paper Table 3)."""
    from bench.results import tables

    with user_errors():
        emit(tables.ablation(_found(runs), metric, _paper_only(reference), texts, target), fmt, output)


@app.command()
def loss(
    runs: Runs = Path("runs"),
    fmt: Format = "rich",
    reference: Reference = None,
    metric: Metric = "wa",
    output: Output = None,
) -> None:
    """Softmax vs ArcFace classifier per dataset (paper Table 4)."""
    from bench.results import tables

    with user_errors():
        emit(tables.loss(_found(runs), metric, _paper_only(reference)), fmt, output)


@app.command()
def objective(runs: Runs = Path("runs"), fmt: Format = "rich", output: Output = None) -> None:
    """Fine-tuning objective per dataset: Emo-CLAP vs ML-/SL-GEmo-CLAP, WA / UA (finetune.objective)."""
    from bench.results import tables

    with user_errors():
        emit(tables.objective(_found(runs)), fmt, output)


@app.command("prompt-length")
def prompt_length(
    runs: Runs = Path("runs"),
    fmt: Format = "rich",
    metric: Metric = "wa",
    output: Output = None,
    plot: Annotated[Path | None, typer.Option(help="PNG of the curve (default: <runs>/prompt-length.png).")] = None,
) -> None:
    """Gain of ACPT over the fine-tuned baseline per token count (paper Figure 2), table and PNG."""
    from bench.results import plots, tables

    _table_and_plot(
        tables.prompt_length, plots.prompt_length, runs, fmt, metric, output, plot or runs / "prompt-length.png"
    )


@app.command()
def soundscape(
    runs: Runs = Path("runs"),
    fmt: Format = "rich",
    metric: Metric = "wa",
    output: Output = None,
    plot: Annotated[
        Path | None, typer.Option(help="PNG of accuracy per condition (default: <runs>/soundscape.png).")
    ] = None,
) -> None:
    """ACPT gain and WA / UA per acoustic test condition (runs with --test-conditions), table and PNG."""
    from bench.results import soundscape as shift

    _table_and_plot(shift.table, shift.plot, runs, fmt, metric, output, plot or runs / "soundscape.png")


def _table_and_plot(build, draw, runs: Path, fmt: str, metric: str, output: Path | None, plot: Path) -> None:
    """A report from the records under ``runs``, printed or written, and its PNG."""
    with user_errors():
        report = build(_found(runs), metric)
        emit(report, fmt, output)
        path = draw(report, plot, metric)
    console.print(f"plot: {path}", highlight=False)


@app.command()
def confusion(
    record: Annotated[Path, typer.Option(help="A run's record.json (or its folder).")],
    plot: Annotated[Path | None, typer.Option(help="PNG to write (default: confusion.png beside the record).")] = None,
) -> None:
    """Confusion matrix of a run's main row, summed over folds and seeds, as a PNG."""
    from bench.results import plots
    from bench.results.catalog import Found
    from bench.results.schema import Record

    with user_errors():
        path = record / "record.json" if record.is_dir() else record
        found = Found(path, Record.read(path))
        written = plots.confusion(found, plot or path.parent / "confusion.png")
    out.print(f"plot: {written}", highlight=False, soft_wrap=True)
