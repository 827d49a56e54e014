"""Result records found under a folder, and the rule that picks one record per table cell.

Tables are rendered from these files only. When several records fit one cell, the newest
is used and the table says so in a note. Records under a sweep's folder (it holds a
``sweep.json`` naming the swept settings) are trials: a table only uses trials that vary
what the table varies (the loss table a loss sweep's, the comparison none).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import DataError
from bench.config.settings import RENAMED
from bench.results import stages
from bench.results.schema import Record, SummaryRow

SWEEPS = "sweeps"
MARKER = "sweep.json"


@dataclass
class Found:
    path: Path
    record: Record
    swept: frozenset[str] = frozenset()  # settings varied by the sweep this run is a trial of

    @property
    def order(self) -> tuple[str, float]:
        return self.record.created, self.path.stat().st_mtime

    @property
    def backbone(self) -> str:
        return self.record.config.backbone

    @property
    def dataset(self) -> str:
        return self.record.config.dataset

    def setting(self, section: str, name: str):
        values = getattr(self.record.config, f"{section}_settings")
        if name not in values:  # a record written before the setting was renamed
            name = next(old for old, new in RENAMED.items() if new == f"{section}.{name}").rpartition(".")[2]
        return values[name]

    @property
    def texts(self) -> str:
        """The reading its CLEP-DG rows follow (bench.results.stages)."""
        return stages.texts_of(self.record.config)

    def stage_row(self, finetune: bool, acpt: bool) -> SummaryRow | None:
        """The CLEP-DG row of these stages, in the run's own reading."""
        return self.record.row(stages.key(finetune, acpt, self.texts))

    def main_row(self) -> SummaryRow | None:
        return self.record.main_row()

    def per_seed(self, finetune: bool, acpt: bool, metric: str) -> dict[int, float]:
        """Mean over folds per seed of one CLEP-DG stage row, from the record's units."""
        by_seed = defaultdict(list)
        for unit in self.record.units_of(stages.key(finetune, acpt, self.texts)):
            by_seed[unit.seed].append(getattr(unit, metric))
        return {seed: float(np.mean(values)) for seed, values in by_seed.items()}


def find(folder: Path) -> tuple[list[Found], list[str]]:
    """Every readable record under ``folder``, oldest first, plus one line per unreadable one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of runs (give --runs the folder that `bench run --output` wrote to)")
    found, problems = [], []
    for path in sorted(folder.rglob("record.json")):
        try:
            record = Record.read(path)
        except DataError as err:
            problems.append(str(err))
            continue
        found.append(Found(path, record, _swept(path.parent, folder)))
    return sorted(found, key=lambda f: f.order), problems


def _swept(run_dir: Path, top: Path) -> frozenset[str]:
    for folder in [run_dir, *run_dir.parents]:
        marker = folder / MARKER
        if marker.is_file():
            return frozenset(RENAMED.get(p, p) for p in json.loads(marker.read_text())["params"])
        if folder == top:
            break
    return frozenset()


def newest(candidates: dict[tuple, list[Found]], describe) -> tuple[dict[tuple, Found], list[str]]:
    """One record per key, the newest; a note for every key that had several."""
    chosen, notes = {}, []
    for key, options in candidates.items():
        pick = max(options, key=lambda f: f.order)
        chosen[key] = pick
        if len(options) > 1:
            notes.append(f"{describe(key)}: {len(options)} records match, the newest is used ({pick.path})")
    return chosen, notes


def record_of_checkpoints(found: Found, everything: list[Found]) -> Found | None:
    """The run whose fine-tuned checkpoints this run loaded (``--checkpoint <run>/checkpoints``)."""
    checkpoint = found.record.config.checkpoint
    if not checkpoint:
        return None
    folder = Path(checkpoint)
    run_dir = folder.parent if folder.name == "checkpoints" else None
    if run_dir is None:
        return None
    for other in everything:
        if other.path.parent.resolve() == run_dir.resolve():
            return other
    path = run_dir / "record.json"
    return Found(path, Record.read(path)) if path.is_file() else None
