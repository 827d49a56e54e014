"""EmoDB: the Berlin Database of Emotional Speech (Burkhardt et al., 2005).

Layout as distributed: ``wav/<speaker><text><emotion><version>.wav``, e.g. ``03a01Fa.wav``
(speaker 03, text a01, emotion F, version a). The emotion letter is a German initial.
Full corpus: 535 utterances, 10 speakers (03, 10, 11, 12, 15 male; 08, 09, 13, 14, 16
female), 7 classes: anger 127, boredom 81, neutral 79, happiness 71, fear 69, sadness 62,
disgust 46.

Protocols: ``speaker`` (leave-one-speaker-out, 10 folds: the usual speaker-independent
protocol for EmoDB) and ``random-10fold``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.api import Utterance
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus

EMOTIONS = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}
MALE = {"03", "10", "11", "12", "15"}
FEMALE = {"08", "09", "13", "14", "16"}
NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$", re.IGNORECASE)


class EmoDB(EmoBoxNames, Corpus):
    name = "emodb"
    classes = ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral")
    env_var = "BENCH_EMODB_ROOT"
    protocols = ("speaker", "random-10fold", "emobox")
    emobox = "emodb"
    layout = "file named like wav/03a01Fa.wav"

    def parse(self, path: Path, root: Path) -> Utterance | str:
        match = NAME.match(path.stem)
        if not match:
            return "name does not follow <speaker><text><emotion><version>.wav"
        speaker, _, code, _ = match.groups()
        if code.upper() not in EMOTIONS:
            return f"unknown emotion letter {code!r}"
        gender = "male" if speaker in MALE else "female" if speaker in FEMALE else None
        return Utterance(uid=path.stem, path=path, label=EMOTIONS[code.upper()], speaker=speaker, gender=gender)
