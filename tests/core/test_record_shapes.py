"""A record.json that is valid JSON but not a record is skipped by `bench table` with one line."""

import json

import pytest
from typer.testing import CliRunner

from bench import records, results
from bench.cli import app
from bench.contracts import DataError

runner = CliRunner()
GOOD = {
    "schema": records.SCHEMA, "kind": "bench.run",
    "config": {"backbone": "mini-clap", "dataset": "synth", "finetune": True, "acpt": False},
    "dataset": {"name": "synth"}, "seeds": [0], "units": [],
    "summary": [{"finetune": True, "acpt": False, "method": "cross-modal", "row": "fine-tune", "wa": 0.5, "ua": 0.4, "f1": 0.3},
                {"finetune": True, "acpt": True, "method": "cross-modal", "row": "fine-tune + ACPT", "wa": 0.6, "ua": 0.5, "f1": 0.4}],
}
BAD = [
    ({"schema": 1}, "not a record of this bench (kind: field required)"),
    ([1, 2], "not a record of this bench (holds a JSON list, not an object)"),
    ({**GOOD, "summary": None}, "not a record of this bench (summary: input should be a valid list)"),
    ({**GOOD, "summary": [{"wa": 1}]}, "not a record of this bench (summary.0.finetune: field required)"),
    ({**GOOD, "config": {"backbone": "x"}}, "not a record of this bench (config.dataset: field required)"),
    ({**GOOD, "units": {}}, "not a record of this bench (units: input should be a valid list)"),
    ({**GOOD, "schema": 99}, "record schema 99, this bench reads schema 1"),
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
        records.read_unit(path)


def test_the_main_row_is_the_run_s_own_stages():
    assert results.main_row(GOOD)["row"] == "fine-tune"
    assert results.main_row({**GOOD, "config": {**GOOD["config"], "acpt": True}})["row"] == "fine-tune + ACPT"
    assert results.main_row({**GOOD, "config": {**GOOD["config"], "finetune": False}}) is None
