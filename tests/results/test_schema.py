"""A record.json that is valid JSON but not a record is skipped by `bench table` with one line."""

import json

import pytest
from typer.testing import CliRunner

from bench.api import DataError
from bench.cli import app
from bench.results import records
from bench.results.schema import Record, Unit

runner = CliRunner()
GOOD = {
    "schema": records.SCHEMA,
    "kind": "bench.run",
    "config": {"backbone": "mini-clap", "dataset": "synth", "finetune": True, "acpt": True},
    "dataset": {"name": "synth"},
    "seeds": [0],
    "units": [],
    "summary": [
        {
            "finetune": True,
            "method": "clep-dg",
            "arm": "class prompts",
            "label": "fine-tune",
            "main": False,
            "wa": 0.5,
            "ua": 0.4,
            "f1": 0.3,
            "wa_std": 0.0,
            "ua_std": 0.0,
            "f1_std": 0.0,
            "seeds": 1,
            "folds": 1,
        },
        {
            "finetune": True,
            "method": "clep-dg",
            "arm": "ACPT prompts",
            "label": "fine-tune + ACPT",
            "main": True,
            "wa": 0.6,
            "ua": 0.5,
            "f1": 0.4,
            "wa_std": 0.0,
            "ua_std": 0.0,
            "f1_std": 0.0,
            "seeds": 1,
            "folds": 1,
        },
    ],
}
BAD = [
    ({"schema": records.SCHEMA}, "not a record of this bench (kind: field required)"),
    ([1, 2], "not a record of this bench (holds a JSON list, not an object)"),
    ({**GOOD, "summary": None}, "not a record of this bench (summary: input should be a valid array)"),
    ({**GOOD, "summary": [{"wa": 1}]}, "not a record of this bench (summary.0.finetune: field required)"),
    ({**GOOD, "config": {"backbone": "x"}}, "not a record of this bench (config.dataset: field required)"),
    ({**GOOD, "units": {}}, "not a record of this bench (units: input should be a valid array)"),
    ({**GOOD, "schema": 99}, f"record schema 99, this bench reads schema {records.SCHEMA}"),
    ("text", "not a record of this bench (holds a JSON str, not an object)"),
]


@pytest.mark.parametrize("data, message", BAD)
def test_bench_table_skips_a_wrong_shaped_record_with_one_line(tmp_path, data, message):
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "record.json").write_text(json.dumps(data))
    result = runner.invoke(app, ["table", "comparison", "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"skipped: {tmp_path / 'runs' / 'a' / 'record.json'}: {message}"
    assert lines[1].startswith("error: no result records under")


def test_a_unit_file_of_the_wrong_shape_is_a_data_error(tmp_path):
    path = tmp_path / "unit.json"
    path.write_text(json.dumps({"schema": records.SCHEMA, "seed": 0}))
    with pytest.raises(DataError, match=r"not a unit of this bench \(fold: field required\)"):
        Unit.read(path)


def test_the_main_row_is_the_first_method_s_main_row_on_the_run_s_own_weights():
    assert Record.model_validate(GOOD).main_row().label == "fine-tune + ACPT"
    untuned = {**GOOD, "config": {**GOOD["config"], "finetune": False}}
    assert Record.model_validate(untuned).main_row().label == "fine-tune + ACPT"  # the only main row there is
    assert Record.model_validate({**GOOD, "summary": []}).main_row() is None


def test_a_schema_1_record_reads_as_the_named_ablation_it_computed():
    """Schema 1 keyed rows by ACPT and method "cross-modal", whose classifier trained on the
    descriptions: read now, they are CLEP-DG's descriptions arms, the run's own stages main."""
    old_rows = [
        {"finetune": True, "acpt": acpt, "method": "cross-modal", "row": name, "wa": wa, "ua": wa, "f1": wa}
        for acpt, name, wa in [(False, "fine-tune", 0.5), (True, "fine-tune + ACPT", 0.6)]
    ]
    zero_shot = {"finetune": True, "acpt": False, "method": "zero-shot", "row": "zero shot", "wa": 0.4, "ua": 0.4}
    summary = [{**r, "wa_std": 0, "ua_std": 0, "f1_std": 0, "seeds": 1, "folds": 1} for r in old_rows]
    record = Record.model_validate(
        {
            **GOOD,
            "schema": 1,
            "units": [{**r, "seed": 0, "fold": "a"} for r in old_rows]
            + [{**zero_shot, "f1": 0.4, "seed": 0, "fold": "a"}],
            "summary": summary,
        }
    )
    assert [(r.key, r.label, r.main) for r in record.summary] == [
        ((True, "clep-dg", "descriptions"), "fine-tune (descriptions)", False),
        ((True, "clep-dg", "descriptions + ACPT prompts"), "fine-tune + ACPT (descriptions)", True),
    ]
    assert record.units[-1].label == "zero shot" and record.config.classifier_settings["texts"] == "descriptions"
    assert record.main_row().wa == 0.6


def test_a_record_goes_to_disk_and_back_unchanged_with_the_fields_it_does_not_name(tmp_path):
    """Written as the bench always wrote it (plain JSON), read, written, read: the same object."""
    unit_row = {
        "seed": 0,
        "fold": "all",
        "finetune": True,
        "method": "clep-dg",
        "arm": "class prompts",
        "label": "fine-tune",
        "main": False,
        "n_test": 4,
        "wa": 0.5,
        "ua": 0.4,
        "f1": 0.3,
        "confusion": [[1, 1], [1, 1]],
        "shared": "per seed",
    }
    written = {
        **GOOD,
        "created": "2025-01-01T10:00:00",
        "units": [unit_row],
        "versions": {"torch": "2.5"},
        "from_a_plugin": {"anything": [1, 2]},
    }
    (tmp_path / "old.json").write_text(json.dumps(written))
    record = Record.read(tmp_path / "old.json")
    assert record.units[0].confusion == [[1, 1], [1, 1]] and record.from_a_plugin == {"anything": [1, 2]}
    record.write(tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text()) == {
        **written,
        "code": {},
        "backbone": {},
        "finetunes": [],
        "diagnostics": [],
        "dataset": {**written["dataset"], "classes": [], "protocol": "", "folds": [], "skipped": []},
        "config": {
            **written["config"],
            "classifier": True,
            "checkpoint": None,
            "backbone_options": {},
            "finetune_settings": {},
        },
    }
    assert Record.read(tmp_path / "new.json") == record and record.path == tmp_path / "new.json"


def test_a_unit_goes_to_disk_and_back(tmp_path):
    unit = Unit(
        seed=1,
        fold="half1",
        finetuned=True,
        rows=[],
        trained={"loss": [1.0, 0.5]},
        diagnostics=[{"finetune": True, "method": "clep-dg", "arm": "ACPT prompts", "pca": {"audio": [[0.1, 0.2]]}}],
        checkpoints={"half1-seed1": "ab"},
        skipped=[("a.wav", "silent")],
        initial_weights="0123",
        seconds={"acpt": 1.5},
    )
    unit.write(tmp_path / "unit.json")
    assert Unit.read(tmp_path / "unit.json") == unit
    assert json.loads((tmp_path / "unit.json").read_text())["schema"] == records.SCHEMA
