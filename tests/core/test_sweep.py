"""Optuna sweeps on the embedded defaults (mini-clap on synth, tiny settings, 1 seed).

All tests share one runs folder, so the base run (the only fine-tune) is made once and
every later sweep finds it; trials only rerun ACPT, the classifier and the evaluation.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from bench import records
from bench.cli import app
from benchtest import TINY_SETTINGS

runner = CliRunner()
SETTINGS = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]


def sweep_args(output, *extra):
    return ["sweep", *extra, "--seeds", "1", "--output", str(output), *SETTINGS]


def bench_sweep(output, *extra):
    result = runner.invoke(app, sweep_args(output, *extra))
    assert result.exit_code == 0, result.output
    return result


def study_of(output, name, storage=None):
    return optuna.load_study(study_name=name, storage=storage or f"sqlite:///{output / 'sweeps' / 'optuna.db'}")


def complete(study):
    return study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def test_a_sweep_records_every_trial_resumes_by_name_and_tables_list_both(runs):
    first = bench_sweep(runs, "prompt-length", "--values", "2,4", "--trials", "1", "--study-name", "tokens")
    assert "(new): 0 of 1 trials done" in first.output
    study = study_of(runs, "tokens")
    [done] = complete(study)
    first_record = Path(done.user_attrs["record"])
    stamp = first_record.stat().st_mtime_ns

    again = bench_sweep(runs, "prompt-length", "--values", "2,4", "--study-name", "tokens")
    assert "(resumed): 1 of 2 trials done" in again.output
    trials = complete(study_of(runs, "tokens"))
    assert sorted(t.params["acpt.n_tokens"] for t in trials) == [2, 4]
    assert first_record.stat().st_mtime_ns == stamp  # the finished trial was not run again
    base = records.read(study.user_attrs["base_record"])
    assert {r["row"] for r in base["summary"]} >= {"fine-tune", "fine-tune + ACPT"}
    base_tokens = int(TINY_SETTINGS["acpt.n_tokens"])
    for trial in trials:
        record = records.read(trial.user_attrs["record"])
        assert record["config"]["acpt_settings"]["n_tokens"] == trial.params["acpt.n_tokens"]
        assert trial.value == trial.user_attrs["wa"]
        if trial.params["acpt.n_tokens"] == base_tokens:  # the base run's own point: its record, not run again
            assert trial.user_attrs["record"] == str(Path(study.user_attrs["base_record"]).resolve())
            continue
        assert record["finetunes"] == []  # fine-tuned weights came from the base run's checkpoints
        assert Path(record["config"]["checkpoint"]).parent == Path(study.user_attrs["base_record"]).parent

    third = bench_sweep(runs, "prompt-length", "--values", "2,4", "--study-name", "tokens")
    assert "(resumed): 2 of 2 trials done" in third.output
    assert len(study_of(runs, "tokens").trials) == 2

    table = runner.invoke(app, ["table", "prompt-length", "--runs", str(runs), "--format", "json"])
    assert table.exit_code == 0, table.output
    document = json.loads(table.output[: table.output.rindex("}") + 1])
    assert document["columns"] == ["2", "4"]
    assert all(cell["mean"] is not None for cell in document["cells"])
    assert (runs / "prompt-length.png").stat().st_size > 1000


def test_the_base_point_trial_is_what_running_it_would_give(runs, tmp_path):
    """The trial at the base run's own settings reuses the base record: running that trial
    (checkpoints of the base run, no ablation) gives the same fine-tune + ACPT units."""
    study = study_of(runs, "tokens")
    base = records.read(study.user_attrs["base_record"])
    checkpoints = Path(study.user_attrs["base_record"]).parent / "checkpoints"
    result = runner.invoke(app, [
        "run", "--seeds", "1", "--output", str(tmp_path), *SETTINGS, "--checkpoint", str(checkpoints),
        "--no-ablation", "--no-baselines",
    ])
    assert result.exit_code == 0, result.output
    ran = records.read(next(tmp_path.rglob("record.json")))
    both = lambda record: [u for u in record["units"] if u["finetune"] and u["acpt"] and u["method"] == "cross-modal"]  # noqa: E731
    assert both(ran) == both(base) and len(both(ran)) == 2


def worker_of(trial):
    return trial.user_attrs["worker"]


def test_two_worker_processes_on_one_sqlite_file_split_the_trials(runs):
    bench_sweep(runs, "prompt-length", "--values", "3,5", "--workers", "2", "--study-name", "split")
    study = study_of(runs, "split")
    trials = complete(study)
    assert sorted(t.params["acpt.n_tokens"] for t in trials) == [3, 5]
    assert len(study.trials) == 2  # nothing duplicated, nothing failed
    assert len({worker_of(t) for t in trials}) == 2
    assert str(os.getpid()) not in {worker_of(t).rpartition(":")[2] for t in trials}


@pytest.fixture
def postgres_url():
    url = os.environ.get("BENCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: BENCH_TEST_POSTGRES_URL is unset (bash .ci/run starts one on loopback)")
    return url


def test_two_machines_share_one_study_on_postgresql(runs, postgres_url):
    name = f"shared-{os.getpid()}"
    command = [sys.executable, "-m", "bench", *sweep_args(runs, "prompt-length", "--values", "3,5"),
               "--storage", postgres_url, "--study-name", name]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = study_of(runs, name, postgres_url)
    trials = complete(study)
    assert sorted(t.params["acpt.n_tokens"] for t in trials) == [3, 5]  # each point done once
    duplicates = [t for t in study.trials if "duplicate_of" in t.user_attrs]
    assert len(study.trials) == 2 + len(duplicates)  # a racing second enqueue is never run


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "empty search space"),
        (["--param", "acpt.n_tokens"], "--param expects NAME=SPACE"),
        (["--param", "acpt.nope=1,2"], "unknown setting 'acpt.nope'"),
        (["--param", "acpt.lr=1e-2:1e-4:log"], "LOW < HIGH"),
        (["--param", "acpt.lr=0:1e-2:log"], "a log range needs LOW > 0"),
        (["--param", "classifier.loss=softmax,hinge"], "setting classifier.loss=hinge: input should be 'arcface' or 'softmax'"),
        (["fast"], "unknown sweep 'fast'"),
        (["--param", "acpt.n_tokens=2,4", "--storage", "nosuchdb://x"], "--storage nosuchdb://x: cannot open"),
    ],
)
def test_bad_sweeps_are_one_line_errors(tmp_path, args, message):
    result = runner.invoke(app, sweep_args(tmp_path, *args))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
