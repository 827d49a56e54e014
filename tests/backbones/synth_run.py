"""The whole protocol (`bench run`) on a small synth corpus with a backbone's settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.results.schema import SummaryRow


def run_on_synth(backbone: str, options: dict[str, str], tmp_path: Path, **settings: str) -> dict[str, SummaryRow]:
    """Every stage, ablation row and baseline once (one seed, tiny stage settings); the rows by name."""
    from benchtest import TINY_SETTINGS, synth_one_take
    from typer.testing import CliRunner

    from bench.cli import app
    from bench.results.schema import Record

    sets = [arg for key, value in {**TINY_SETTINGS, "finetune.epochs": "2", **settings}.items() for arg in ("--set", f"{key}={value}")]
    opts = [arg for key, value in options.items() for arg in ("--backbone-opt", f"{key}={value}")]
    result = CliRunner().invoke(app, [
        "run", "--backbone", backbone, "--data-root", str(synth_one_take(tmp_path / "synth")), "--seeds", "1",
        "--output", str(tmp_path / "runs"), *sets, *opts,
    ])
    assert result.exit_code == 0, result.output
    record = Record.read(re.search(r"record: (\S+)", result.output).group(1))
    rows = {row.row: row for row in record.summary}
    assert {"none", "ACPT", "fine-tune", "fine-tune + ACPT", "zero shot", "linear probe (joint space)",
            "linear probe (encoder features)"} <= set(rows)
    assert all(0.0 <= row.ua <= 1.0 for row in rows.values())
    return rows
