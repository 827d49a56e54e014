"""The paper's tables from a fixed set of result records, against golden files.

The records are written here as data (a few backbones, datasets, stage rows, a loss sweep
and a prompt-length sweep), not produced by runs: tables are a pure function of records.
Set BENCH_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
"""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.results import records, stages, tables
from bench.results.catalog import find
from bench.results.schema import Record, Row

runner = CliRunner()
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
CLASSES = ["neutral", "happiness", "anger", "sadness"]
ALL_ROWS = [(False, False), (False, True), (True, False), (True, True)]


def confusion(wa: float) -> list[list[int]]:
    right = round(25 * wa)
    return [[right if i == j else (25 - right) // 3 for j in range(4)] for i in range(4)]


def write_record(
    path: Path,
    backbone: str,
    dataset: str,
    wa: dict,
    *,
    created: str,
    loss: str = "arcface",
    tokens: int = 8,
    checkpoint: str | None = None,
    texts: str = "prompts",
) -> Path:
    """A record with one fold per seed; ``wa`` maps (fine-tune, ACPT) to WA per seed."""
    acpt_on = any(a for _, a in wa)
    units = [
        Row(
            seed=seed,
            fold="all",
            finetune=tuned,
            method="clep-dg",
            arm=stages.ARMS[texts][acpt],
            label=stages.label(tuned, acpt, texts),
            main=acpt == acpt_on,
            n_test=100,
            wa=value,
            ua=value - 0.02,
            f1=value - 0.04,
            confusion=confusion(value),
        )
        for (tuned, acpt), values in wa.items()
        for seed, value in enumerate(values)
    ]
    record = Record.model_validate(
        {
            "kind": "bench.run",
            "created": created,
            "config": {
                "backbone": backbone,
                "dataset": dataset,
                "finetune": any(t for t, _ in wa),
                "acpt": acpt_on,
                "classifier": True,
                "ablation": len(wa) > 1,
                "checkpoint": checkpoint,
                "seeds": 2,
                "acpt_settings": {"prompt_length": tokens},
                "classifier_settings": {"loss": loss, "texts": texts},
            },
            "dataset": {"name": dataset, "classes": CLASSES, "protocol": "fixed", "folds": [{"name": "all"}]},
            "seeds": [0, 1],
            "units": units,
            "summary": records.summarize(units),
        }
    )
    record.write(path / "record.json")
    return path / "record.json"


def ablation_rows(start: float) -> dict:
    return {row: [start + 0.1 * i, start + 0.1 * i + 0.01] for i, row in enumerate(ALL_ROWS)}


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A runs folder with full runs, a duplicate cell, a loss sweep and a prompt-length sweep."""
    monkeypatch.chdir(tmp_path)
    root = Path("runs")
    write_record(root / "clep-iemocap", "clep-dg", "iemocap", ablation_rows(0.40), created="2025-01-01T10:00:00")
    write_record(root / "clep-savee", "clep-dg", "savee", ablation_rows(0.20), created="2025-01-01T10:00:00")
    write_record(
        root / "laion-old", "laion-clap", "iemocap", {(True, True): [0.50, 0.52]}, created="2025-01-01T09:00:00"
    )
    write_record(
        root / "laion-new", "laion-clap", "iemocap", {(True, True): [0.70, 0.72]}, created="2025-01-02T09:00:00"
    )
    write_record(root / "mini-synth", "mini-clap", "synth", ablation_rows(0.25), created="2025-01-01T10:00:00")
    loss = root / "sweeps" / "loss"
    loss.mkdir(parents=True)
    (loss / "sweep.json").write_text(json.dumps({"study": "loss", "params": ["classifier.loss"]}))
    write_record(
        loss / "softmax",
        "clep-dg",
        "iemocap",
        {(True, True): [0.68, 0.69]},
        created="2025-01-03T10:00:00",
        loss="softmax",
        checkpoint="runs/clep-iemocap/checkpoints",
    )
    tokens = root / "sweeps" / "tokens"
    tokens.mkdir(parents=True)
    (tokens / "sweep.json").write_text(json.dumps({"study": "tokens", "params": ["acpt.prompt_length"]}))
    for n, values in ((2, [0.62, 0.66]), (32, [0.75, 0.70])):
        write_record(
            tokens / f"n{n}",
            "clep-dg",
            "iemocap",
            {(True, True): values},
            created="2025-01-03T11:00:00",
            tokens=n,
            checkpoint="runs/clep-iemocap/checkpoints",
        )
    return root


CASES = [
    ("comparison", ["--reference", "paper"]),
    ("ablation", ["--reference", "paper"]),
    ("loss", ["--reference", "paper"]),
    ("prompt-length", []),
]


@pytest.mark.parametrize("fmt, suffix", [("markdown", "md"), ("latex", "tex")])
@pytest.mark.parametrize("table, extra", CASES)
def test_tables_match_golden_files(runs, table, extra, fmt, suffix):
    written = Path(f"{table}.{suffix}")
    result = runner.invoke(
        app, ["table", table, "--runs", str(runs), "--format", fmt, "--output", str(written), *extra]
    )
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{table}.{suffix}"
    if os.environ.get("BENCH_UPDATE_GOLDEN"):
        golden.write_text(written.read_text())
    assert written.read_text() == golden.read_text()


def test_machine_formats_carry_every_cell_with_its_record(runs):
    result = runner.invoke(app, ["table", "comparison", "--runs", str(runs), "--format", "json", "--output", "t.json"])
    assert result.exit_code == 0, result.output
    cells = json.loads(Path("t.json").read_text())["cells"]
    laion = [c for c in cells if c["backbone"] == "laion-clap" and c["column"] == "IEMOCAP WA"]
    assert laion[0]["record"] == "runs/laion-new/record.json" and laion[0]["mean"] == pytest.approx(71.0)
    result = runner.invoke(
        app, ["table", "loss", "--runs", str(runs), "--format", "csv", "--reference", "paper", "--output", "t.csv"]
    )
    assert result.exit_code == 0, result.output
    lines = Path("t.csv").read_text().splitlines()
    assert lines[0] == "table,loss,column,mean,std,seeds,reference,diff,record"
    assert "loss,clep-dg: softmax,IEMOCAP,68.5,0.7071,2,74.59,-6.09,runs/sweeps/loss/softmax/record.json" in lines


def test_rich_table_prints_to_the_terminal(runs):
    result = runner.invoke(app, ["table", "ablation", "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    assert "fine-tune + ACPT" in result.output and "SAVEE" in result.output


def test_plots_are_written(runs):
    result = runner.invoke(app, ["table", "prompt-length", "--runs", str(runs), "--plot", "curve.png"])
    assert result.exit_code == 0, result.output
    assert Path("curve.png").read_bytes()[:4] == b"\x89PNG" and Path("curve.png").stat().st_size > 1000
    result = runner.invoke(app, ["table", "confusion", "--record", str(runs / "clep-iemocap")])
    assert result.exit_code == 0, result.output
    png = runs / "clep-iemocap" / "confusion.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["table", "comparison", "--runs", "nowhere"], "nowhere is not a folder of runs"),
        (["table", "ablation", "--runs", "runs", "--format", "html"], "--format must be one of"),
        (["table", "loss", "--runs", "runs", "--metric", "acc"], "--metric must be one of"),
        (["table", "comparison", "--runs", "runs", "--output", "x.txt"], "--output writes text formats"),
    ],
)
def test_bad_table_requests_are_one_line_errors(runs, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_reproduce_dry_run_lists_runs_files_and_what_is_recorded(runs):
    result = runner.invoke(
        app,
        [
            "reproduce",
            "comparison",
            "--dry-run",
            "--output",
            str(runs),
            "--backbones",
            "mini-clap,clep-dg",
            "--datasets",
            "synth,iemocap",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "run mini-clap on synth: to run" in lines
    assert "run clep-dg on iemocap: cannot run: no corpus" in lines
    assert any("GE2E weights from the resemblyzer wheel" in line and "found" in line for line in lines)
    assert any("missing iemocap: no data root" in line for line in lines)


def test_table3_reads_each_run_in_its_own_reading_and_reports_acpt_s_gain(runs):
    """A run whose classifier trained on the descriptions enters the named ablation's table only;
    the gain row is fine-tune + ACPT minus fine-tune per seed (paper: 52.39 - 49.74 on average)."""
    write_record(runs / "described", "clep-dg", "tess", ablation_rows(0.30), created="2025-01-05", texts="descriptions")
    found, _ = find(runs)
    paper = tables.ablation(found, "wa", True)
    named = tables.ablation(found, "wa", False, "descriptions")
    assert "TESS" not in paper.columns and named.columns == ["TESS", "avg"]
    assert [label for label, _ in named.rows] == [
        "none",
        "ACPT",
        "fine-tune",
        "fine-tune + ACPT",
        "ACPT gain (fine-tuned)",
    ]
    gain = dict(named.rows)["ACPT gain (fine-tuned)"][0]
    assert gain.mean == pytest.approx(10.0) and gain.seeds == 2
    paper_gain = dict(paper.rows)["clep-dg: ACPT gain (fine-tuned)"]
    assert paper_gain[0].reference == pytest.approx(75.18 - 72.91)
    assert "descriptions" in named.title and "paper Table 3" in paper.title
    result = runner.invoke(app, ["table", "ablation", "--runs", str(runs), "--texts", "captions"])
    assert result.exit_code == 2 and "--texts must be one of prompts, descriptions" in result.output
