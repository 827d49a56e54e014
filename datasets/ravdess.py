"""RAVDESS: the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo, 2018).

Layout as distributed (``Audio_Speech_Actors_01-24.zip``): ``Actor_12/03-01-05-01-02-01-12.wav``,
seven two-digit fields: modality (01 audio-video, 02 video, 03 audio), vocal channel (01 speech,
02 song), emotion, intensity (01 normal, 02 strong), statement, repetition, actor (odd male,
even female). Only audio-only speech is used (03-01); song and video files found under the
root are skipped with that reason, so a root holding the whole Zenodo release also works.

Full corpus: 1440 speech files = 24 actors x 60 (neutral 96: one intensity; calm, happiness,
sadness, anger, fear, disgust, surprise 192 each), 12 male and 12 female actors.
Protocols: ``random-10fold`` (the paper's) and ``speaker`` (24 actors -> 5 actor-group folds).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.api import Utterance
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
MODALITIES = {"01": "full audio-video", "02": "video only"}
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


class RAVDESS(EmoBoxNames, Corpus):
    name = "ravdess"
    classes = tuple(EMOTIONS.values())
    env_var = "BENCH_RAVDESS_ROOT"
    protocols = ("random-10fold", "speaker", "emobox", "emobox-track2")
    emobox, track2 = "ravdess", "RAVDESS"
    layout = "Actor_NN/03-01-EE-II-SS-RR-NN.wav file"

    def parse(self, path: Path, root: Path) -> Utterance | str:
        match = NAME.match(path.stem)
        if not match:
            return "name is not seven two-digit fields like 03-01-05-01-02-01-12"
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        if modality != "03":
            return f"modality {modality} ({MODALITIES.get(modality, 'unknown')}); only audio-only files (03) are used"
        if channel != "01":
            return f"vocal channel {channel} ({'song' if channel == '02' else 'unknown'}); only speech (01) is used"
        if emotion not in EMOTIONS:
            return f"unknown emotion code {emotion}"
        if not 1 <= int(actor) <= 24:
            return f"actor {actor} is outside 01-24"
        return Utterance(
            uid=path.stem,
            path=path,
            label=EMOTIONS[emotion],
            speaker=actor,
            gender="male" if int(actor) % 2 else "female",
            meta={
                "intensity": "strong" if intensity == "02" else "normal",
                "statement": statement,
                "repetition": repetition,
            },
        )
