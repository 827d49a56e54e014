"""SAVEE: Surrey Audio-Visual Expressed Emotion (Haq & Jackson, 2009).

Two layouts are common and both are read: the owners' ``AudioData/DC/a01.wav`` (speaker
from the folder) and the flattened ``ALL/DC_a01.wav`` (speaker in the name). Speakers DC, JE,
JK, KL, all male. The letter code is the emotion: a anger, d disgust, f fear, h happiness,
n neutral, sa sadness, su surprise; uids are ``DC_a01`` in both layouts.

Full corpus: 480 files = 4 speakers x 120 (neutral 30, the six other emotions 15 each per
speaker: neutral 120, others 60). Protocols: ``random-10fold`` (the paper's) and ``speaker``
(leave-one-speaker-out, 4 folds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from bench.api import Utterance
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus

EMOTIONS = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}
SPEAKERS = ("DC", "JE", "JK", "KL")
NAME = re.compile(r"^(?:([a-z]{2})_)?([a-z]{1,2})(\d\d)$", re.IGNORECASE)


class SAVEE(EmoBoxNames, Corpus):
    name = "savee"
    classes = tuple(EMOTIONS.values())
    env_var = "BENCH_SAVEE_ROOT"
    protocols = ("random-10fold", "speaker", "emobox", "emobox-track2")
    emobox, track2 = "savee", "SAVEE"
    layout = "AudioData/DC/a01.wav or ALL/DC_a01.wav file"

    def parse(self, path: Path, root: Path) -> Utterance | str:
        match = NAME.match(path.stem)
        if not match:
            return "name is not <code><nn> like a01 or <speaker>_<code><nn> like DC_a01"
        speaker, code, number = match.groups()
        speaker = (speaker or path.parent.name).upper()
        if speaker not in SPEAKERS:
            return f"speaker {speaker!r} is not one of {', '.join(SPEAKERS)} (from the name or the folder)"
        code = code.lower()
        if code not in EMOTIONS:
            return f"unknown emotion code {code!r}"
        return Utterance(
            uid=f"{speaker}_{code}{number}",
            path=path,
            label=EMOTIONS[code],
            speaker=speaker,
            gender="male",
        )

    def track2_name(self, entry: Mapping[str, str]) -> str:
        """Track 2 names a clip in the owners' layout (``JK/sa09.wav``) and gives its speaker."""
        return f"{entry['speaker']}_{Path(entry['wav_filename']).stem}"
