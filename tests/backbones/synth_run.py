"""The whole protocol (`bench run`) on a small synth corpus with a backbone's settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from bench.results.schema import SummaryRow

# The default rows of a run, in the record's order: CLEP-DG's stage ablation, then the
# baselines on the initial and the fine-tuned weights (the encoder-feature probe: on the fine-tuned
# weights only where fine-tuning trains the encoder).
ROWS = [
    ("none", (False, "clep-dg", "class prompts")),
    ("ACPT", (False, "clep-dg", "ACPT prompts")),
    ("fine-tune", (True, "clep-dg", "class prompts")),
    ("fine-tune + ACPT", (True, "clep-dg", "ACPT prompts")),
    ("zero shot", (False, "zero-shot", "")),
    ("zero shot", (True, "zero-shot", "")),
    ("nearest description centroid", (False, "description-centroid", "")),
    ("nearest description centroid", (True, "description-centroid", "")),
    ("linear probe (joint space)", (False, "linear-probe", "")),
    ("linear probe (joint space)", (True, "linear-probe", "")),
    ("linear probe (encoder features)", (False, "encoder-probe", "")),
]


def run_on_synth(
    backbone: str, options: dict[str, str], tmp_path: Path, *, encoder_trains: bool, **settings: str
) -> dict[str, SummaryRow]:
    """Every stage, ablation row and baseline once (one seed, tiny stage settings); the rows by name.

    ``encoder_trains``: whether fine-tuning trains the audio encoder (then the encoder-feature
    probe has a fine-tuned row too)."""
    from benchtest import synth_one_take, tiny_run

    opts = [arg for key, value in options.items() for arg in ("--backbone-opt", f"{key}={value}")]
    data = synth_one_take(tmp_path / "synth")
    _, record = tiny_run(
        "synth", data, tmp_path / "runs", "--backbone", backbone, *opts, **{"finetune.epochs": "2", **settings}
    )
    check_record(record, encoder_trains)
    return {row.label: row for row in record.summary}


def check_record(record, encoder_trains: bool) -> None:
    """What every default run's record must say exactly, whatever the backbone's numbers:
    every row once, a unit per (fold, row), each unit's figures those of its own confusion
    matrix over its fold's whole test part, and each summary the mean of its units."""
    rows = ROWS + [("linear probe (encoder features)", (True, "encoder-probe", ""))] * encoder_trains
    assert [(row.label, row.key) for row in record.summary] == rows
    folds = {fold["name"]: fold["test"] for fold in record.dataset.folds}
    n_classes = len(record.dataset.classes)
    assert len(record.units) == len(folds) * len(rows) * len(record.seeds)
    for unit in record.units:
        confusion = np.array(unit.confusion)
        assert confusion.shape == (n_classes, n_classes) and confusion.sum() == unit.n_test == folds[unit.fold]
        recall = [confusion[c, c] / confusion[c].sum() for c in range(n_classes) if confusion[c].sum()]
        assert unit.wa == pytest.approx(np.trace(confusion) / confusion.sum(), abs=1e-12)
        assert unit.ua == pytest.approx(np.mean(recall), abs=1e-12)
    for row in record.summary:
        units = record.units_of(row.key)
        per_seed = [np.mean([u.wa for u in units if u.seed == seed]) for seed in record.seeds]
        assert row.wa == pytest.approx(np.mean(per_seed), abs=1e-12) and row.folds == len(folds)
