"""A :class:`~bench.results.tables.Report` in each output format: Rich, Markdown, LaTeX, CSV, JSON.

Text formats show ``mean ± std`` per cell, and with a reference figure
``mean ± std (paper P ±D)`` or ``(EmoBox P ±D)``; CSV and JSON are long-form and machine-readable, one entry
per cell with the record it came from.

Markdown and LaTeX are written here rather than by pandas: ``DataFrame.to_markdown`` needs
tabulate, which nothing else uses, and ``to_latex`` escapes neither ``±`` nor ``−``, which
these cells hold; either way the text would be post-processed to the same few lines.
"""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.table import Table

from bench.results.tables import Cell, Report

MISSING = "–"


def cell_text(cell: Cell, reference: str = "paper") -> str:
    if cell.mean is None:
        text = MISSING
    else:
        text = f"{cell.mean:.2f}".replace("-", "−")
        if cell.std is not None:
            text += f" ± {cell.std:.2f}"
    if cell.reference is not None:
        diff = f" {f'{cell.diff:+.2f}'.replace('-', '−')}" if cell.diff is not None else ""
        text += f" ({reference} {cell.reference:.2f}{diff})"
    return text


def rich_table(report: Report) -> Table:
    table = Table(title=report.title, caption="\n".join(report.notes) or None, box=box.SIMPLE_HEAD)
    table.add_column(report.row_header, no_wrap=True)
    for column in report.columns:
        table.add_column(column, justify="right")
    for label, cells in report.rows:
        table.add_row(label, *(cell_text(c, report.reference) for c in cells))
    return table


def markdown(report: Report) -> str:
    lines = [f"**{report.title}**", "", "| " + " | ".join([report.row_header, *report.columns]) + " |"]
    lines.append("|" + "---|" + "---:|" * len(report.columns))
    for label, cells in report.rows:
        lines.append("| " + " | ".join([label, *(cell_text(c, report.reference) for c in cells)]) + " |")
    lines += [""] + [f"- {note}" for note in report.notes] if report.notes else []
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("±", r"$\pm$"),
        ("−", "$-$"),
        ("–", "--"),
    ):
        text = text.replace(char, escaped)
    return text


def latex(report: Report) -> str:
    """A booktabs table; the notes become the caption's second part."""
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{" + _latex_escape(report.title) + "}",
        r"\begin{tabular}{l" + "r" * len(report.columns) + "}",
        r"\toprule",
        " & ".join(_latex_escape(h) for h in [report.row_header, *report.columns]) + r" \\",
        r"\midrule",
    ]
    for label, cells in report.rows:
        lines.append(
            " & ".join(_latex_escape(text) for text in [label, *(cell_text(c, report.reference) for c in cells)])
            + r" \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"% " + _latex_escape(note) for note in report.notes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _entries(report: Report) -> list[dict]:
    return [
        {
            "table": report.name,
            report.row_header: label,
            "column": column,
            "mean": cell.mean,
            "std": cell.std,
            "seeds": cell.seeds,
            "reference": cell.reference,
            "diff": cell.diff,
            "record": cell.record,
        }
        for label, cells in report.rows
        for column, cell in zip(report.columns, cells)
    ]


def csv_text(report: Report) -> str:
    buffer = io.StringIO()
    entries = _entries(report)
    fields = ["table", report.row_header, "column", "mean", "std", "seeds", "reference", "diff", "record"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({k: "" if v is None else round(v, 4) if isinstance(v, float) else v for k, v in entry.items()})
    return buffer.getvalue()


def json_text(report: Report) -> str:
    document = {
        "table": report.name,
        "title": report.title,
        "columns": report.columns,
        "reference": report.reference,
        "cells": _entries(report),
        "notes": report.notes,
    }
    return json.dumps(document, indent=1) + "\n"


WRITERS = {"rich": rich_table, "markdown": markdown, "latex": latex, "csv": csv_text, "json": json_text}
FORMATS = tuple(WRITERS)


def render(report: Report, fmt: str) -> str | Table:
    """The report in ``fmt``: a Rich table for ``rich``, text for the others."""
    if fmt not in WRITERS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return WRITERS[fmt](report)
