"""A run killed with SIGKILL at random moments resumes to the same record as an uninterrupted one."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from benchtest import TINY_SETTINGS

from bench.results.schema import Record, Unit

KILLS = 3
UNITS = 2 * 2 * 2  # seeds x folds x weight states of the command below


def command(output):
    settings = [a for k, v in TINY_SETTINGS.items() for a in ("--set", f"{k}={v}")]
    return [sys.executable, "-m", "bench", "run", "--seeds", "2", "--no-baselines", "--output", str(output), *settings]


def finish(output):
    result = subprocess.run(command(output), capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr[-2000:]
    return Record.read(re.search(r"record: (\S+)", result.stdout).group(1))


def rows(record):
    return sorted((u.seed, u.fold, u.finetune, u.method, u.arm, u.wa, u.ua, u.f1) for u in record.units)


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_table(tmp_path):
    rng = random.Random(7)
    killed = tmp_path / "killed"
    survived = 0
    for attempt in range(KILLS):
        # a random moment in terms of progress: after a random number of finished units (0: during
        # start-up or embedding), plus a random fraction of a second, wherever that falls
        target = rng.randrange(attempt * UNITS // KILLS, (attempt + 1) * UNITS // KILLS)
        process = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None and len(list(killed.glob("*/units/*.json"))) < target:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            survived += 1
        process.wait()
    resumed = finish(killed)
    reference = finish(tmp_path / "reference")
    print(f"{survived} of {KILLS} SIGKILLs landed mid-run; resumed units equal the uninterrupted run's")
    assert survived >= 1  # at least one kill landed mid-run
    assert rows(resumed) == rows(reference)
    for folder in (killed,):
        leftovers = [p for p in folder.rglob("*.json") if not p.name.startswith(".")]
        for path in leftovers:
            (Record if path.name == "record.json" else Unit).read(path)  # complete files; partial writes stay hidden
