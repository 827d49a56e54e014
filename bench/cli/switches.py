"""The switches of a run, shared by `bench run` and `bench sweep`, and how they become a RunConfig.

Every switch defaults to "not given", so precedence is plain: defaults < profile < ``--from``
record < ``--config`` file < flags < ``--set``; all of it is checked by bench.settings.
"""

import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer


def _switch(name: str, annotation, help: str, flag: str | None = None) -> inspect.Parameter:
    option = typer.Option(*([flag] if flag else []), help=help)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[annotation, option])


STAGES = {
    "finetune": "Stage 1: contrastive fine-tuning.",
    "acpt": "Stage 2: acoustic context prompt tuning.",
    "classifier": "Stage 3: cross-modal classifier (else nearest prompt).",
    "ablation": "Also report the rows with stages switched off.",
    "baselines": "Also report zero-shot and linear-probe baselines.",
}
RUN_SWITCHES = [
    _switch("backbone", Optional[str], "Backbone plugin name (see `bench list`; default mini-clap)."),
    _switch("dataset", Optional[str], "Dataset plugin name to evaluate on (default synth)."),
    _switch("data_root", Optional[Path], "Root folder of the evaluated corpus."),
    _switch("protocol", Optional[str], "Fold protocol; default: the dataset's first."),
    _switch("finetune_on", Optional[str], "Comma-separated fine-tuning corpora (default: the evaluated one, fold-aware)."),
    _switch("seeds", Optional[str], "Number of seeds 0..N-1 (default 3)."),
    *(_switch(name, Optional[bool], help) for name, help in STAGES.items()),
    _switch("prompt_length", Optional[str], "ACPT tokens per soundscape (paper: 8)."),
    _switch("classifier_loss", Optional[str], "arcface (paper) or softmax."),
    _switch("checkpoint", Optional[Path], "Fine-tuned weights: a file from `bench finetune`, or a run's checkpoints/ folder."),
    _switch("device", Optional[str], "auto (default), cpu, cuda or cuda:N."),
    _switch("output", Optional[Path], "Folder for run directories (default runs)."),
    _switch("profile", Optional[str], "paper (defaults of the paper) or quick (fewer seeds, shorter ACPT)."),
    _switch("backbone_opt", Optional[list[str]], "Backbone setting KEY=VALUE (repeatable)."),
    _switch("set_", Optional[list[str]], "Any setting by name, e.g. finetune.epochs=10 (repeatable).", "--set"),
    _switch("config", Optional[Path], "TOML or YAML file of settings (flags and --set win over it)."),
    _switch("from_", Optional[Path], "A record.json: run exactly what it ran (flags and --set win over it).", "--from"),
]
FLAG_SETTINGS = {"prompt_length": "acpt.n_tokens", "classifier_loss": "classifier.loss"}


def with_run_switches(command):
    """Give a Typer command every run switch; it receives them as ``switches`` (a dict)."""
    hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values() if p.name != "switches"]

    @functools.wraps(command)
    def wrapper(**kwargs):
        switches = {p.name: kwargs.pop(p.name) for p in RUN_SWITCHES}
        return command(switches=switches, **kwargs)

    wrapper.__signature__ = inspect.Signature([*own, *RUN_SWITCHES])
    wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}
    del wrapper.__wrapped__
    return wrapper


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def run_config(switches: dict):
    """The RunConfig the switches describe, every value checked (bench.settings.SettingError)."""
    from bench import records, settings

    given = {k: v for k, v in switches.items() if v is not None}
    base = {}
    if "from_" in given:
        base.update(records.read(given.pop("from_"))["config"])
    if "config" in given:
        base.update(settings.read_file(given.pop("config")))
    config = settings.RunConfig()
    config.apply({"profile": given.pop("profile", base.pop("profile", "paper"))})
    config.apply(settings.PROFILES[config.profile])
    config.apply(base)
    options = parse_pairs(given.pop("backbone_opt", None), "--backbone-opt")
    overrides = parse_pairs(given.pop("set_", None), "--set")
    config.apply({FLAG_SETTINGS.get(k, k): v for k, v in given.items()})
    config.apply({"backbone_options": {**config.backbone_options, **options}, **overrides})
    return config
