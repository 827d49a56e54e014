"""The shapes of what a run writes, a unit file and a result record, and the main-row rule.

Files are checked against these classes when read (bench.records.read and read_unit), so a
file of the wrong shape is one line naming it, never a KeyError deep in a table. Fields not
named here are kept as they are: a record is still the JSON object it was written as.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

METHODS = ("cross-modal", "zero-shot", "linear-probe")


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Scores(Shape):
    finetune: bool
    acpt: bool
    method: str
    wa: float
    ua: float
    f1: float


class Row(Scores):
    """One figure set of one unit: a seed, a fold, a weight state and a method."""

    seed: int
    fold: str


class SummaryRow(Scores):
    """Mean and std over seeds of one (stage setting, method)."""

    row: str


class Unit(Shape):
    """One unit file: the rows of one weight state of one fold and seed."""

    seed: int
    fold: str
    finetuned: bool
    rows: list[Row]
    finetune: dict | None
    checkpoints: dict[str, str | None]
    skipped: list[tuple[str, str]]
    initial_weights: str
    seconds: dict[str, float]


class RunSettings(Shape):
    backbone: str
    dataset: str
    finetune: bool
    acpt: bool


class Record(Shape):
    """A result record (kind ``bench.run``)."""

    kind: str
    config: RunSettings
    dataset: dict
    seeds: list[int]
    units: list[Row]
    summary: list[SummaryRow]


def check(shape: type[Shape], data: object) -> str | None:
    """None when ``data`` has the shape, else what is wrong, in a few words."""
    if not isinstance(data, dict):
        return f"holds a JSON {type(data).__name__}, not an object"
    try:
        shape.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        return f"{where}: {first['msg'][:1].lower()}{first['msg'][1:]}"
    return None


def key(row: dict) -> tuple[bool, bool, str]:
    """What a row is a figure of: its stage setting and method."""
    return row["finetune"], row["acpt"], row["method"]


def main_key(record: dict) -> tuple[bool, bool, str]:
    """The main row: cross-modal with the run's own stages (fine-tune + ACPT unless switched
    off), the row that tables, sweeps and plots report for a run; in a run without CLEP-DG
    (``--method``), the first row of its first method that has rows."""
    config = record["config"]
    methods = config.get("methods")
    if methods and "clep-dg" not in methods:
        found = [r for m in methods for r in record["summary"] if r["method"] == m] or record["summary"]
        return key(found[0])
    return bool(config["finetune"]), bool(config["acpt"]), "cross-modal"


def row(record: dict, wanted: tuple[bool, bool, str]) -> dict | None:
    return next((r for r in record["summary"] if key(r) == wanted), None)


def main_row(record: dict) -> dict | None:
    return row(record, main_key(record))
