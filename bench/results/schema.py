"""What a run writes, as typed classes: its rows, a unit file, a result record, and the main-row rule.

Every file goes to disk and back through one round trip (:meth:`Shape.write`,
:meth:`Shape.read`), so a file of the wrong shape or another schema is one line naming it,
never a KeyError deep in a table. Fields not named here (a row's confusion matrix, what a
plugin or a later part adds) are kept as they were written and read back as attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self

from bench.api import DataError
from bench.util import fileio

SCHEMA = 1


def _absent(value: object) -> bool:
    return value is None


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")

    @classmethod
    def read(cls, path: Path) -> Self:
        """The file at ``path``, or a DataError naming it and what is wrong, in a few words."""
        try:
            text = Path(path).read_bytes()
        except OSError as err:
            raise DataError(f"{path}: not a readable result record ({err})") from err
        try:
            return cls.model_validate_json(text)
        except ValidationError as err:
            raise DataError(f"{path}: {_why(cls, err)}") from err

    def write(self, path: Path) -> None:
        """Written whole or not at all (bench.util.fileio); values JSON does not know are written as text."""
        fileio.atomic_write(path, self.model_dump_json(indent=1, fallback=str).encode())


class Versioned(Shape):
    """A file of its own: it says the schema it was written in, and another one is refused."""

    schema_: int = Field(SCHEMA, alias="schema")
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    @model_validator(mode="before")
    @classmethod
    def _same_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema", SCHEMA) != SCHEMA:
            raise PydanticCustomError(
                "schema",
                "record schema {got}, this bench reads schema {wanted}",
                {"got": repr(data.get("schema")), "wanted": SCHEMA},
            )
        return data


def _why(shape: type[Shape], err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    if first["type"] == "schema":
        return first["msg"]
    if first["type"] == "json_invalid":
        return f"not a readable result record ({first['msg']})"
    name = shape.__name__.lower()
    if first["type"] == "model_type" and not first["loc"]:
        return f"not a {name} of this bench (holds a JSON {type(first['input']).__name__}, not an object)"
    where = ".".join(str(p) for p in first["loc"])
    return f"not a {name} of this bench ({where}: {first['msg'][:1].lower()}{first['msg'][1:]})"


class Scores(Shape):
    finetune: bool
    acpt: bool
    method: str
    wa: float
    ua: float
    f1: float
    condition: str | None = Field(None, exclude_if=_absent)  # an acoustic test condition; none: the clean test set

    @property
    def key(self) -> tuple[bool, bool, str]:
        """What a row is a figure of: its stage setting and method."""
        return self.finetune, self.acpt, self.method


class Row(Scores):
    """One figure set of one unit: a seed, a fold, a weight state and a method."""

    seed: int
    fold: str


class SummaryRow(Scores):
    """Mean and std over seeds of one (stage setting, method)."""

    row: str
    wa_std: float
    ua_std: float
    f1_std: float
    seeds: int
    folds: int


class Unit(Versioned):
    """One unit file: the rows of one weight state of one fold and seed."""

    seed: int
    fold: str
    finetuned: bool
    rows: list[Row]
    condition_rows: list[Row] = []
    finetune: dict | None
    checkpoints: dict[str, str | None]
    skipped: list[tuple[str, str]]
    initial_weights: str
    seconds: dict[str, float]


class RunSettings(Shape):
    """The settings a run recorded (bench.config.settings.RunConfig as written; older records lack some)."""

    backbone: str
    dataset: str
    finetune: bool
    acpt: bool
    classifier: bool = True
    checkpoint: str | None = None
    backbone_options: dict[str, Any] = {}
    finetune_settings: dict[str, Any] = {}
    methods: list[str] | None = Field(None, exclude_if=_absent)  # methods chosen with --method (None: the default rows)
    method_settings: dict[str, dict[str, Any]] | None = Field(None, exclude_if=_absent)  # each method's own, as given


class Dataset(Shape):
    name: str = ""
    classes: list[str] = []
    protocol: str = ""
    folds: list[dict] = []
    skipped: list[dict] = []


class Conditions(Shape):
    """The rows of a run under acoustic test conditions (bench.results.soundscape)."""

    test: list[str]
    finetune: list[str]
    soundscapes: dict[str, list[str]]
    units: list[Row]
    summary: list[SummaryRow]


class Record(Versioned):
    """A result record (kind ``bench.run``); ``path``: where it was read or written, not stored in it."""

    kind: str
    created: str = ""
    code: dict = {}
    config: RunSettings
    backbone: dict = {}
    dataset: Dataset
    seeds: list[int]
    units: list[Row]
    finetunes: list[dict] = []
    summary: list[SummaryRow]
    conditions: Conditions | None = Field(None, exclude_if=_absent)
    path: Path | None = Field(None, exclude=True)

    @classmethod
    def read(cls, path: Path) -> Self:
        record = super().read(path)
        record.path = Path(path)
        return record

    def write(self, path: Path) -> None:
        super().write(path)
        self.path = Path(path)

    def main_key(self) -> tuple[bool, bool, str]:
        """The main row: cross-modal with the run's own stages (fine-tune + ACPT unless switched
        off), the row that tables, sweeps and plots report for a run; in a run without CLEP-DG
        (``--method``), the first row of its first method that has rows."""
        methods = self.config.methods
        if methods and "clep-dg" not in methods:
            found = [r for m in methods for r in self.summary if r.method == m] or self.summary
            return found[0].key
        return self.config.finetune, self.config.acpt, "cross-modal"

    def row(self, wanted: tuple[bool, bool, str]) -> SummaryRow | None:
        return next((r for r in self.summary if r.key == wanted), None)

    def main_row(self) -> SummaryRow | None:
        return self.row(self.main_key())

    def units_of(self, wanted: tuple[bool, bool, str]) -> list[Row]:
        """The per-unit rows behind one summary row."""
        return [u for u in self.units if u.key == wanted]
