"""A damaged run folder is repaired by the same command: a unit file, the run's own checkpoint
or its record that cannot be read (or was edited) is named in one line, moved into
``<run>/damaged/`` and computed again, to the same numbers."""

import json
import re
import shutil
from pathlib import Path

import pytest
from benchtest import synth_one_take, tiny_args
from typer.testing import CliRunner

from bench.cli import app
from bench.results import records
from bench.results.schema import Record, Unit

runner = CliRunner()
FLAGS = ("--no-baselines",)


def bench(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "250"})


def numbers(record):
    units = sorted((u.seed, u.fold, u.finetune, u.method, u.arm, u.wa, u.ua, u.f1) for u in record.units)
    summary = [(r.key, r.wa, r.ua, r.f1, r.wa_std, r.ua_std, r.f1_std) for r in record.summary]
    return units, summary


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run: the data, the run's folder, its record."""
    base = tmp_path_factory.mktemp("repair")
    data = synth_one_take(base / "synth")
    result = bench(*tiny_args("synth", data, base / "runs", *FLAGS))
    assert result.exit_code == 0, result.output
    path = Path(re.search(r"record: (\S+)", result.output).group(1))
    return data, path.parent, Record.read(path)


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def edit_summary(path: Path) -> None:
    data = json.loads(path.read_text())
    data["summary"][-1]["wa"] = 0.99
    path.write_text(json.dumps(data))


def cut_before_its_unit_was_written(path: Path) -> None:
    """Killed after saving the checkpoint, before the unit: the next run loads it, if it can."""
    cut(path)
    (path.parents[1] / "units" / "seed0-half1-finetuned.json").unlink()


DAMAGE = {
    "truncated unit": ("units/seed0-half1-finetuned.json", cut, "not a readable result record"),
    "truncated own checkpoint": ("checkpoints/half1-seed0.pt", cut, "not a readable checkpoint"),
    "truncated own checkpoint, unit to finish": (
        "checkpoints/half1-seed0.pt",
        cut_before_its_unit_was_written,
        "not a readable checkpoint",
    ),
    "truncated record": ("record.json", cut, "not a readable result record"),
    "edited record": ("record.json", edit_summary, "the summary does not follow from its units"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", DAMAGE)
def test_reliability_a_damaged_run_folder_is_repaired_by_the_same_command(finished, tmp_path, case):
    data, original, record = finished
    run = tmp_path / "runs" / original.name
    shutil.copytree(original, run)
    name, damage, why = DAMAGE[case]
    damage(run / name)
    damaged = (run / name).read_bytes()
    if name.startswith("checkpoints/"):  # given with --checkpoint it is the user's file: an error, left in place
        given = bench(*tiny_args("synth", data, tmp_path / "other", *FLAGS, "--checkpoint", str(run / "checkpoints")))
        assert given.exit_code == 2 and f"error: {run / name}: not a readable checkpoint" in given.output
        assert (run / name).read_bytes() == damaged and not (run / "damaged").exists()

    result = bench(*tiny_args("synth", data, tmp_path / "runs", *FLAGS))

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("damaged:")]
    assert len(lines) == 1, result.output
    print(lines[0])
    moved = next((run / "damaged").iterdir())
    assert re.fullmatch(re.escape(Path(name).name) + r"\.\d{8}T\d{6}Z", moved.name)
    assert lines[0].startswith(f"damaged: {run / name}: {why}") and f"; moved to {moved}, computed again" in lines[0]
    assert moved.read_bytes() == damaged  # set aside whole, never deleted
    repaired = Record.read(run / "record.json")
    assert numbers(repaired) == numbers(record)
    for unit in (run / "units").iterdir():
        Unit.read(unit)
    for checkpoint in (run / "checkpoints").iterdir():
        records.load_checkpoint(checkpoint)
    again = bench(*tiny_args("synth", data, tmp_path / "runs", *FLAGS))
    assert again.exit_code == 0 and "damaged:" not in again.output and len(list((run / "damaged").iterdir())) == 1
