"""Train/test splits of a corpus: the :class:`Fold` and the usual ways to make them."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.api.errors import DataError

if TYPE_CHECKING:
    from bench.api.dataset import Utterance


@dataclass(frozen=True)
class Fold:
    """One train/test split. ``train`` may be empty (a corpus used only for evaluation)."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        overlap = set(self.train) & set(self.test)
        if overlap:
            raise DataError(f"fold {self.name}: {len(overlap)} utterances on both sides")


def kfold(uids: Sequence[str], k: int, seed: int, prefix: str = "fold") -> list[Fold]:
    """Random k-fold cross-validation over utterances (the paper's RAVDESS/TESS/SAVEE protocol)."""
    order = sorted(uids)
    random.Random(seed).shuffle(order)
    parts = [order[i::k] for i in range(k)]
    return [
        Fold(f"{prefix}{i + 1}", tuple(u for j, p in enumerate(parts) if j != i for u in p), tuple(part))
        for i, part in enumerate(parts)
    ]


def leave_one_group_out(
    utterances: Iterable[Utterance], group_of: Callable[[Utterance], object], prefix: str = ""
) -> list[Fold]:
    """One fold per group value (speaker, session, corpus): train on the rest, test on it."""
    by_group: dict[str, list[str]] = {}
    for utt in utterances:
        by_group.setdefault(str(group_of(utt)), []).append(utt.uid)
    return [
        Fold(f"{prefix}{group}", tuple(u for g, us in by_group.items() if g != group for u in us), tuple(test))
        for group, test in sorted(by_group.items())
    ]
