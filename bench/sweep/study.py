"""Optuna sweeps over stage settings, where each trial is a protocol run with its own record.

Work shared by all trials is done once. A sweep of ACPT or classifier settings runs (or
finds, since run folders are named by their config) one *base run* with fine-tuning and
the full stage ablation; every trial then loads the base run's fine-tuned checkpoints
(``--checkpoint <base>/checkpoints --no-ablation``) and reruns only ACPT, the classifier and
the evaluation, and the base run's fine-tune row is the baseline a gain is measured from.
The grid point equal to the base run's own settings is not run again: the base run's
record (which has that row already) is its trial's record. A sweep of fine-tuning settings
has no such base: each trial fine-tunes.

A categorical space (``2,4,8``) is a grid: every point is put in the study's queue once,
when the study is created, and workers claim queued trials atomically through the
storage, so several processes, or several machines on one database, split the grid and
none runs a point twice (:mod:`bench.sweep.claims`; a point queued twice is run once, its second
trial marked a duplicate). A space with a range (``1e-4:1e-2:log``) is sampled by
TPE until the study has ``trials`` finished trials. Rerunning the same command (or naming
the study with ``--study-name``) resumes: finished trials are kept, points whose trial
failed or whose worker on this machine died are queued again.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import os
import socket
import time
from pathlib import Path

import optuna
import sqlalchemy
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.trial import TrialState

from bench.config.settings import RunConfig
from bench.protocol.run import run
from bench.results.catalog import MARKER
from bench.results.schema import Record
from bench.sweep.claims import Claims
from bench.sweep.plan import Plan
from bench.util import fileio
from bench.util.progress import console

CREATOR_WAIT_S = 60
STORAGE_ATTEMPTS = 4
TAKEN = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)

optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what the study does


def _storage(given: str) -> optuna.storages.RDBStorage:
    url = given
    scheme, sep, rest = given.partition("://")
    if sep and scheme in ("postgresql", "postgres"):  # SQLAlchemy would pick psycopg 3; bench depends on psycopg2
        url = f"postgresql+psycopg2://{rest}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url)
        except sqlalchemy.exc.DBAPIError as err:  # two workers creating the schema at once: the loser retries
            if attempt + 1 == STORAGE_ATTEMPTS:
                raise ValueError(f"--storage {given}: cannot open ({str(err.orig).splitlines()[0]})") from None
            time.sleep(1 + attempt)
        except Exception as err:  # SQLAlchemy: unknown dialect, missing driver
            raise ValueError(
                f"--storage {given}: cannot open ({type(err).__name__}: {str(err).splitlines()[0]})"
            ) from None


def base_config(plan: Plan) -> RunConfig:
    """The fine-tuned run whose checkpoints and fine-tune row the trials share."""
    config = copy.deepcopy(plan.config)
    config.ablation = True
    return config


def trial_config(plan: Plan, params: dict, base_record: str | None) -> RunConfig:
    config = copy.deepcopy(plan.config)
    config.apply(params)
    config.output = plan.folder
    config.ablation = False
    config.baselines = False
    if base_record is not None:
        config.checkpoint = Path(base_record).parent / "checkpoints"
    return config


def _describe(plan: Plan) -> dict:
    return {"space": [dataclasses.asdict(d) for d in plan.space], "metric": plan.metric}


def prepare(plan: Plan) -> optuna.Study:
    """Run or find the base run, create or resume the study, queue the grid points not yet taken."""
    storage = _storage(plan.storage)
    base_record = str(run(base_config(plan)).path) if plan.reuses_finetune else None
    try:
        study = optuna.create_study(
            study_name=plan.study_name,
            storage=storage,
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=0),
        )
        created = True
    except DuplicatedStudyError:
        study = optuna.load_study(
            study_name=plan.study_name, storage=storage, sampler=optuna.samplers.TPESampler(seed=0)
        )
        created = False
        for _ in range(CREATOR_WAIT_S):  # another machine created it this instant: let it describe the study
            if "space" in study.user_attrs:
                break
            time.sleep(1)
        stored = {k: study.user_attrs.get(k) for k in ("space", "metric")}
        if stored != json.loads(json.dumps(_describe(plan))):
            raise ValueError(
                f"study {plan.study_name!r} in {plan.storage} was made for another space or metric; "
                "give a new --study-name or the same --param values"
            ) from None
    if created:
        for key, value in _describe(plan).items():
            study.set_user_attr(key, value)
        study.set_user_attr("base_record", base_record)
    fileio.atomic_write(
        plan.folder / MARKER,
        json.dumps({"study": plan.study_name, "params": [d.name for d in plan.space]}, indent=1).encode(),
    )
    _fail_dead_workers(study)
    if plan.grid is not None:
        taken = [
            t.params or t.system_attrs.get("fixed_params", {}) for t in study.get_trials(deepcopy=False, states=TAKEN)
        ]
        for point in plan.grid:
            if point not in taken:
                study.enqueue_trial(point)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    console.print(f"study {plan.study_name} ({'new' if created else 'resumed'}): {done} of {plan.trials} trials done")
    return study


def _fail_dead_workers(study: optuna.Study) -> None:
    """Trials left running by a killed worker of this machine fail, so their points are queued again.

    Optuna's own heartbeat (``RDBStorage(heartbeat_interval=...)`` and ``fail_stale_trials``)
    beats only inside ``study.optimize``; trials here are claimed and told by hand
    (:mod:`bench.sweep.claims`), so a worker is known dead by its process id, on its own host.
    """
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(study: optuna.Study, storage, claims: Claims) -> optuna.Trial | None:
    """A queued trial whose grid point this worker claimed (:mod:`bench.sweep.claims`), moved to RUNNING.

    A queued trial of a point another trial holds is a duplicate (two machines enqueued the
    grid at once): it is marked so and stays queued, to be run only if that trial fails.
    """
    failed = lambda trial_id: storage.get_trial(trial_id).state == TrialState.FAIL  # noqa: E731
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(claims.study_id, frozen.number)
        holder = claims.take(frozen.system_attrs.get("fixed_params", {}), trial_id, failed)
        if holder is not None:
            if holder != trial_id and "duplicate_of" not in frozen.user_attrs:
                storage.set_trial_user_attr(trial_id, "duplicate_of", storage.get_trial(holder).number)
            continue
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id)
        except UpdateFinishedTrialError:
            continue
    return None


def work(plan: Plan, threads: int | None = None) -> list[int]:
    """One worker: claim and run trials until the grid is taken or the study has enough trials."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    storage = _storage(plan.storage)
    study = optuna.load_study(study_name=plan.study_name, storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
    claims = Claims(storage.engine, storage.get_study_id_from_name(plan.study_name))
    base_record = study.user_attrs.get("base_record")
    worker = f"{socket.gethostname()}:{os.getpid()}"
    ran = []
    while True:
        busy = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE))
        if len(busy) >= plan.trials:
            break
        trial = _claim(study, storage, claims)
        if trial is None:
            if plan.grid is not None:
                break
            trial = study.ask()
        trial.set_user_attr("worker", worker)
        params = {d.name: d.suggest(trial) for d in plan.space}
        console.print(f"trial {trial.number} ({worker}): {params}")
        try:
            if base_record is not None and all(plan.config.get(k) == v for k, v in params.items()):
                record = Record.read(base_record)  # the base run computed this point
            else:
                record = run(trial_config(plan, params, base_record))
        except BaseException as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            study.tell(trial, state=TrialState.FAIL)
            raise
        row = record.main_row()
        trial.set_user_attr("record", str(record.path.resolve()))
        for metric in ("wa", "ua", "f1"):
            trial.set_user_attr(metric, getattr(row, metric))
        study.tell(trial, getattr(row, plan.metric))
        ran.append(trial.number)
    return ran


def run_sweep(plan: Plan, workers: int = 1) -> optuna.Study:
    """Prepare the study, then run ``workers`` worker processes (or this one) until it is done
    (``workers`` is checked by bench.config.settings.SweepSettings)."""
    study = prepare(plan)
    if workers == 1:
        work(plan)
    else:
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        processes = [context.Process(target=work, args=(plan, threads)) for _ in range(workers)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        failed = [p.exitcode for p in processes if p.exitcode != 0]
        if failed:
            raise RuntimeError(
                f"{len(failed)} of {workers} sweep workers failed (exit codes {failed}); rerun to resume"
            )
    return study
