"""Optuna sweeps on the embedded defaults (mini-clap on synth, tiny settings, 1 seed).

All tests share one runs folder, so the base run (the only fine-tune) is made once and
every later sweep finds it; trials only rerun ACPT, the classifier and the evaluation.
"""

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from benchtest import TINY_SETTINGS
from typer.testing import CliRunner

from bench.cli import app
from bench.results.schema import Record
from bench.sweep import study as sweeps
from bench.sweep.claims import Claims

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


@pytest.mark.slow
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
    assert sorted(t.params["acpt.prompt_length"] for t in trials) == [2, 4]
    assert first_record.stat().st_mtime_ns == stamp  # the finished trial was not run again
    base = Record.read(study.user_attrs["base_record"])
    assert {r.label for r in base.summary} >= {"fine-tune", "fine-tune + ACPT"}
    base_tokens = int(TINY_SETTINGS["acpt.prompt_length"])
    for trial in trials:
        record = Record.read(trial.user_attrs["record"])
        assert record.config.acpt_settings["prompt_length"] == trial.params["acpt.prompt_length"]
        assert trial.value == trial.user_attrs["wa"]
        if trial.params["acpt.prompt_length"] == base_tokens:  # the base run's own point: its record, not run again
            assert trial.user_attrs["record"] == str(Path(study.user_attrs["base_record"]).resolve())
            continue
        assert record.finetunes == []  # fine-tuned weights came from the base run's checkpoints
        assert Path(record.config.checkpoint).parent == Path(study.user_attrs["base_record"]).parent

    third = bench_sweep(runs, "prompt-length", "--values", "2,4", "--study-name", "tokens")
    assert "(resumed): 2 of 2 trials done" in third.output
    assert len(study_of(runs, "tokens").trials) == 2

    table = runner.invoke(app, ["table", "prompt-length", "--runs", str(runs), "--format", "json"])
    assert table.exit_code == 0, table.output
    document = json.loads(table.output[: table.output.rindex("}") + 1])
    assert document["columns"] == ["2", "4"]
    assert all(cell["mean"] is not None for cell in document["cells"])
    assert (runs / "prompt-length.png").stat().st_size > 1000


@pytest.mark.slow  # reads the study the sweep test above made in the module's runs folder
def test_the_base_point_trial_is_what_running_it_would_give(runs, tmp_path):
    """The trial at the base run's own settings reuses the base record: running that trial
    (checkpoints of the base run, no ablation) gives the same fine-tune + ACPT units."""
    study = study_of(runs, "tokens")
    base = Record.read(study.user_attrs["base_record"])
    checkpoints = Path(study.user_attrs["base_record"]).parent / "checkpoints"
    result = runner.invoke(
        app,
        [
            "run",
            "--seeds",
            "1",
            "--output",
            str(tmp_path),
            *SETTINGS,
            "--checkpoint",
            str(checkpoints),
            "--no-ablation",
            "--no-baselines",
        ],
    )
    assert result.exit_code == 0, result.output
    ran = Record.read(next(tmp_path.rglob("record.json")))
    both = lambda record: record.units_of((True, "clep-dg", "ACPT prompts"))  # noqa: E731
    assert both(ran) == both(base) and len(both(ran)) == 2


def worker_of(trial):
    return trial.user_attrs["worker"]


@pytest.mark.slow
def test_two_worker_processes_on_one_sqlite_file_split_the_trials(runs):
    bench_sweep(runs, "prompt-length", "--values", "3,5", "--workers", "2", "--study-name", "split")
    study = study_of(runs, "split")
    trials = complete(study)
    assert sorted(t.params["acpt.prompt_length"] for t in trials) == [3, 5]
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
    command = [
        sys.executable,
        "-m",
        "bench",
        *sweep_args(runs, "prompt-length", "--values", "3,5"),
        "--storage",
        postgres_url,
        "--study-name",
        name,
    ]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    study = study_of(runs, name, postgres_url)
    trials = complete(study)
    assert sorted(t.params["acpt.prompt_length"] for t in trials) == [3, 5]  # each point done once
    extra = [t for t in study.trials if t.number not in {c.number for c in trials}]  # a racing second enqueue
    assert all(t.state == optuna.trial.TrialState.WAITING or "duplicate_of" in t.user_attrs for t in extra)  # never run


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "empty search space"),
        (["--param", "acpt.prompt_length"], "--param expects NAME=SPACE"),
        (["--param", "acpt.nope=1,2"], "unknown setting 'acpt.nope'"),
        (["--param", "acpt.lr=1e-2:1e-4:log"], "LOW < HIGH"),
        (["--param", "acpt.lr=0:1e-2:log"], "a log range needs LOW > 0"),
        (
            ["--param", "classifier.loss=softmax,hinge"],
            "setting classifier.loss=hinge: input should be 'arcface' or 'softmax'",
        ),
        (["fast"], "unknown sweep 'fast'"),
        (["--param", "acpt.prompt_length=2,4", "--storage", "nosuchdb://x"], "--storage nosuchdb://x: cannot open"),
    ],
)
def test_bad_sweeps_are_one_line_errors(tmp_path, args, message):
    result = runner.invoke(app, sweep_args(tmp_path, *args))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# --- claims: every grid point runs once, whatever the race ---------------------------------------

GRID = [{"x": x} for x in range(6)]


def claiming_worker(url, name, barrier):
    """A worker that claims and finishes trials as fast as the storage allows (the race at its worst)."""
    storage = sweeps._storage(url)
    study = optuna.load_study(study_name=name, storage=storage)
    claims = Claims(storage.engine, storage.get_study_id_from_name(name))
    barrier.wait()
    while (trial := sweeps._claim(study, storage, claims)) is not None:
        trial.suggest_categorical("x", [p["x"] for p in GRID])
        trial.set_user_attr("worker", os.getpid())
        study.tell(trial, 0.0)


def race(url, name, workers=3, enqueues=1):
    storage = sweeps._storage(url)
    study = optuna.create_study(study_name=name, storage=storage)
    for _ in range(enqueues):  # two machines that enqueue the grid at the same time queue it twice
        for point in GRID:
            study.enqueue_trial(point, skip_if_exists=False)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers)
    processes = [context.Process(target=claiming_worker, args=(url, name, barrier)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers  # a worker that loses a race moves on
    return optuna.load_study(study_name=name, storage=url)


@pytest.mark.slow
@pytest.mark.parametrize("enqueues", [1, 2])
def test_racing_workers_claim_every_point_exactly_once_on_sqlite(tmp_path, enqueues):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    for attempt in range(12):
        study = race(url, f"race-{attempt}", enqueues=enqueues)
        done = sorted(t.params["x"] for t in complete(study))
        assert done == [p["x"] for p in GRID], f"attempt {attempt}: {done}"
        waiting = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
        assert len(waiting) == len(GRID) * (enqueues - 1)
        assert all("duplicate_of" in t.user_attrs for t in waiting)


def test_racing_workers_claim_every_point_exactly_once_on_postgresql(postgres_url):
    for attempt in range(3):
        study = race(postgres_url, f"race-{os.getpid()}-{attempt}", enqueues=2)
        assert sorted(t.params["x"] for t in complete(study)) == [p["x"] for p in GRID]


def test_a_failed_point_is_taken_over_by_exactly_one_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'retry.db'}"
    storage = sweeps._storage(url)
    study = optuna.create_study(study_name="retry", storage=storage)
    claims = Claims(storage.engine, storage.get_study_id_from_name("retry"))
    study.enqueue_trial({"x": 0})
    first = sweeps._claim(study, storage, claims)
    study.tell(first, state=optuna.trial.TrialState.FAIL)  # its worker raised
    study.enqueue_trial({"x": 0})  # a resumed sweep queues the failed point again
    again = sweeps._claim(study, storage, claims)
    assert again is not None and again.number == first.number + 1
    assert sweeps._claim(study, storage, claims) is None


@pytest.mark.slow
def test_three_workers_on_fresh_sqlite_studies_run_each_point_once_and_print_the_table(runs):
    for attempt in range(3):
        name = f"three-{attempt}"
        result = bench_sweep(runs, "prompt-length", "--values", "3,5,6", "--workers", "3", "--study-name", name)
        assert f"study {name}: WA %" in result.output  # the table was printed
        study = study_of(runs, name)
        assert sorted(t.params["acpt.prompt_length"] for t in complete(study)) == [3, 5, 6]
        assert len(study.trials) == 3  # nothing ran twice, nothing failed


def test_a_plain_postgresql_url_opens_with_the_installed_driver(postgres_url):
    plain = "postgresql://" + postgres_url.partition("://")[2]
    storage = sweeps._storage(plain)
    assert storage.engine.dialect.driver == "psycopg2"


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgresql://bench@127.0.0.1:1/none", "--storage postgresql://bench@127.0.0.1:1/none: cannot open"),
        ("postgres://bench@127.0.0.1:1/none", "--storage postgres://bench@127.0.0.1:1/none: cannot open"),
        ("postgresql+nodriver://x/y", "--storage postgresql+nodriver://x/y: cannot open"),
        ("mysql://x@127.0.0.1:1/y", "--storage mysql://x@127.0.0.1:1/y: cannot open"),
        ("not a url", "--storage not a url: cannot open"),
    ],
)
@pytest.mark.slow
def test_bad_storage_urls_are_one_line_errors(url, message):
    with pytest.raises(ValueError) as caught:
        sweeps._storage(url)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
