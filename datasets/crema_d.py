"""CREMA-D: the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., 2014).

Layout as distributed: ``AudioWAV/1001_DFA_ANG_XX.wav`` (also ``AudioMP3/*.mp3`` and
``VideoFlash/*.flv``): actor (1001-1091), sentence (12 codes), emotion (ANG, DIS, FEA, HAP,
NEU, SAD), intensity (LO, MD, HI, XX unspecified). When several formats of one clip are
under the root, one is used (WAV first) and the others are skipped as duplicates. Gender comes
from the corpus' ``VideoDemographics.csv`` (columns ActorID, Sex) when it is anywhere under
the root; otherwise it is left unknown. A partial copy (a few actors) scans as well.

Full corpus: 7442 clips from 91 actors (48 male, 43 female): anger, disgust, fear,
happiness, sadness 1271 each, neutral 1087. Protocols: ``speaker`` (91 actors -> 5
actor-group folds; the usual speaker-independent set-up) and ``random-10fold``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from bench.api import DataError, ScanResult, Utterance, canonical
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus, walk

SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
DEMOGRAPHICS = "VideoDemographics.csv"


class CremaD(EmoBoxNames, Corpus):
    name = "crema-d"
    classes = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
    env_var = "BENCH_CREMA_D_ROOT"
    protocols = ("speaker", "random-10fold", "emobox")
    emobox = "cremad"
    layout = "AudioWAV/1001_DFA_ANG_XX.wav (or .mp3/.flv) file"
    _genders: dict[str, str] = {}  # actor -> gender, read by scan() before the files are parsed

    def scan(self, root: Path) -> ScanResult:
        self._genders = read_genders(self.check_root(root))
        return super().scan(root)

    def parse(self, path: Path, root: Path) -> Utterance | str:
        match = NAME.match(path.stem)
        if not match:
            return "name is not <actor>_<sentence>_<emotion>_<intensity> like 1001_DFA_ANG_XX"
        actor, sentence, emotion, intensity = match.groups()
        label = canonical(emotion)
        if label not in self.classes:
            return f"unknown emotion code {emotion!r}"
        if sentence not in SENTENCES:
            return f"unknown sentence code {sentence!r}"
        if intensity not in INTENSITIES:
            return f"unknown intensity code {intensity!r}"
        return Utterance(
            uid=path.stem,
            path=path,
            label=label,
            speaker=actor,
            gender=self._genders.get(actor),
            meta={"sentence": sentence, "intensity": INTENSITIES[intensity]},
        )


def read_genders(root: Path) -> dict[str, str]:
    """Actor -> male/female from ``VideoDemographics.csv``, if the root holds it."""
    table = next((p for p in walk(root, []) if p.name == DEMOGRAPHICS), None)
    if table is None:
        return {}
    with table.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"ActorID", "Sex"} <= set(rows[0]):
        raise DataError(f"crema-d: {table} lacks the ActorID and Sex columns of the corpus' demographics table")
    return {
        row["ActorID"].strip(): row["Sex"].strip().lower()
        for row in rows
        if row["Sex"].strip().lower() in ("male", "female")
    }
