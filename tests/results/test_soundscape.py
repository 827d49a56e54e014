"""Acoustic test and fine-tuning conditions through the whole protocol (mini-clap on one take
of synth), their part of the record, and `bench table soundscape` in every format with its PNG."""

import csv
import io
import json
import re

import pytest
from benchtest import TINY_SETTINGS, synth_one_take
from typer.testing import CliRunner

from bench.cli import app
from bench.results.schema import Record

runner = CliRunner()
CONDITIONS = ["street@5dB", "babble@5dB"]


def bench_run(output, data, *extra):
    settings = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    result = runner.invoke(
        app,
        ["run", "--seeds", "2", "--data-root", str(data), "--no-baselines", "--output", str(output), *settings, *extra],
    )
    assert result.exit_code == 0, result.output
    return Record.read(re.search(r"record: (\S+)", result.output).group(1)), result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data = synth_one_take(tmp_path_factory.mktemp("synth"))
    output = tmp_path_factory.mktemp("runs")
    return output, bench_run(
        output, data, "--test-conditions", "street@5, crowd-babble@5dB", "--finetune-conditions", "telephone"
    )


@pytest.mark.slow
def test_record_has_rows_per_condition_beside_the_clean_rows(runs):
    _, (record, printed) = runs
    part = record.conditions
    assert part.test == CONDITIONS and part.finetune == ["telephone"]
    assert part.soundscapes == {"clean": ["studio"], "street@5dB": ["street"], "babble@5dB": ["crowd-babble"]}
    assert all(unit.condition is None for unit in record.units)  # what every other table reads stays clean
    for condition in CONDITIONS:
        rows = [u for u in part.units if u.condition == condition]
        assert len(rows) == len(record.units)
        assert [r.n_test for r in rows] == [u.n_test for u in record.units]
        assert {r.label for r in part.summary if r.condition == condition} == {r.label for r in record.summary}
    assert {u.wa for u in part.units} != {u.wa for u in record.units}
    assert record.timings["unit_seconds"]["conditions"] > 0
    assert "Soundscape shift" in printed and "babble@5dB" in printed


def test_finetuning_sees_each_clip_clean_and_under_its_conditions(runs):
    _, (record, _) = runs
    train = {f["name"]: f["train"] for f in record.dataset.folds}
    for finetune in record.finetunes:
        assert finetune["clips"] == 2 * train[finetune["fold"]]


def test_soundscape_table_in_every_format_and_its_plot(runs, tmp_path):
    output, (record, _) = runs
    shown = {}
    for fmt in ("markdown", "latex", "csv", "json", "rich"):
        written = ["--output", str(tmp_path / f"table.{fmt}")] if fmt in ("csv", "json") else []
        result = runner.invoke(app, ["table", "soundscape", "--runs", str(output), "--format", fmt, *written])
        assert result.exit_code == 0, result.output
        shown[fmt] = (tmp_path / f"table.{fmt}").read_text() if written else result.output
    assert "| condition | ACPT gain WA | none WA |" in shown["markdown"]
    for condition in ["clean", *CONDITIONS]:
        assert f"| {condition} |" in shown["markdown"] and condition in shown["latex"]
    assert "street@5dB = street" in shown["markdown"] and "babble@5dB = crowd babble" in shown["markdown"]
    cells = json.loads(shown["json"])["cells"]
    gains = {c["condition"]: c for c in cells if c["column"] == "ACPT gain WA"}
    assert set(gains) == {"clean", *CONDITIONS} and all(
        c["seeds"] == 2 and c["std"] is not None for c in gains.values()
    )
    per_seed = {}
    for unit in record.conditions.units:
        if unit.condition == "street@5dB" and unit.finetune and unit.method == "clep-dg":
            per_seed.setdefault(unit.seed, {}).setdefault(unit.arm == "ACPT prompts", []).append(unit.wa)
    expected = sum(100 * (sum(v[True]) - sum(v[False])) / len(v[True]) for v in per_seed.values()) / len(per_seed)
    assert gains["street@5dB"]["mean"] == pytest.approx(expected)
    rows = list(csv.DictReader(io.StringIO(shown["csv"])))
    assert {r["condition"] for r in rows} == {"clean", *CONDITIONS}
    assert (output / "soundscape.png").stat().st_size > 10_000


def test_conditions_are_checked_before_anything_runs(tmp_path):
    for flag, value, says in (
        ("--test-conditions", "street@loud", "street takes a number in dB"),
        ("--finetune-conditions", "wind", "unknown kind 'wind'"),
    ):
        result = runner.invoke(app, ["run", "--output", str(tmp_path), flag, value])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


def test_a_table_without_conditioned_runs_says_what_to_run(runs, tmp_path):
    record, _ = runs[1]
    record.model_copy(update={"conditions": None}).write(tmp_path / "plain" / "record.json")
    result = runner.invoke(app, ["table", "soundscape", "--runs", str(tmp_path)])
    assert result.exit_code == 2 and "--test-conditions" in result.output and "Traceback" not in result.output
