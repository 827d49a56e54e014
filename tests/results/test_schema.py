"""A record.json that is valid JSON but not a record is skipped by `bench table` with one line."""

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.api import DataError
from bench.cli import app
from bench.results import records
from bench.results.schema import Record, Row, Unit

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
        "summary": GOOD["summary"][:1],  # what that unit gives
        "versions": {"torch": "2.5"},
        "from_a_plugin": {"anything": [1, 2]},
    }
    (tmp_path / "old.json").write_text(json.dumps(written))
    record = Record.read(tmp_path / "old.json")
    assert record.units[0].confusion == [[1, 1], [1, 1]] and record.from_a_plugin == {"anything": [1, 2]}
    record.write(tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text()) == {
        **written,
        "digest": record.content_digest(),  # sealed when written
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
            "acpt_settings": {},
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


# --- records a reader can check: a summary follows from its units, a digest seals both ----------


def sealed_record(tmp_path, name="a") -> tuple[Path, dict]:
    """A record of two seeds (one fold each) written by bench: sealed; its path and its JSON."""
    units = [
        {**GOOD["summary"][i], "seed": seed, "fold": "all", "wa": wa, "confusion": [[1, 0], [0, 1]]}
        for i, by_seed in enumerate([(0.50, 0.52), (0.60, 0.61)])
        for seed, wa in enumerate(by_seed)
    ]
    for unit in units:
        for key in ("wa_std", "ua_std", "f1_std", "seeds", "folds"):
            unit.pop(key)
    rows = [Row.model_validate(u) for u in units]
    record = Record.model_validate({**GOOD, "seeds": [0, 1], "units": rows, "summary": records.summarize(rows)})
    path = tmp_path / "runs" / name / "record.json"
    record.write(path)
    return path, json.loads(path.read_text())


def edit_summary_wa(data):
    data["summary"][1]["wa"] = 0.9


def edit_summary_wa_of_an_unsealed_record(data):
    data.pop("digest")
    data["summary"][1]["wa"] = 0.9


def edit_a_unit_s_confusion(data):
    data["units"][0]["confusion"] = [[2, 0], [0, 0]]


def edit_a_unit_and_the_summary_to_match(data):
    data["units"][0]["wa"] += 0.2  # both seeds of the row: its mean moves, its std stays
    data["units"][1]["wa"] += 0.2
    data["summary"][0]["wa"] += 0.2


NOT_FROM_UNITS = (
    "the summary does not follow from its units (fine-tune + ACPT: WA 90.00 % in the summary, 60.50 % from the units)"
)
DIGEST = "the digest does not match its units and summary (changed after bench wrote it)"
TAMPERED = [
    (edit_summary_wa, NOT_FROM_UNITS),
    (edit_summary_wa_of_an_unsealed_record, NOT_FROM_UNITS),
    (edit_a_unit_s_confusion, DIGEST),
    (edit_a_unit_and_the_summary_to_match, DIGEST),
]


@pytest.mark.parametrize("edit, message", TAMPERED, ids=[edit.__name__ for edit, _ in TAMPERED])
def test_reliability_a_hand_edited_record_is_skipped_by_bench_table_with_one_line(tmp_path, edit, message):
    sealed_record(tmp_path, "kept")
    path, data = sealed_record(tmp_path, "edited")
    edit(data)
    path.write_text(json.dumps(data, indent=1))
    result = runner.invoke(app, ["table", "ablation", "--runs", str(tmp_path / "runs"), "--format", "csv"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"skipped: {path}: {message}"
    assert [line for line in lines if "skipped" in line or "records match" in line] == [
        lines[0]
    ]  # the kept one is used


@pytest.mark.parametrize("edit, message", TAMPERED, ids=[edit.__name__ for edit, _ in TAMPERED])
def test_reliability_a_hand_edited_record_is_refused_by_from_in_one_line(tmp_path, edit, message):
    path, data = sealed_record(tmp_path)
    edit(data)
    path.write_text(json.dumps(data, indent=1))
    result = runner.invoke(app, ["run", "--from", str(path), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [f"error: {path}: {message}"]
    assert not (tmp_path / "out").exists()


def test_reliability_a_record_is_sealed_and_one_without_a_digest_is_checked_by_its_summary(tmp_path):
    path, data = sealed_record(tmp_path)
    assert data["digest"] == Record.read(path).content_digest() and data["digest"].startswith("sha256:")
    canonical = json.dumps({k: data[k] for k in ("units", "summary")}, sort_keys=True, separators=(",", ":"))
    assert data["digest"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()  # as the docs say
    data.pop("digest")  # written before digests: read, its summary being what its units give
    path.write_text(json.dumps(data))
    assert Record.read(path).digest is None and Record.read(path).main_row().wa == pytest.approx(0.605)


def test_reliability_a_hand_edited_unit_file_is_refused(tmp_path):
    path = tmp_path / "unit.json"
    Unit(
        seed=0,
        fold="all",
        finetuned=False,
        rows=[Row.model_validate({**GOOD["summary"][0], "seed": 0, "fold": "all"})],
        trained=None,
        checkpoints={},
        skipped=[],
        initial_weights="0123",
        seconds={},
    ).write(path)
    data = json.loads(path.read_text())
    data["rows"][0]["wa"] = 0.9
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"unit.json: the digest does not match its content \(changed after bench"):
        Unit.read(path)
    data.pop("digest")  # a unit written before digests: read as it is
    path.write_text(json.dumps(data))
    assert Unit.read(path).rows[0].wa == 0.9
