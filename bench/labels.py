"""One label space across corpora, and leave-one-corpus-out over it.

Every loader names its classes with the canonical words below, so a class means the same
thing in every corpus. Corpora spell their labels their own way; :func:`canonical` maps the
spellings (``angry``/``ang`` -> anger, ``happy``/``joy`` -> happiness, ``fearful`` -> fear,
``ps``/``pleasant surprise``/``surprised`` -> surprise, ``sad`` -> sadness, ``disgusted`` ->
disgust, ``bored`` -> boredom, ...). Two decisions are ours: TESS's *pleasant surprise* counts
as surprise (no corpus here separates pleasant from unpleasant surprise), and MELD's *joy* as
happiness. Protocol-specific merges (IEMOCAP's excited -> happiness) are not synonyms and live
in their loader.

Leave-one-corpus-out pools several corpora on the classes they all share (or a given subset),
prefixes every uid with its corpus (``ravdess/03-01-05-01-02-01-12``) and holds out one
corpus per fold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.contracts import DataError, Fold, Utterance, leave_one_group_out

CANONICAL = (
    "anger", "happiness", "sadness", "neutral", "fear", "disgust", "surprise",
    "calm", "boredom", "contempt",
)

_SPELLINGS = {
    "anger": ("angry", "ang"),
    "happiness": ("happy", "hap", "joy", "joyful"),
    "sadness": ("sad",),
    "neutral": ("neu", "neutrality"),
    "fear": ("fearful", "fea", "afraid", "scared"),
    "disgust": ("disgusted", "dis"),
    "surprise": ("surprised", "sur", "ps", "pleasant surprise", "pleasant surprised"),
    "calm": (),
    "boredom": ("bored",),
    "contempt": ("contemptuous",),
}
ALIASES = {word: label for label, words in _SPELLINGS.items() for word in (label, *words)}

# How a class reads in "This is a [EMOTION] sound": the adjective, as the paper's prompts use.
ADJECTIVES = {
    "anger": "angry", "happiness": "happy", "sadness": "sad", "neutral": "neutral",
    "fear": "fearful", "disgust": "disgusted", "surprise": "surprised", "calm": "calm",
    "boredom": "bored", "contempt": "contemptuous",
}


def canonical(word: str) -> str | None:
    """The canonical class for a corpus' spelling (case, ``_`` and ``-`` ignored), or None."""
    key = " ".join(word.strip().lower().replace("_", " ").replace("-", " ").split())
    return ALIASES.get(key)


def adjective(label: str) -> str:
    """The prompt word for a canonical class (the label itself when it has none)."""
    return ADJECTIVES.get(label, label)


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
            raise DataError(f"{name}: labels {strange} are not canonical names from bench.labels")
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
        raise DataError("leave-one-corpus-out needs pooled utterances; build them with bench.labels.pool")
    return leave_one_group_out(utterances, lambda u: u.meta["corpus"], prefix="corpus-")
