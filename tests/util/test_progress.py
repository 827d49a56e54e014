"""Progress that a log file shows: plain lines at a bounded rate when output is not a terminal."""

import os
import re
import subprocess
import sys

import pytest
from benchtest import TINY_SETTINGS, synth_one_take

from bench.api import DataError
from bench.util import progress
from bench.util.progress import bar, line_interval, log_lines

LINE = re.compile(
    r"^(?P<stage>[\w -]+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+), \d+:\d\d:\d\d elapsed, (~\d+:\d\d:\d\d left|done)$"
)


def test_lines_name_stage_unit_progress_elapsed_and_estimate(capsys, monkeypatch):
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "0")
    with bar("fine-tuning", 3, unit="epochs") as advance:
        for _ in range(3):
            advance()
    lines = capsys.readouterr().out.splitlines()
    assert [LINE.match(line)["done"] for line in lines] == ["1", "2", "3"]
    assert lines[0].startswith("fine-tuning: 1/3 epochs, ") and lines[-1].endswith("done")


def test_lines_come_at_a_bounded_rate(capsys, monkeypatch):
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "3600")
    with bar("ACPT", 1000, unit="iterations") as advance:
        for _ in range(1000):
            advance()
    assert capsys.readouterr().out == ""  # quick work: no line, and no closing line either


def test_a_run_of_short_stages_still_writes_a_line_once_the_interval_has_passed(capsys, monkeypatch):
    """No stage is long enough to write a line of its own; the run's count of units, on the same
    clock as the stages, keeps the log from being silent for longer than the interval."""
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(progress._Lines, "last_line", None)
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "30")
    with log_lines("run", 5, "units") as unit_done:
        for _ in range(5):  # a unit: four one-step stages of 5 s each
            for stage in ("fine-tuning", "ACPT", "classifier", "probe"):
                with bar(stage, 1, unit="steps") as advance:
                    now[0] += 5.0
                    advance()
            unit_done()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["run: 2/5 units", "run: 4/5 units", "run: 5/5 units"]
    assert all(LINE.match(line) for line in lines) and lines[-1].endswith("done")


def test_stages_and_the_run_share_one_clock(capsys, monkeypatch):
    """A long stage writes its lines; the run's count then waits its turn instead of adding a
    line of its own seconds later (each stage that wrote a line also closes with one)."""
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(progress._Lines, "last_line", None)
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "30")
    with log_lines("run", 3, "units") as unit_done:
        for _ in range(3):  # a unit: one stage of eight 5 s steps
            with bar("ACPT", 8, unit="steps") as advance:
                for _ in range(8):
                    now[0] += 5.0
                    advance()
            unit_done()
    lines = [line.split(",")[0] for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        "ACPT: 6/8 steps",
        "ACPT: 8/8 steps",
        "ACPT: 4/8 steps",
        "ACPT: 8/8 steps",
        "ACPT: 2/8 steps",
        "ACPT: 8/8 steps",
    ]  # at 30, 60, 90 s, then no run line 10 s later


def test_a_bad_interval_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "soon")
    with pytest.raises(DataError) as err:
        line_interval()
    assert (
        str(err.value)
        == "BENCH_PROGRESS_SECONDS='soon': input should be a valid number, unable to parse string as a number"
    )
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "-1")
    with pytest.raises(DataError, match="BENCH_PROGRESS_SECONDS='-1': input should be greater than or equal to 0"):
        line_interval()


@pytest.mark.slow
def test_bench_run_redirected_to_a_file_writes_progress_lines(tmp_path):
    root = synth_one_take(tmp_path / "synth")
    settings = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    log = tmp_path / "log.txt"
    env = {**os.environ, "BENCH_SYNTH_ROOT": str(root), "BENCH_PROGRESS_SECONDS": "0"}
    with log.open("w") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "run",
                "--seeds",
                "1",
                "--no-baselines",
                "--output",
                str(tmp_path / "runs"),
                *settings,
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    assert done.returncode == 0, done.stderr
    stages = {m["stage"] for m in map(LINE.match, log.read_text().splitlines()) if m}
    assert {"fine-tuning", "ACPT", "run"} <= stages  # the run counts its units too
