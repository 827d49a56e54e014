"""The dataset contract: a corpus as its owners distribute it, turned into utterances and folds.

A plugin is a :class:`DatasetLoader` registered under the entry-point group ``bench.datasets``;
:mod:`bench.api.splits` has the usual splits and :mod:`bench.api.labels` the canonical class names.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from bench.api.labels import adjective
from bench.api.splits import Fold


@dataclass(frozen=True)
class Utterance:
    """One labelled clip. ``uid`` is unique within its corpus and stable across scans."""

    uid: str
    path: Path
    label: str
    speaker: str | None = None
    gender: Literal["male", "female"] | None = None
    session: str | None = None
    split: str | None = None
    offset: float = 0.0
    duration: float | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanResult:
    """What a loader found: usable utterances and every file it skipped, with the reason."""

    utterances: list[Utterance]
    skipped: list[tuple[Path, str]] = field(default_factory=list)


class DatasetLoader(abc.ABC):
    """A corpus as its owners distribute it.

    Class attributes: ``name``; ``classes`` (canonical English label names, the order is the
    class index); ``env_var`` (environment variable holding the corpus root);
    ``protocols`` (names accepted by :meth:`folds`, the first is the default).
    """

    name: ClassVar[str]
    classes: ClassVar[tuple[str, ...]]
    env_var: ClassVar[str]
    protocols: ClassVar[tuple[str, ...]]
    needs_root: ClassVar[bool] = True

    @abc.abstractmethod
    def scan(self, root: Path) -> ScanResult:
        """Turn a corpus root into utterances; raise :class:`DataError` if it is not this corpus."""

    @abc.abstractmethod
    def folds(self, utterances: Sequence[Utterance], protocol: str, seed: int = 0) -> list[Fold]:
        """Split utterances by the named protocol (deterministic for a seed)."""

    def default_root(self) -> Path | None:
        """Where the corpus lives when no flag or environment variable says (None: nowhere)."""
        return None

    def text_label(self, label: str) -> str:
        """The word used for a class in text prompts (``This is a [EMOTION] sound``).

        By default the adjective of a canonical class name (anger -> angry, see bench.api.labels).
        """
        return adjective(label)
