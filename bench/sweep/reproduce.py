"""What a paper table needs: the runs and sweeps, the files each needs, and which are already recorded.

comparison: one full run per backbone x dataset; ablation: one full run (it reports all
four stage rows) of the method's backbone per dataset, the same run the comparison uses;
loss and prompt-length: one sweep per dataset (``bench sweep loss`` / ``prompt-length``),
whose base run is that same full run; emobox: one full run (CLEP-DG's stages and the
frozen-feature baseline) per backbone on each corpus EmoBox shares, on EmoBox's folds. A run counts as recorded when a record under the
output folder has the same settings; a sweep when its study has all its trials.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from bench.api import DataError
from bench.config.settings import NOT_IDENTITY, RunConfig, SweepSettings
from bench.data import emobox
from bench.data.roots import resolve_root
from bench.plugins import registry
from bench.protocol.run import run
from bench.results import references
from bench.results.catalog import Found, find
from bench.sweep import study as sweep
from bench.sweep.plan import Plan, default_storage, make_plan, sweep_folder

TABLES = ("comparison", "ablation", "loss", "prompt-length", "emobox")


@dataclass
class Item:
    """One run (or sweep) a table needs, with the files it needs and whether it is done."""

    config: RunConfig
    sweep: str | None = None
    needs: list[tuple[str, bool]] = field(default_factory=list)
    recorded: str | None = None
    data_found: bool = True

    @property
    def label(self) -> str:
        return f"{self.sweep + ' sweep' if self.sweep else 'run'} {self.config.backbone} on {self.config.dataset}"


def _settings(config: dict) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in NOT_IDENTITY}, sort_keys=True, default=str)


def _needs(config: RunConfig) -> list[tuple[str, bool]]:
    """Backbone files (some plugins list alternatives, so the run itself decides) and the corpus root, last."""
    needs = []
    try:
        files = registry.get("backbone", config.backbone).required_files()
        needs += [(f"{f.what}: {f.path}" + (f" (or set {f.env_var})" if f.env_var else ""), f.found) for f in files]
    except registry.PluginError as err:
        needs.append((str(err), False))
    if config.protocol in emobox.PROTOCOLS:
        try:
            needs.append((f"EmoBox partitions: {emobox.data_dir(config.emobox)}", True))
        except DataError as err:
            needs.append((str(err), False))
    try:
        loader = registry.dataset(config.dataset)
        root = resolve_root(loader, config.data_root)
        needs.append((f"{config.dataset} corpus: {root or 'generated locally'}", True))
    except (DataError, registry.PluginError) as err:
        needs.append((str(err), False))
    return needs


def _recorded_run(config: RunConfig, found: list[Found]) -> str | None:
    wanted = _settings(config.model_dump(mode="json"))
    matches = [f for f in found if not f.swept and _settings(f.record.config.model_dump(exclude_unset=True)) == wanted]
    return str(max(matches, key=lambda f: f.order).path) if matches else None


def _sweep_done(plan: Plan) -> str | None:
    database = sweep_folder(plan.config.output) / "optuna.db"
    if plan.storage == default_storage(plan.config.output) and not database.exists():
        return None  # a dry run must not create the database
    try:
        study = optuna.load_study(study_name=plan.study_name, storage=plan.storage)
    except KeyError:
        return None
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    return f"study {plan.study_name} ({done} trials)" if done >= plan.trials else None


def sweep_plan(config: RunConfig, kind: str) -> Plan:
    return make_plan(
        config,
        [],
        preset=kind,
        options=SweepSettings(study_name=f"reproduce-{kind}-{config.backbone}-{config.dataset}"),
    )


def plan(table: str, template: RunConfig, backbones: list[str] | None, datasets: list[str] | None) -> list[Item]:
    """The runs or sweeps ``table`` needs, each with its files and its record if there is one."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r} (choose from {', '.join(TABLES)})")
    default_backbones = list(references.BACKBONES) if table == "comparison" else [references.METHOD_BACKBONE]
    default_datasets = emobox.SHARED if table == "emobox" else references.DATASETS
    found = find(template.output)[0] if Path(template.output).is_dir() else []
    items = []
    for backbone in backbones or default_backbones:
        for dataset in datasets or list(default_datasets):
            config = copy.deepcopy(template)
            config.backbone, config.dataset = backbone, dataset
            config.protocol = "emobox" if table == "emobox" else config.protocol
            needs = _needs(config)
            if table in ("comparison", "ablation", "emobox"):
                runnable = all(found for _, found in needs[-2:]) if table == "emobox" else needs[-1][1]
                item = Item(config, None, needs, _recorded_run(config, found), runnable)
            else:
                item = Item(config, table, needs, _sweep_done(sweep_plan(config, table)), needs[-1][1])
            items.append(item)
    return items


def execute(item: Item) -> str:
    """Run (or resume) one item; returns where its results are."""
    if item.sweep is None:
        return str(run(item.config).path)
    plan = sweep_plan(item.config, item.sweep)
    sweep.run_sweep(plan)
    return f"study {plan.study_name}"
