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
from collections.abc import Sequence
from pathlib import Path

from bench.contracts import DataError, DatasetLoader, Fold, ScanResult, Utterance, kfold, leave_one_group_out

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
NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])\.wav$", re.IGNORECASE)


class EmoDB(DatasetLoader):
    name = "emodb"
    classes = ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral")
    env_var = "BENCH_EMODB_ROOT"
    protocols = ("speaker", "random-10fold")

    def scan(self, root: Path) -> ScanResult:
        folder = root / "wav" if (root / "wav").is_dir() else root
        files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        utterances, skipped = [], []
        for path in files:
            match = NAME.match(path.name)
            if not match:
                skipped.append((path, "name does not follow <speaker><text><emotion><version>.wav"))
                continue
            speaker, _, code, _ = match.groups()
            if code.upper() not in EMOTIONS:
                skipped.append((path, f"unknown emotion letter {code!r}"))
                continue
            gender = "male" if speaker in MALE else "female" if speaker in FEMALE else None
            utterances.append(
                Utterance(
                    uid=path.stem,
                    path=path,
                    label=EMOTIONS[code.upper()],
                    speaker=speaker,
                    gender=gender,
                )
            )
        if not utterances:
            raise DataError(
                f"emodb: no file named like 03a01Fa.wav in {folder}; point the root at the folder holding wav/"
            )
        return ScanResult(utterances, skipped)

    def folds(self, utterances: Sequence[Utterance], protocol: str, seed: int = 0) -> list[Fold]:
        if protocol == "speaker":
            return leave_one_group_out(utterances, lambda u: u.speaker, prefix="speaker")
        if protocol == "random-10fold":
            return kfold([u.uid for u in utterances], 10, seed)
        raise DataError(f"emodb: unknown protocol {protocol!r} (choose from {', '.join(self.protocols)})")

