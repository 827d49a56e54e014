"""The settings of a run: one object with every knob of the protocol and its stages."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.stages.acpt import ACPTSettings
from bench.stages.classifier import ClassifierSettings
from bench.stages.finetune import FinetuneSettings

PROFILES = {
    "paper": {},
    # Fewer seeds and a shorter ACPT: the whole embedded run in minutes on two CPU cores.
    "quick": {"seeds": 2, "acpt.iterations": 60},
}


@dataclass
class RunConfig:
    backbone: str = "mini-clap"
    dataset: str = "synth"
    backbone_options: dict[str, str] = field(default_factory=dict)
    data_root: Path | None = None
    protocol: str | None = None
    finetune_on: list[str] | None = None
    seeds: int = 3
    finetune: bool = True
    acpt: bool = True
    classifier: bool = True
    ablation: bool = True
    baselines: bool = True
    checkpoint: Path | None = None
    device: str = "auto"
    output: Path = Path("runs")
    profile: str = "paper"
    finetune_settings: FinetuneSettings = field(default_factory=FinetuneSettings)
    acpt_settings: ACPTSettings = field(default_factory=ACPTSettings)
    classifier_settings: ClassifierSettings = field(default_factory=ClassifierSettings)
    test_conditions: list[str] = field(default_factory=list)  # acoustic conditions evaluated beside clean
    finetune_conditions: list[str] = field(default_factory=list)  # fine-tuning sees these beside clean

    def apply(self, overrides: dict[str, object]) -> None:
        """Set values by dotted name: ``seeds``, ``acpt.n_tokens``, ``classifier.loss`` ..."""
        for key, value in overrides.items():
            target, name = self._field(key)
            current = getattr(target, name)
            setattr(target, name, type(current)(value) if current is not None and not isinstance(value, type(current)) else value)
            if dataclasses.is_dataclass(target) and hasattr(target, "__post_init__"):
                target.__post_init__()

    def get(self, key: str) -> object:
        """The value of a dotted name, as :meth:`apply` sets it."""
        target, name = self._field(key)
        return getattr(target, name)

    def _field(self, key: str) -> tuple[object, str]:
        sections = {"finetune": "finetune_settings", "acpt": "acpt_settings", "classifier": "classifier_settings"}
        section, _, name = key.rpartition(".")
        target = getattr(self, sections[section]) if section in sections else self
        if section and section not in sections or not hasattr(target, name):
            raise ValueError(f"unknown setting {key!r}")
        return target, name


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here")
    return torch.device(name)
