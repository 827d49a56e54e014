"""Leave-one-corpus-out: several corpora pooled on the classes they share.

Pooling prefixes every uid with its corpus (``ravdess/03-01-05-01-02-01-12``) and holds out
one corpus per fold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.api import CANONICAL, DataError, Fold, Utterance, leave_one_group_out


@dataclass(frozen=True)
class Pool:
    """Several corpora as one: uids prefixed by corpus, labels restricted to ``classes``."""

    utterances: list[Utterance]
    classes: tuple[str, ...]
    left_out: dict[str, dict[str, int]]  # corpus -> label -> utterances outside ``classes``

    def folds(self) -> list[Fold]:
        """Leave-one-corpus-out: each fold tests on one corpus and trains on all the others."""
        return leave_one_corpus_out(self.utterances)


def pool(corpora: Mapping[str, Sequence[Utterance]], classes: Sequence[str] | None = None) -> Pool:
    """Pool corpora on ``classes`` (default: the classes every corpus has, in canonical order)."""
    if len(corpora) < 2:
        raise DataError("leave-one-corpus-out needs at least two corpora")
    labels = {name: {u.label for u in utts} for name, utts in corpora.items()}
    for name, found in labels.items():
        strange = sorted(found - set(CANONICAL))
        if strange:
            raise DataError(f"{name}: labels {strange} are not canonical names from bench.api.labels")
    if classes is None:
        shared = set.intersection(*labels.values())
        classes = tuple(c for c in CANONICAL if c in shared)
    else:
        classes = tuple(classes)
        for name, found in labels.items():
            if missing := [c for c in classes if c not in found]:
                raise DataError(f"{name} has no utterance of {missing}; choose classes every corpus has")
    if not classes:
        raise DataError(f"corpora {', '.join(corpora)} share no class; leave-one-corpus-out needs a shared label space")
    kept, left_out = [], {}
    for name, utts in corpora.items():
        for utt in utts:
            if utt.label in classes:
                meta = {**utt.meta, "corpus": name}
                kept.append(dataclasses.replace(utt, uid=f"{name}/{utt.uid}", meta=meta))
            else:
                counts = left_out.setdefault(name, {})
                counts[utt.label] = counts.get(utt.label, 0) + 1
    return Pool(kept, classes, left_out)


def leave_one_corpus_out(utterances: Sequence[Utterance]) -> list[Fold]:
    """One fold per corpus (``meta["corpus"]``, as set by :func:`pool`), named ``corpus-<name>``."""
    if any("corpus" not in u.meta for u in utterances):
        raise DataError("leave-one-corpus-out needs pooled utterances; build them with bench.data.pooling.pool")
    return leave_one_group_out(utterances, lambda u: u.meta["corpus"], prefix="corpus-")
