"""The switches of a run, shared by `bench run` and `bench sweep`, and how they become a RunConfig.

Every switch defaults to "not given", so precedence is plain: defaults < profile < ``--from``
record < ``--config`` file < flags < ``--set``; all of it is checked by bench.config.settings.
"""

import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer


def _switch(name: str, annotation, help: str, flag: str | None = None, metavar: str | None = None) -> inspect.Parameter:
    option = typer.Option(*([flag] if flag else []), help=help, metavar=metavar)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[annotation, option]
    )


TEXT = {  # read as text and checked by bench.config.settings, so every bad value gets the same one line
    "backbone": "Backbone plugin name (see `bench list`; default mini-clap).",
    "dataset": "Dataset plugin name to evaluate on (default synth).",
    "protocol": "Fold protocol; default: the dataset's first (emobox, emobox-track2: EmoBox's).",
    "finetune_on": "Comma-separated fine-tuning corpora (default: the evaluated one, fold-aware).",
    "seeds": "Number of seeds 0..N-1 (default 3).",
    "prompt_length": "ACPT tokens per soundscape (paper: 8).",
    "classifier_loss": "arcface (paper) or softmax.",
    "test_conditions": "Acoustic conditions to test under beside clean, e.g. street@5dB,telephone,reverb.",
    "finetune_conditions": "Acoustic conditions fine-tuning sees beside clean (paper: none).",
    "device": "auto (default), cpu, cuda or cuda:N.",
    "profile": "paper (defaults of the paper) or quick (fewer seeds, shorter ACPT).",
    "shots": "Few-shot: K labelled clips per class of each fold's training part (methods that use it: selm).",
}
PATHS = {
    "data_root": "Root folder of the evaluated corpus.",
    "emobox": "EmoBox's data/ folder for the emobox protocols (or BENCH_EMOBOX_DIR).",
    "checkpoint": "Fine-tuned weights: a file from `bench finetune`, or a run's checkpoints/ folder.",
    "output": "Folder for run directories (default runs).",
    "config": "TOML or YAML file of settings (flags and --set win over it).",
}
STAGES = {
    "finetune": "Stage 1: contrastive fine-tuning.",
    "acpt": "Stage 2: acoustic context prompt tuning.",
    "classifier": "Stage 3: cross-modal classifier (else nearest prompt).",
    "ablation": "Also report the rows with stages switched off.",
    "baselines": "Also report zero-shot and linear-probe baselines.",
}
RUN_SWITCHES = [
    *(_switch(name, Optional[str], help) for name, help in TEXT.items()),
    # as text, so an empty value reaches the settings' check (a Path of "" is ".", the working folder)
    *(_switch(name, Optional[str], help, metavar="PATH") for name, help in PATHS.items()),
    *(_switch(name, Optional[bool], help) for name, help in STAGES.items()),
    _switch(
        "method",
        Optional[list[str]],
        "Method(s) to compute, repeatable or comma-separated (see `bench list`; default: clep-dg plus the baselines).",
        "--method",
    ),
    _switch("backbone_opt", Optional[list[str]], "Backbone setting KEY=VALUE (repeatable)."),
    _switch("set_", Optional[list[str]], "Any setting by name, e.g. finetune.epochs=10 (repeatable).", "--set"),
    _switch("from_", Optional[Path], "A record.json: run exactly what it ran (flags and --set win over it).", "--from"),
]
FLAG_SETTINGS = {"prompt_length": "acpt.prompt_length", "classifier_loss": "classifier.loss"}


def with_run_switches(command):
    """Give a Typer command every run switch; it receives them as ``switches`` (a dict)."""
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name != "switches"
    ]

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
    """The RunConfig the switches describe, every value checked (bench.config.settings.SettingError)."""
    from bench.config import settings
    from bench.results.schema import Record

    given = {k: v for k, v in switches.items() if v is not None}
    base = {}
    if "from_" in given:
        base.update(Record.read(given.pop("from_")).config.model_dump(exclude_unset=True))
    if "config" in given:
        base.update(settings.read_file(given.pop("config")))
    config = settings.RunConfig()
    config.apply({"profile": given.pop("profile", base.pop("profile", "paper"))})
    config.apply(settings.PROFILES[config.profile])
    config.apply(base)
    if "method" in given:
        values = given.pop("method")
        given["methods"] = [m.strip() for value in values for m in value.split(",") if m.strip()]
        if not given["methods"]:
            raise settings.SettingError(f"--method {' '.join(values)!r}: {settings.NO_METHOD}")
    options = parse_pairs(given.pop("backbone_opt", None), "--backbone-opt")
    overrides = parse_pairs(given.pop("set_", None), "--set")
    config.apply({FLAG_SETTINGS.get(k, k): v for k, v in given.items()})
    config.apply({"backbone_options": {**config.backbone_options, **options}, **overrides})
    from bench.protocol.plan import check_shots

    check_shots(config)  # also in the run itself; here before the corpus is read (synth would render first)
    return config
