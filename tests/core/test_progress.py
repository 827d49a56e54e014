"""Progress that a log file shows: plain lines at a bounded rate when output is not a terminal."""

import os
import re
import subprocess
import sys

import pytest

from bench.progress import bar, line_interval
from benchtest import TINY_SETTINGS, synth_one_take

LINE = re.compile(r"^(?P<stage>[\w -]+): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+), \d+:\d\d:\d\d elapsed, (~\d+:\d\d:\d\d left|done)$")


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


def test_a_bad_interval_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "soon")
    with pytest.raises(ValueError, match="BENCH_PROGRESS_SECONDS must be a number of seconds >= 0, not 'soon'"):
        line_interval()


def test_bench_run_redirected_to_a_file_writes_progress_lines(tmp_path):
    root = synth_one_take(tmp_path / "synth")
    settings = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    log = tmp_path / "log.txt"
    env = {**os.environ, "BENCH_SYNTH_ROOT": str(root), "BENCH_PROGRESS_SECONDS": "0"}
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "bench", "run", "--seeds", "1", "--no-baselines",
                               "--output", str(tmp_path / "runs"), *settings],
                              stdout=out, stderr=subprocess.PIPE, text=True, env=env)
    assert done.returncode == 0, done.stderr
    stages = {m["stage"] for m in map(LINE.match, log.read_text().splitlines()) if m}
    assert {"fine-tuning", "ACPT"} <= stages
