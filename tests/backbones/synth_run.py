"""The whole protocol (`bench run`) on the synth corpus with a backbone's settings, tiny and fast."""

from __future__ import annotations

import re


def run_on_synth(backbone: str, options: dict[str, str], output) -> dict:
    """Run every stage once (one seed, tiny stage settings) and return the summary rows by name."""
    from typer.testing import CliRunner

    from bench import records
    from bench.cli import app
    from benchtest import TINY_SETTINGS

    settings = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    opts = [arg for key, value in options.items() for arg in ("--backbone-opt", f"{key}={value}")]
    result = CliRunner().invoke(app, [
        "run", "--backbone", backbone, "--dataset", "synth", "--seeds", "1", "--output", str(output), *settings, *opts,
    ])
    assert result.exit_code == 0, result.output
    record = records.read(re.search(r"record: (\S+)", result.output).group(1))
    rows = {row["row"]: row for row in record["summary"]}
    assert {"none", "fine-tune + ACPT", "zero shot"} <= set(rows)
    assert all(0.0 <= row["ua"] <= 1.0 for row in rows.values())
    return rows
