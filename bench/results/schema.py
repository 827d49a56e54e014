"""What a run writes, as typed classes: its rows, a unit file, a result record, and the main-row rule.

Every file goes to disk and back through one round trip (:meth:`Shape.write`,
:meth:`Shape.read`), so a file of the wrong shape or another schema is one line naming it,
never a KeyError deep in a table. Fields not named here (a row's confusion matrix, what a
plugin or a later part adds) are kept as they were written and read back as attributes.

A unit file and a record are sealed when written: ``digest`` is ``"sha256:"`` + the hex
sha256 of ``json.dumps(part, sort_keys=True, separators=(",", ":"))``, where ``part`` is the
file's JSON object less ``digest`` (a unit) or only its ``units``, ``summary`` and
``conditions`` (a record: its figures). Reading checks it, and checks that a record's
summary is :func:`summarize` of its units; a file that fails either is refused in one line.
A file written before digests existed has none: a record is then checked by its summary
alone, a unit is read as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError, PydanticSerializationError
from typing_extensions import Self

from bench.api import DataError
from bench.results import stages
from bench.util import fileio

SCHEMA = 2  # 2: rows keyed by (weight state, method, arm), not by CLEP-DG's ACPT flag


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
            shape = cls.model_validate_json(text)
        except ValidationError as err:
            raise DataError(f"{path}: {_why(cls, err)}") from err
        problem = shape.unfaithful(json.loads(text))
        if problem:
            raise DataError(f"{path}: {problem}")
        return shape

    def unfaithful(self, written: Any) -> str | None:
        """Why this content, read from a file (``written``: its JSON as is), is not what bench
        wrote there; None: nothing found."""
        return None

    def json_text(self) -> str:
        """The JSON this shape is written as: values JSON does not know as text, and a file or
        folder name that is not UTF-8 with its odd bytes as ``\\xNN`` (fileio.as_text)."""
        try:
            return self.model_dump_json(indent=1, fallback=str)
        except PydanticSerializationError:  # lone surrogates: a name in another encoding
            return json.dumps(fileio.as_json_text(self.model_dump(mode="json", fallback=str)), indent=1)

    def write(self, path: Path) -> None:
        """Written whole or not at all (bench.util.fileio)."""
        fileio.atomic_write(path, self.json_text().encode())


class Versioned(Shape):
    """A file of its own: it says the schema it was written in, and another one is refused;
    it is sealed by a digest of its content (``SEALED``: the fields covered, None: all)."""

    schema_: int = Field(SCHEMA, alias="schema")
    digest: str | None = Field(None, exclude_if=_absent)  # None: written before digests existed
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    SEALED: ClassVar[set[str] | None] = None
    SEALS: ClassVar[str] = "its content"

    def content_digest(self) -> str:
        """The digest of the sealed fields as they go to disk (see the module's docstring)."""
        return _digest(json.loads(self.json_text()), self.SEALED)

    def unfaithful(self, written: Any) -> str | None:
        if self.digest is not None and self.digest != _digest(written, self.SEALED):
            return f"the digest does not match {self.SEALS} (changed after bench wrote it)"
        return None

    def write(self, path: Path) -> None:
        self.digest = self.content_digest()
        super().write(path)

    @model_validator(mode="before")
    @classmethod
    def _same_schema(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("schema", SCHEMA) != SCHEMA:
            upgraded = cls.upgrade(data)
            if upgraded is not None:
                return upgraded
            raise PydanticCustomError(
                "schema",
                "record schema {got}, this bench reads schema {wanted}",
                {"got": repr(data.get("schema")), "wanted": SCHEMA},
            )
        return data

    @classmethod
    def upgrade(cls, data: dict) -> dict | None:
        """``data`` of an older schema in this one, where the shape knows how (None: it does not)."""
        return None


def _digest(written: dict, sealed: set[str] | None) -> str:
    """``"sha256:"`` + the hex sha256 of the canonical JSON of the sealed part of a file's JSON."""
    part = {k: v for k, v in written.items() if k != "digest" and (sealed is None or k in sealed)}
    canonical = json.dumps(part, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


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
    method: str
    arm: str = ""  # which of the method's variants (bench.api.Predictor.arm)
    label: str  # the row's name in tables
    main: bool = True  # the row that stands for its method in comparisons
    wa: float
    ua: float
    f1: float
    condition: str | None = Field(None, exclude_if=_absent)  # an acoustic test condition; none: the clean test set

    @property
    def key(self) -> tuple[bool, str, str]:
        """What a row is a figure of: its weight state, method and arm."""
        return self.finetune, self.method, self.arm


class Row(Scores):
    """One figure set of one unit: a seed, a fold, a weight state and a method's arm."""

    seed: int
    fold: str


class SummaryRow(Scores):
    """Mean and std over seeds of one (weight state, method, arm)."""

    wa_std: float
    ua_std: float
    f1_std: float
    seeds: int
    folds: int


class Unit(Versioned):
    """One unit file: the rows of one weight state of one fold and seed; its digest covers all of it."""

    seed: int
    fold: str
    finetuned: bool
    rows: list[Row]
    condition_rows: list[Row] = []
    trained: dict | None  # what this unit's own fine-tune trained on (None: initial weights, or loaded)
    diagnostics: list[dict] = []  # per method arm: why its figures are what they are (bench explain)
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
    acpt_settings: dict[str, Any] = {}
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

    def expected_summary(self) -> list[SummaryRow]:
        """The summary its units give: per condition, :func:`summarize` of that condition's units."""
        by_condition = defaultdict(list)
        for row in self.units:
            by_condition[row.condition].append(row)
        return [
            row.model_copy(update={"condition": name}) for name in self.test for row in summarize(by_condition[name])
        ]


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
    # per (weight state, method, arm): each method's diagnostics averaged over its units
    # (bench.results.records.summarize_diagnostics; the unit files keep each unit's whole)
    diagnostics: list[dict] = []
    path: Path | None = Field(None, exclude=True)
    SEALED: ClassVar[set[str] | None] = {"units", "summary", "conditions"}
    SEALS: ClassVar[str] = "its units and summary"

    def unfaithful(self, written: Any) -> str | None:
        """A summary that does not follow from the units (any record), then a digest that does
        not match its figures (a record written with one)."""
        problem = _summary_differs(self.summary, summarize(self.units))
        if problem is None and self.conditions is not None:
            problem = _summary_differs(self.conditions.summary, self.conditions.expected_summary())
        if problem is not None:
            return f"the summary does not follow from its units ({problem})"
        return super().unfaithful(written)

    @classmethod
    def upgrade(cls, data: dict) -> dict | None:
        """A schema-1 record: its rows were keyed by CLEP-DG's ACPT flag and method
        "cross-modal", whose classifier trained on the soundscape descriptions: the named
        ablation's arms now."""
        if data.get("schema") != 1:
            return None
        config = dict(data.get("config", {}))
        config["classifier_settings"] = {**config.get("classifier_settings", {}), "texts": "descriptions"}
        data = {**data, "schema": SCHEMA, "config": config}
        data["units"] = [_row_v1(r, config) for r in data.get("units", [])]
        data["summary"] = [_row_v1(r, config) for r in data.get("summary", [])]
        if data.get("conditions"):
            part = data["conditions"]
            data["conditions"] = {
                **part,
                "units": [_row_v1(r, config) for r in part.get("units", [])],
                "summary": [_row_v1(r, config) for r in part.get("summary", [])],
            }
        return data

    @classmethod
    def read(cls, path: Path) -> Self:
        record = super().read(path)
        record.path = Path(path)
        return record

    def write(self, path: Path) -> None:
        super().write(path)
        self.path = Path(path)

    def main_key(self) -> tuple[bool, str, str] | None:
        """The main row: that of the run's first method marked main (CLEP-DG's: the classifier
        with the run's own stages, fine-tune + ACPT unless switched off) on the run's own weight
        state; the row that tables, sweeps and plots report for a run."""
        main = [r for r in self.summary if r.main and r.condition is None] or self.summary
        own = [r for r in main if r.finetune == self.config.finetune] or main
        return own[0].key if own else None

    def row(self, wanted: tuple[bool, str, str] | None) -> SummaryRow | None:
        return next((r for r in self.summary if r.key == wanted), None)

    def main_row(self) -> SummaryRow | None:
        return self.row(self.main_key())

    def units_of(self, wanted: tuple[bool, str, str]) -> list[Row]:
        """The per-unit rows behind one summary row."""
        return [u for u in self.units if u.key == wanted]


def summarize(units: list[Row]) -> list[SummaryRow]:
    """Mean and std over seeds of the per-seed mean over folds, per (weight state, method, arm),
    in the order the units first show them, initial weights before fine-tuned."""
    grouped: dict[tuple, dict[int, list[Row]]] = defaultdict(lambda: defaultdict(list))
    first: dict[tuple, Row] = {}
    for unit in units:
        grouped[unit.key][unit.seed].append(unit)
        first.setdefault(unit.key, unit)
    methods = list(dict.fromkeys(unit.method for unit in units))
    rows = []
    for key, by_seed in grouped.items():
        figures = {}
        for metric in ("wa", "ua", "f1"):
            per_seed = [np.mean([getattr(u, metric) for u in units_]) for units_ in by_seed.values()]
            figures[metric] = float(np.mean(per_seed))
            figures[f"{metric}_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0
        row = first[key]
        rows.append(
            SummaryRow(
                finetune=row.finetune,
                method=row.method,
                arm=row.arm,
                label=row.label,
                main=row.main,
                **figures,
                seeds=len(by_seed),
                folds=len(next(iter(by_seed.values()))),
            )
        )
    arms = {key: i for i, key in enumerate(first)}
    return sorted(rows, key=lambda r: (methods.index(r.method), r.finetune, arms[r.key]))


FIGURES = ("wa", "ua", "f1", "wa_std", "ua_std", "f1_std")


def _summary_differs(stored: list[SummaryRow], expected: list[SummaryRow]) -> str | None:
    """The first way ``stored`` differs from ``expected`` (figures within float rounding), in a few words."""
    wanted = {(r.key, r.condition): r for r in expected}
    for row in stored:
        name = row.label + (f" under {row.condition}" if row.condition else "")
        want = wanted.pop((row.key, row.condition), None)
        if want is None:
            return f"{name}: a summary row without units"
        for figure in FIGURES:
            have, should = getattr(row, figure), getattr(want, figure)
            if not math.isclose(have, should, rel_tol=1e-9, abs_tol=1e-12):
                what = figure.upper().replace("_STD", " std")
                return f"{name}: {what} {100 * have:.2f} % in the summary, {100 * should:.2f} % from the units"
        for field in ("seeds", "folds", "main"):  # not the label: schema 1 named a unit's and a summary's apart
            if getattr(row, field) != getattr(want, field):
                return (
                    f"{name}: {field} {getattr(row, field)!r} in the summary, {getattr(want, field)!r} from the units"
                )
    for (_, condition), row in wanted.items():
        return f"{row.label}{f' under {condition}' if condition else ''}: units without a summary row"
    return None


_LABELS_V1 = {
    "zero-shot": "zero shot",
    "linear-probe": "linear probe (joint space)",
    "encoder-probe": "linear probe (encoder features)",
    "selm": "SELM",
}


def _row_v1(row: dict, config: dict) -> dict:
    row = dict(row)
    acpt, label = bool(row.pop("acpt", False)), row.pop("row", None)
    if row.get("method") == "cross-modal":
        tuned = bool(row.get("finetune"))
        row.update(
            method=stages.CLEP_DG,
            arm=stages.ARMS["descriptions"][acpt],
            label=stages.label(tuned, acpt, "descriptions"),
            main=acpt == bool(config.get("acpt", True)),
        )
    else:
        row["label"] = label or _LABELS_V1.get(row.get("method"), row.get("method"))
    return row
