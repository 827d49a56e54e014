"""MEAD: a Multi-view Emotional Audio-visual Dataset (Wang et al., 2020), audio part.

Layout as distributed (each actor's ``audio.tar`` unpacked in its folder):
``<actor>/audio/<emotion>/level_<n>/<nnn>.m4a``; actors ``M003``, ``W009``, ... (M male,
W female); emotions angry, contempt, disgusted, fear, happy, neutral, sad, surprised; levels
1-3 (neutral has level 1 only). Decoded copies from ``bench data prepare`` (``.wav``, same
names) are read the same way. ``video/`` folders are not read.

Design of the corpus (its paper): 60 actors; per actor 30 sentences for each emotion and
level and 40 neutral, 670 clips when complete (about 40k for 60 actors). The public release
lacks some actors and clips, so compare `bench data check`'s per-actor counts with the
owners' list. Classes (8): anger, contempt, disgust, fear, happiness, neutral, sadness,
surprise. Protocols: ``speaker`` (actor-group folds, 5) and ``random-10fold``; ``level`` is
kept in ``meta``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.api import Utterance, canonical
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus

ACTOR = re.compile(r"^([MW])\d{3}$", re.IGNORECASE)
LEVEL = re.compile(r"^level_(\d)$", re.IGNORECASE)


class MEAD(EmoBoxNames, Corpus):
    name = "mead"
    classes = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
    env_var = "BENCH_MEAD_ROOT"
    protocols = ("speaker", "random-10fold", "emobox")
    emobox = "mead"
    layout = "<actor>/audio/<emotion>/level_<n>/<nnn>.m4a file"
    prune = ("video",)

    def parse(self, path: Path, root: Path) -> Utterance | str:
        parts = path.relative_to(root).parts
        if len(parts) < 5 or parts[-4].lower() != "audio":
            return "not at <actor>/audio/<emotion>/level_<n>/<nnn>.m4a"
        actor, _, emotion, level, _ = parts[-5:]
        if not ACTOR.match(actor):
            return f"actor folder {actor!r} is not like M003 or W009"
        label = canonical(emotion)
        if label not in self.classes:
            return f"unknown emotion folder {emotion!r}"
        match = LEVEL.match(level)
        if not match:
            return f"intensity folder {level!r} is not level_<n>"
        if not path.stem.isdigit():
            return f"clip name {path.name!r} is not a sentence number like 001"
        actor = actor.upper()
        return Utterance(
            uid=f"{actor}_{label}_{match.group(1)}_{path.stem}",
            path=path,
            label=label,
            speaker=actor,
            gender="male" if actor[0] == "M" else "female",
            meta={"level": match.group(1)},
        )

    def emobox_id(self, utt: Utterance) -> str:
        """EmoBox keys MEAD clips by the path's own words: ``W019-neutral-level-1-020``."""
        emotion, level = utt.path.parts[-3:-1]
        return f"{utt.speaker}-{emotion}-{level}-{utt.path.stem}"
