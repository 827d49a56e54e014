"""Every setting of a run, typed and checked by pydantic before any work starts.

A setting is one annotated field below: its type says how text from ``--set``, ``--param``,
a CLI flag, a ``--config`` file or a record is read (booleans true/false/1/0/yes/no, lists
from commas, paths) and its bounds say what is allowed. A bad value is one line naming the
setting, the value and what is allowed (:class:`SettingError`), raised before a run folder
exists. Adding a setting is adding one field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
import torch
import yaml
from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

PROFILES = {
    "paper": {},
    # Fewer seeds and a shorter ACPT: the whole embedded run in minutes on two CPU cores.
    "quick": {"seeds": 2, "acpt.iterations": 60, "selm.epochs": 2},
}
# Settings that say where and how a run is computed, not which numbers it computes.
NOT_IDENTITY = ("output", "device", "profile")
# Settings renamed so that one concept has one name; the old names still read (records,
# --set, --param, config files and sweeps written before the rename).
RENAMED = {"acpt.n_tokens": "acpt.prompt_length"}
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# Clearer than pydantic's wording for the errors a typo makes.
MESSAGES = {
    "bool_parsing": "expected true/false, 1/0 or yes/no",
    "int_parsing": "expected a whole number",
    "float_parsing": "expected a number",
    "extra_forbidden": "not a setting",
}

Count = Annotated[int, Field(ge=1)]
Batch = Annotated[int, Field(ge=2)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


def _comma_list(value: object) -> object:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


def _conditions(value: object) -> object:
    """Acoustic conditions as bench.data.conditions names them (clean is always tested)."""
    from bench.data import conditions

    return [c.name for c in conditions.parse_list(value) if c.steps] if isinstance(value, (str, list)) else value


def _device(value: object) -> object:
    if isinstance(value, str) and not DEVICE.fullmatch(value):
        raise ValueError("choose auto, cpu, cuda, cuda:N or mps")
    return value


def _path(value: object) -> object:
    """A path setting given as text: empty text is refused (``Path("")`` would be the working folder)."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("expected a path, got an empty value (write . for the working folder)")
    return value


def _output_folder(value: Path) -> Path:
    """Where run folders go: a folder, or one that can be made (checked before any work, not at
    the first file a run writes)."""
    existing = value
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        named = "it" if existing == value else str(existing)
        raise ValueError(f"{named} is a file, not a folder (--output names the folder that run folders go in)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{existing} is not writable by you; give a folder you can write")
    return value


def _some_methods(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise ValueError(NO_METHOD)
    return value


def _text_values(value: object) -> object:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else value


def _study_name(value: str) -> str:
    if not re.fullmatch(r"[\w+-][\w.+-]*", value):
        raise ValueError("use letters, digits and . _ + - (the name is a folder under <output>/sweeps/)")
    return value


def _database_url(value: str) -> str:
    if not re.match(r"[A-Za-z][\w]*(\+\w+)?://", value):
        raise ValueError("expected a database URL, e.g. sqlite:///sweeps/optuna.db or postgresql://user@host/db")
    return value


NO_METHOD = "name at least one method (`bench list` shows them), or leave it out for clep-dg and the baselines"


PathSetting = Annotated[Path | None, BeforeValidator(_path)]


class SettingError(ValueError):
    """A setting's value is not allowed; the message is the one line the user sees."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FinetuneSettings(Settings):
    epochs: Count = 80
    batch_size: Batch = 64
    audio_lr: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1e-5  # 0 keeps the audio encoder frozen
    head_lr: Positive = 1e-3
    loss: Literal["label-aware", "plain"] = "label-aware"  # "plain": the paper's literal form
    objective: Literal["clap", "ml-gemo", "sl-gemo"] = (
        "clap"  # GEmo-CLAP's objectives (bench.training.losses.objective)
    )
    gender_weight: Annotated[float, Field(ge=0, le=1)] = 0.2  # ml-gemo: share of the gender loss
    gender_alpha: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0  # sl-gemo: extra weight of same-gender pairs


class ACPTSettings(Settings):
    # N_p, the paper's prompt length: context vectors per soundscape, at most the backbone's
    # max_prompt_tokens (checked by check_backbone_settings); records before API 1.0 say n_tokens
    prompt_length: Count = Field(8, validation_alias=AliasChoices("prompt_length", "n_tokens"))
    iterations: Count = 120
    lr: Positive = 2e-3
    momentum: Fraction = 0.9
    init_std: Positive = 0.02
    temperature: Positive = 0.07
    # "class": the paper's losses over the C classes, each description scored against its own
    # soundscape's prompts; "soundscape-class": against every soundscape's, so a soundscape's
    # contexts must carry that soundscape (a variant, not the paper's method)
    target: Literal["class", "soundscape-class"] = "class"
    reduction: Literal["sum", "mean"] = "sum"  # over descriptions: the paper's equations sum
    # CPU threads of ACPT's steps: 1 gives bitwise the same contexts on every machine; more can
    # be faster on an idle machine, and the contexts' last bits then depend on the count
    threads: Count = 1


class ClassifierSettings(Settings):
    loss: Literal["arcface", "softmax"] = "arcface"
    epochs: Count = 50
    batch_size: Batch = 16
    lr: Positive = 2e-3
    momentum: Fraction = 0.9
    arcface_scale: Positive = 30.0
    arcface_margin: Annotated[float, Field(ge=0, lt=1.5708)] = 0.5  # radians, below pi/2
    # what CLEP-DG's classifier trains on (bench.results.stages): "prompts", the paper's (the
    # class prompts, or ACPT's prompts); "descriptions": the soundscape descriptions and
    # captions beside them, a named ablation
    texts: Literal["prompts", "descriptions"] = "prompts"


class SweepSettings(Settings):
    """How `bench sweep` runs its study, not what a trial computes (each trial is a RunConfig)."""

    metric: Literal["wa", "ua", "f1"] = "wa"  # what the study maximises
    trials: Count | None = None  # the trials the study should have; None: the whole grid, or 20 sampled
    workers: Count = 1  # worker processes sharing the study
    storage: Annotated[str, AfterValidator(_database_url)] | None = None  # None: sqlite under <output>/sweeps/
    study_name: Annotated[str, AfterValidator(_study_name)] | None = None  # None: named from the command

    @classmethod
    def from_flags(cls, **flags: object) -> SweepSettings:
        """The flags given (None: not given), checked; a bad one is :class:`SettingError` naming the flag."""
        try:
            return cls.model_validate({k: v for k, v in flags.items() if v is not None})
        except ValidationError as err:
            raise SettingError(_one_line(err, flag=True)) from None


SECTIONS = {"finetune": "finetune_settings", "acpt": "acpt_settings", "classifier": "classifier_settings"}
# Sections of settings that methods own now (records and config files written before say them so).
LEGACY_METHOD_SECTIONS = {"selm_settings": "selm"}


class RunConfig(Settings):
    backbone: str = "mini-clap"
    dataset: str = "synth"
    backbone_options: Annotated[dict[str, str], BeforeValidator(_text_values)] = Field(default_factory=dict)
    data_root: PathSetting = None
    protocol: str | None = None
    emobox: PathSetting = None  # EmoBox's data/ folder for the emobox protocols (else env var or config)
    finetune_on: Annotated[list[str] | None, BeforeValidator(_comma_list)] = None
    seeds: Count = 3
    finetune: bool = True
    acpt: bool = True
    classifier: bool = True
    ablation: bool = True
    baselines: bool = True
    # the methods computed (entry points of bench.methods); None: CLEP-DG's rows plus the baselines unless --no-baselines
    methods: Annotated[list[str] | None, BeforeValidator(_comma_list), AfterValidator(_some_methods)] = None
    shots: Annotated[int, Field(ge=0)] = 0  # few-shot: K labelled clips per class of the fold's training part
    checkpoint: PathSetting = None
    device: Annotated[str, BeforeValidator(_device)] = "auto"
    output: Annotated[Path, BeforeValidator(_path), AfterValidator(_output_folder)] = Path("runs")
    profile: Literal["paper", "quick"] = "paper"
    finetune_settings: FinetuneSettings = Field(default_factory=FinetuneSettings)
    acpt_settings: ACPTSettings = Field(default_factory=ACPTSettings)
    classifier_settings: ClassifierSettings = Field(default_factory=ClassifierSettings)
    # each method's own settings by method name, as given (`--set selm.epochs=2`); the method's
    # model (bench.api.Method.settings_model) checks them before any work (bench.protocol.plan)
    method_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # acoustic conditions evaluated beside clean, and those fine-tuning sees beside clean
    test_conditions: Annotated[list[str], BeforeValidator(_conditions)] = Field(default_factory=list)
    finetune_conditions: Annotated[list[str], BeforeValidator(_conditions)] = Field(default_factory=list)

    def apply(self, overrides: Mapping[str, object]) -> None:
        """Set values by dotted name (``seeds``, ``acpt.prompt_length``, ``classifier.loss`` ...), all
        checked together; on a bad value nothing changes and :class:`SettingError` says why."""
        data = self.model_dump()
        for key, value in overrides.items():
            key = RENAMED.get(key, key)
            if key in LEGACY_METHOD_SECTIONS and isinstance(value, Mapping):  # a section from before API 1.0
                key, value = "method_settings", {LEGACY_METHOD_SECTIONS[key]: value}
            if key == "method_settings" and isinstance(value, Mapping):
                for method, values in value.items():
                    data["method_settings"].setdefault(method, {}).update(values)
                continue
            section, _, name = key.rpartition(".")
            if section in SECTIONS and name in type(self).model_fields[SECTIONS[section]].annotation.model_fields:
                data[SECTIONS[section]][name] = value
            elif not section and key in SECTIONS.values() and isinstance(value, Mapping):
                prefix = next(name for name, field in SECTIONS.items() if field == key)
                data[key].update(
                    {RENAMED.get(f"{prefix}.{k}", f"{prefix}.{k}").rpartition(".")[2]: v for k, v in value.items()}
                )
            elif not section and key in type(self).model_fields:
                data[key] = value
            elif section and "." not in section and section not in SECTIONS and section not in type(self).model_fields:
                data["method_settings"].setdefault(section, {})[name] = value  # checked by that method's model
            else:
                raise SettingError(f"unknown setting {key!r} (settings: {', '.join(names())})")
        try:
            checked = type(self).model_validate(data)
        except ValidationError as err:
            raise SettingError(_one_line(err)) from None
        for name in type(self).model_fields:
            object.__setattr__(self, name, getattr(checked, name))

    def get(self, key: str) -> object:
        """The value of a dotted name, as :meth:`apply` sets it (a method's setting: as given, None
        where the method's default holds)."""
        section, _, name = key.rpartition(".")
        if section and section not in SECTIONS:
            return self.method_settings.get(section, {}).get(name)
        return getattr(getattr(self, SECTIONS[section]), name) if section else getattr(self, key)

    def identity(self) -> dict:
        """The settings that decide the numbers (what run folders and studies are keyed by)."""
        return self.model_dump(mode="json", exclude=set(NOT_IDENTITY))


def names() -> list[str]:
    """Every setting's dotted name, as ``--set`` and ``--param`` take it."""
    top = [n for n in RunConfig.model_fields if n not in SECTIONS.values()]
    nested = [f"{s}.{n}" for s, f in SECTIONS.items() for n in RunConfig.model_fields[f].annotation.model_fields]
    return top + nested


def _one_line(err: ValidationError, flag: bool = False) -> str:
    """``setting NAME=VALUE: what is allowed``, or ``--NAME VALUE: ...`` for a command's own flag."""
    first = err.errors()[0]
    path = [str(p) for p in first["loc"] if isinstance(p, str)]
    section = {v: k for k, v in SECTIONS.items()}.get(path[0]) if path else None
    name = ".".join([section, *path[1:]] if section else path)
    message = MESSAGES.get(first["type"], first["msg"].removeprefix("Value error, "))
    given = f"--{name.replace('_', '-')} {first['input']}" if flag else f"setting {name}={first['input']}"
    return f"{given}: {message[:1].lower()}{message[1:]}"


def read_file(path: Path) -> dict:
    """Settings from a TOML or YAML file, in RunConfig's own shape (a record's ``config`` too)."""
    if not str(path).strip():
        raise SettingError("--config: expected a settings file, got an empty value")
    path = Path(path)
    try:
        text = path.read_text()
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as err:  # TOML and JSON decode errors are ValueErrors
        raise SettingError(f"{path}: not a readable settings file ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise SettingError(f"{path}: holds {type(data).__name__}, not a table of settings")
    return data


def check_backbone_settings(config: RunConfig, backbone: type) -> None:
    """What only the backbone knows: the options it accepts and how many prompt tokens fit."""
    accepted = backbone.options()
    accepted = None if accepted is None else [*accepted, "front_end"]  # front_end is the core's, for every backbone
    unknown = sorted(set(config.backbone_options) - set(accepted)) if accepted is not None else []
    if unknown:
        raise SettingError(
            f"--backbone-opt {unknown[0]}: {backbone.name} has no such option (options: {', '.join(accepted)})"
        )
    front_end = config.backbone_options.get("front_end")
    if front_end is not None and front_end not in backbone.front_ends():
        raise SettingError(f"--backbone-opt front_end={front_end}: choose {' or '.join(backbone.front_ends())}")
    limit = backbone.max_prompt_tokens
    if limit is not None and config.acpt_settings.prompt_length > limit:
        raise SettingError(
            f"setting acpt.prompt_length={config.acpt_settings.prompt_length}: {backbone.name}'s text encoder holds at most {limit}"
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here")
    return torch.device(name)
