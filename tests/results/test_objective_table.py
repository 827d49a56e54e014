"""`bench table objective`: one row per fine-tuning objective, from records only."""

from test_tables import write_record
from typer.testing import CliRunner

from bench.cli import app
from bench.results.schema import Record

runner = CliRunner()


def objective_record(root, objective, wa, without_gender=0, preset=None):
    path = write_record(root / str(objective), "ssl-clap", "iemocap", {(True, True): wa}, created=f"2025-02-0{len(wa)}")
    record = Record.read(path)
    if objective is not None:
        record.config.finetune_settings = {"objective": objective}
    record.config.backbone_options = {"preset": preset} if preset else {}
    record.finetunes = [{"seed": 0, "fold": "all", "without_gender": without_gender}]
    record.write(path)


def test_objective_table_rows_and_gender_note(tmp_path):
    objective_record(tmp_path, "sl-gemo", [0.80, 0.82], without_gender=7, preset="emo-clap-wavlm")
    objective_record(tmp_path, "ml-gemo", [0.78, 0.80], preset="emo-clap-wavlm")
    objective_record(tmp_path, "clap", [0.74, 0.76], preset="emo-clap-wavlm")
    result = runner.invoke(app, ["table", "objective", "--runs", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("objective,Emo-CLAP,IEMOCAP WA,75.0,1.4142,2,") for line in lines)
    assert any(line.startswith("objective,ML-GEmo-CLAP,IEMOCAP UA,77.0,1.4142,2,") for line in lines)
    assert any(line.startswith("objective,SL-GEmo-CLAP,IEMOCAP WA,81.0,1.4142,2,") for line in lines)
    rows = [line.split(",")[1] for line in lines if line.startswith("objective,") and ",IEMOCAP WA," in line]
    assert rows == ["Emo-CLAP", "ML-GEmo-CLAP", "SL-GEmo-CLAP"]
    markdown = runner.invoke(app, ["table", "objective", "--runs", str(tmp_path), "--format", "markdown"]).output
    assert "7 fine-tuning clips without gender took the plain objective" in markdown


def test_records_without_an_objective_count_as_plain_clap(tmp_path):
    objective_record(tmp_path, None, [0.70, 0.72])
    result = runner.invoke(app, ["table", "objective", "--runs", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "objective,Emo-CLAP,IEMOCAP WA,71.0" in result.output
