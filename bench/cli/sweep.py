"""`bench sweep`: an Optuna study over stage settings, one protocol run (and record) per trial."""

from __future__ import annotations

from os.path import relpath
from typing import Annotated

import typer
from rich.table import Table

from bench.cli.common import out, user_errors
from bench.cli.switches import run_config, with_run_switches

SPACE_HELP = (
    "NAME=SPACE for any stage setting (repeatable): choices 2,4,8 (a grid, each point once) or a range "
    "LOW:HIGH, LOW:HIGH:log, LOW:HIGH:STEP (sampled by TPE; integers if the bounds are)."
)


@with_run_switches
def sweep(
    switches: dict,
    preset: Annotated[
        str | None, typer.Argument(help="prompt-length (acpt.prompt_length 2,4,8,16,32) or loss (softmax, arcface).")
    ] = None,
    param: Annotated[list[str] | None, typer.Option(help=SPACE_HELP)] = None,
    values: Annotated[str | None, typer.Option(help="Comma-separated values replacing the preset's, e.g. 2,4.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna database URL (default: sqlite under <output>/sweeps/).")
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(help="Study to create or resume (default: named from the command).")
    ] = None,
    workers: Annotated[str | None, typer.Option(help="Worker processes sharing the study (default 1).")] = None,
    trials: Annotated[
        str | None, typer.Option(help="Trials the study should have (default: the whole grid, or 20 sampled).")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="What the study maximises: wa (default), ua or f1.")] = None,
) -> None:
    """Sweep prompt length, classifier loss or any setting; resumable, shareable by several workers."""
    from bench.config.settings import SweepSettings
    from bench.sweep import plan as sweep_plan
    from bench.sweep import study as sweeps

    with user_errors():
        if values is not None and preset is None:
            raise ValueError("--values replaces a preset's values: name the preset (prompt-length or loss)")
        options = SweepSettings.from_flags(
            metric=metric, trials=trials, workers=workers, storage=storage, study_name=study_name
        )
        config = run_config(switches)
        specs = list(param or [])
        if values is not None and preset in sweep_plan.PRESETS:
            specs.insert(0, f"{sweep_plan.PRESETS[preset][0]}={values}")
        plan = sweep_plan.make_plan(config, specs, preset=preset, options=options)
        study = sweeps.run_sweep(plan, options.workers)
    out.print(trials_table(study, plan.metric))
    out.print(f"study: {plan.study_name} in {plan.storage}", highlight=False, soft_wrap=True)


def trials_table(study, metric: str) -> Table:
    """Every trial of the study: parameters, state, the metrics and the record it wrote."""
    table = Table(title=f"study {study.study_name}: {metric.upper()} %")
    trials = study.get_trials(deepcopy=False)
    names = sorted({name for t in trials for name in t.params})
    for column in ("#", *names, "state", "WA %", "UA %", "F1 %", "record"):
        table.add_column(
            column, justify="right" if column in ("#", "WA %", "UA %", "F1 %") else "left", overflow="fold"
        )
    for t in trials:
        figures = [f"{100 * t.user_attrs[m]:.2f}" if m in t.user_attrs else "–" for m in ("wa", "ua", "f1")]
        note = (
            relpath(t.user_attrs["record"])
            if "record" in t.user_attrs
            else (
                f"duplicate of #{t.user_attrs['duplicate_of']}"
                if "duplicate_of" in t.user_attrs
                else t.user_attrs.get("error", "")
            )
        )
        table.add_row(str(t.number), *(str(t.params.get(n, "")) for n in names), t.state.name.lower(), *figures, note)
    return table
