"""What a sweep explores: its search space (``--param NAME=SPACE``, the presets) and its plan.

Every grid point, or both ends of every range, is checked against the typed settings before
a study exists, so a bad value is one line and no trial ever fails on it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import optuna

from bench.config.settings import RunConfig, SweepSettings, check_backbone_settings
from bench.plugins import registry
from bench.protocol.plan import check_method_settings
from bench.results.catalog import SWEEPS

PRESETS = {"prompt-length": ("acpt.prompt_length", "2,4,8,16,32"), "loss": ("classifier.loss", "softmax,arcface")}
# Settings that leave the fine-tuned weights as they are: their trials reuse the base run's.
AFTER_FINETUNE = ("acpt.", "classifier.")
SAMPLED_TRIALS = 20


def _typed(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@dataclass(frozen=True)
class Dimension:
    """One swept setting: a list of choices, or a LOW:HIGH range (``log`` or a step)."""

    name: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @classmethod
    def parse(cls, spec: str) -> Dimension:
        name, sep, space = spec.partition("=")
        name, space = name.strip(), space.strip()
        if not sep or not name or not space:
            raise ValueError(
                f"--param expects NAME=SPACE (e.g. acpt.prompt_length=2,4,8 or acpt.lr=1e-4:1e-2:log), got {spec!r}"
            )
        if ":" not in space:
            choices = tuple(_typed(v.strip()) for v in space.split(",") if v.strip())
            if not choices:
                raise ValueError(f"--param {name}: no values in {space!r}")
            if len(set(choices)) != len(choices):
                raise ValueError(f"--param {name}: a value is listed twice in {space!r}")
            return cls(name, choices=choices)
        parts = space.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"--param {name}: a range is LOW:HIGH, LOW:HIGH:log or LOW:HIGH:STEP, not {space!r}")
        low, high = _typed(parts[0]), _typed(parts[1])
        if isinstance(low, str) or isinstance(high, str) or not low < high:
            raise ValueError(f"--param {name}: range bounds must be numbers with LOW < HIGH, not {space!r}")
        log = len(parts) == 3 and parts[2] == "log"
        step = None if len(parts) == 2 or log else _typed(parts[2])
        if isinstance(step, str) or (step is not None and step <= 0):
            raise ValueError(f"--param {name}: the third part of a range is 'log' or a positive step, not {parts[2]!r}")
        if log and low <= 0:
            raise ValueError(f"--param {name}: a log range needs LOW > 0, not {low}")
        return cls(name, low=low, high=high, log=log, step=step)

    @property
    def is_int(self) -> bool:
        return all(isinstance(v, int) for v in (self.low, self.high, self.step) if v is not None)

    def suggest(self, trial: optuna.Trial) -> int | float | str:
        if self.choices:
            return trial.suggest_categorical(self.name, self.choices)
        if self.is_int:
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def bounds(self) -> tuple:
        return self.choices or (self.low, self.high)


@dataclass
class Plan:
    """Everything a worker needs; picklable, so worker processes receive it as is."""

    config: RunConfig
    space: list[Dimension]
    study_name: str
    storage: str
    metric: str
    trials: int
    label: str

    @property
    def grid(self) -> list[dict] | None:
        if not all(d.choices for d in self.space):
            return None
        return [
            dict(zip([d.name for d in self.space], point))
            for point in itertools.product(*(d.choices for d in self.space))
        ]

    @property
    def reuses_finetune(self) -> bool:
        return self.config.finetune and all(d.name.startswith(AFTER_FINETUNE) for d in self.space)

    @property
    def folder(self) -> Path:
        return Path(self.config.output) / SWEEPS / self.study_name


def sweep_folder(output: Path) -> Path:
    return Path(output) / SWEEPS


def default_storage(output: Path) -> str:
    return f"sqlite:///{(sweep_folder(output) / 'optuna.db').resolve()}"


def make_plan(
    config: RunConfig, specs: list[str], *, preset: str | None = None, options: SweepSettings | None = None
) -> Plan:
    """Parse and check the space against the config; one-line ValueErrors for bad input."""
    options = options or SweepSettings()
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown sweep {preset!r} (choose from {', '.join(PRESETS)}, or give --param NAME=SPACE)")
    space = [Dimension.parse(s) for s in specs]
    if preset is not None and not any(d.name == PRESETS[preset][0] for d in space):
        space.insert(0, Dimension.parse("=".join(PRESETS[preset])))
    if not space:
        raise ValueError("empty search space: name a sweep (prompt-length, loss) or give --param NAME=SPACE")
    names = [d.name for d in space]
    if len(set(names)) != len(names):
        raise ValueError(
            f"--param names a setting twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}"
        )
    backbone = registry.get("backbone", config.backbone)
    for dimension in space:
        for value in dimension.bounds():  # every grid point, or both ends of a range, checked before the study
            point = copy.deepcopy(config)
            point.apply({dimension.name: value})
            check_backbone_settings(point, backbone)
            check_method_settings(point)
    label = preset or "params"
    key = json.dumps(
        {"space": [dataclasses.asdict(d) for d in space], "config": config.identity()}, sort_keys=True, default=str
    )
    name = (
        options.study_name
        or f"{label}-{config.backbone}-{config.dataset.replace(',', '+')}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    )
    plan = Plan(config, space, name, options.storage or default_storage(config.output), options.metric, 0, label)
    grid, trials = plan.grid, options.trials
    plan.trials = min(trials or len(grid), len(grid)) if grid is not None else trials or SAMPLED_TRIALS
    return plan
