"""Soundscape shift: the record's part for acoustic test conditions, its table and its figure.

A run with ``--test-conditions`` keeps its clean rows where every other table reads them
(``units``, ``summary``) and adds ``record.conditions``: the conditions, the ACPT
soundscapes each one means, and the same rows per condition. ``bench table soundscape``
shows WA / UA per condition for none / ACPT / fine-tune / fine-tune + ACPT; the headline
column is ACPT's gain per condition (fine-tune + ACPT minus fine-tune on the same weights,
or ACPT minus none in a run without fine-tuning), per seed, as mean ± std over seeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.api import DataError
from bench.data import conditions
from bench.results import records, stages
from bench.results.catalog import Found, newest
from bench.results.schema import Conditions, Row
from bench.results.tables import Cell, Report, _check_metric

CLEAN = "clean"


def record_part(test: Sequence[str], finetune: Sequence[str], rows: list[Row]) -> Conditions:
    """What a record says about its conditions; ``rows`` are unit rows with a ``condition``."""
    by_condition = defaultdict(list)
    for row in rows:
        by_condition[row.condition].append(row)
    return Conditions(
        test=list(test),
        finetune=list(finetune),
        soundscapes={name: list(conditions.parse(name).soundscapes) for name in [CLEAN, *test]},
        units=rows,
        summary=[
            row.model_copy(update={"condition": name}) for name in test for row in records.summarize(by_condition[name])
        ],
    )


def _units(found: Found, condition: str) -> list[Row]:
    if condition == CLEAN:
        return found.record.units
    return [u for u in found.record.conditions.units if u.condition == condition]


def _per_seed(units: list[Row], tuned: bool, acpt: bool, metric: str, texts: str) -> dict[int, float]:
    by_seed = defaultdict(list)
    for unit in units:
        if unit.key == stages.key(tuned, acpt, texts):
            by_seed[unit.seed].append(getattr(unit, metric))
    return {seed: 100 * float(np.mean(values)) for seed, values in by_seed.items()}


def _cell(per_seed: dict[int, float], record: str) -> Cell:
    if not per_seed:
        return Cell()
    values = list(per_seed.values())
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return Cell(float(np.mean(values)), std, len(values), record)


def _gain(units: list[Row], metric: str, texts: str, record: str) -> Cell:
    for tuned in (True, False):
        with_acpt, without = _per_seed(units, tuned, True, metric, texts), _per_seed(units, tuned, False, metric, texts)
        if with_acpt and without:
            return _cell({s: with_acpt[s] - without[s] for s in with_acpt if s in without}, record)
    return Cell()


def table(found: list[Found], metric: str = "wa") -> Report:
    """Rows: each run's conditions (clean first); columns: ACPT gain, then WA and UA per stage row."""
    _check_metric(metric)
    candidates = defaultdict(list)
    for f in found:
        if f.record.conditions and f.record.conditions.test:
            candidates[(f.backbone, f.dataset)].append(f)
    if not candidates:
        raise DataError(
            "no run with test conditions was found (run `bench run --test-conditions street@5dB,telephone` first)"
        )
    chosen, notes = newest(candidates, lambda key: f"{key[0]} on {key[1]}")
    stage_rows = [
        (key, name)
        for key, name in sorted(stages.STAGES.items())
        if any(_per_seed(f.record.units, *key, "wa", f.texts) for f in chosen.values())
    ]
    report = Report(
        "soundscape",
        f"Soundscape shift: ACPT gain ({metric.upper()} points) and WA / UA % per condition, mean ± std over seeds",
        "condition",
        [f"ACPT gain {metric.upper()}"] + [f"{name} {m.upper()}" for _, name in stage_rows for m in ("wa", "ua")],
        notes=notes,
    )
    meanings = {}
    for (backbone, dataset), f in sorted(chosen.items()):
        part = f.record.conditions
        prefix = f"{backbone} on {dataset}: " if len(chosen) > 1 else ""
        for condition in [CLEAN, *part.test]:
            units = _units(f, condition)
            cells = [_gain(units, metric, f.texts, str(f.path))]
            cells += [
                _cell(_per_seed(units, *key, m, f.texts), str(f.path)) for key, _ in stage_rows for m in ("wa", "ua")
            ]
            report.rows.append((prefix + condition, cells))
            meanings[condition] = part.soundscapes.get(condition, [])
    said = [f"{c} = {' + '.join(s).replace('-', ' ')}" for c, s in meanings.items() if s]
    report.notes.insert(
        0, "ACPT gain: fine-tune + ACPT minus fine-tune (ACPT minus none without fine-tuning), per seed"
    )
    report.notes.insert(1, "conditions as ACPT's soundscapes: " + "; ".join(said))
    return report


def plot(report: Report, path: Path, metric: str = "wa") -> Path:
    """Accuracy against condition, one line per stage row (and run), from the table's cells."""
    from bench.results.plots import _save, plt

    if not report.rows:
        raise DataError("the soundscape table has no rows: nothing to plot")
    runs: dict[str, list[tuple[str, list[Cell]]]] = defaultdict(list)
    for label, cells in report.rows:
        run, _, condition = label.rpartition(": ")
        runs[run].append((condition, cells))
    columns = [
        (i, c.rsplit(" ", 1)[0]) for i, c in enumerate(report.columns) if c.endswith(f" {metric.upper()}") and i > 0
    ]
    conditions_seen = list(dict.fromkeys(c for rows in runs.values() for c, _ in rows))
    figure, axes = plt.subplots(figsize=(1.3 * len(conditions_seen) + 3.5, 3.8))
    for run, rows in runs.items():
        x = [conditions_seen.index(c) for c, _ in rows]
        for index, row_name in columns:
            cells = [cells[index] for _, cells in rows]
            axes.errorbar(
                x,
                [c.mean if c.mean is not None else np.nan for c in cells],
                yerr=[c.std or 0.0 for c in cells],
                marker="o",
                capsize=3,
                label=f"{run}: {row_name}" if run else row_name,
            )
    axes.set_xticks(range(len(conditions_seen)), conditions_seen, rotation=20, ha="right")
    axes.set_xlabel("condition")
    axes.set_ylabel(f"{metric.upper()} %")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return _save(figure, path)
