"""Corpora as the protocol sees them: scanned (or pooled) utterances, their folds and class words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from bench.api import DataError, Fold, Utterance, adjective
from bench.config.settings import RunConfig
from bench.data import emobox
from bench.data.pooling import pool
from bench.data.roots import resolve_root
from bench.plugins import registry
from bench.util.progress import console


@dataclass
class Corpus:
    """A scanned corpus (or several pooled ones) with its folds and the words of its classes."""

    name: str
    utterances: list[Utterance]
    classes: tuple[str, ...]
    words: list[str]
    skipped: list[tuple[str, str]]
    root: Path | None
    protocols: tuple[str, ...]
    split: Callable[[str], list[Fold]]

    @classmethod
    def load(cls, name: str, root: Path | None = None) -> Corpus:
        """One corpus, or ``a,b,c``: several pooled for leave-one-corpus-out (protocol ``corpus``)."""
        if "," in name:
            if root is not None:
                raise ValueError("--data-root names one corpus; give pooled corpora their roots by env var or config")
            return cls.pooled([n.strip() for n in name.split(",") if n.strip()])
        loader = registry.dataset(name)
        root = resolve_root(loader, root)
        scan = loader.scan(root)
        unknown = {u.label for u in scan.utterances} - set(loader.classes)
        if unknown:
            raise DataError(f"{name}: labels {sorted(unknown)} are not among its classes {loader.classes}")
        return cls(
            name,
            scan.utterances,
            loader.classes,
            [loader.text_label(c) for c in loader.classes],
            [(str(p), reason) for p, reason in scan.skipped],
            root,
            loader.protocols,
            lambda protocol: loader.folds(scan.utterances, protocol, seed=0),
        )

    @classmethod
    def pooled(cls, names: list[str]) -> Corpus:
        parts = [cls.load(n) for n in names]
        merged = pool({c.name: c.utterances for c in parts})
        return cls(
            ",".join(names),
            merged.utterances,
            merged.classes,
            [adjective(c) for c in merged.classes],
            [s for c in parts for s in c.skipped],
            None,
            ("corpus",),
            lambda _: merged.folds(),
        )

    @classmethod
    def on_emobox(cls, config: RunConfig) -> Corpus:
        """The evaluated corpus on EmoBox's partitions; what did not match joins the skipped files."""
        loader = registry.dataset(config.dataset)
        root = resolve_root(loader, config.data_root)
        scan, folder = loader.scan(root), emobox.data_dir(config.emobox)
        if config.protocol == "emobox":
            part = emobox.partition(loader, scan.utterances, folder)
        elif len(config.finetune_on or []) != 1:
            raise DataError("emobox-track2 trains on one other corpus: name it with --finetune-on CORPUS")
        else:
            other = registry.dataset(config.finetune_on[0])
            part = emobox.track2(other, other.scan(resolve_root(other)).utterances, loader, scan.utterances, folder)
        console.print(f"EmoBox {config.protocol}: {part.summary()}", highlight=False)
        return cls(
            config.dataset,
            part.utterances,
            part.classes,
            [loader.text_label(c) for c in part.classes],
            [(str(p), reason) for p, reason in scan.skipped] + part.skipped(),
            root,
            (config.protocol,),
            lambda _: part.folds,
        )

    def folds(self, protocol: str | None) -> tuple[str, list[Fold]]:
        protocol = protocol or self.protocols[0]
        if protocol not in self.protocols:
            raise ValueError(f"{self.name}: unknown protocol {protocol!r} (choose from {', '.join(self.protocols)})")
        return protocol, self.split(protocol)

    def label_index(self, utterances: Sequence[Utterance]) -> Tensor:
        return torch.tensor([self.classes.index(u.label) for u in utterances], dtype=torch.long)


def finetune_pool(config: RunConfig, evaluated: Corpus) -> list[Corpus]:
    names = config.finetune_on if config.finetune_on is not None else [evaluated.name]
    return [evaluated if name == evaluated.name else Corpus.load(name) for name in names]
