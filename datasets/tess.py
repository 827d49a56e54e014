"""TESS: the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller, 2010).

Layout as distributed: ``OAF_angry/OAF_back_angry.wav``: speaker (OAF older, YAF younger
actress, both female), one of 200 target words, emotion (angry, disgust, fear, happy, neutral,
ps = pleasant surprise, sad; folder capitalisation varies between copies). One file of the
release is misnamed ``OAF_neutral/OA_bite_neutral.wav``: when a name's speaker is not OAF/YAF,
the enclosing ``OAF_*``/``YAF_*`` folder names it, and the uid is written with the right
speaker (``OAF_bite_neutral``).

Full corpus: 2800 files = 2 speakers x 7 emotions x 200 words (400 per class).
Protocols: ``random-10fold`` (the paper's) and ``speaker`` (leave-one-speaker-out, 2 folds).
"""

from __future__ import annotations

from pathlib import Path

from bench.api import Utterance, canonical
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus

SPEAKERS = ("OAF", "YAF")


class TESS(EmoBoxNames, Corpus):
    name = "tess"
    classes = ("anger", "disgust", "fear", "happiness", "neutral", "surprise", "sadness")
    env_var = "BENCH_TESS_ROOT"
    protocols = ("random-10fold", "speaker", "emobox")
    emobox = "tess"
    layout = "OAF_angry/OAF_back_angry.wav file"

    def parse(self, path: Path, root: Path) -> Utterance | str:
        parts = path.stem.split("_")
        if len(parts) < 3:
            return "name is not <speaker>_<word>_<emotion> like OAF_back_angry"
        speaker, word, emotion = parts[0].upper(), parts[1].lower(), "_".join(parts[2:]).lower()
        if speaker not in SPEAKERS:
            folder = path.parent.name.split("_")[0].upper()
            if folder not in SPEAKERS:
                return f"speaker {parts[0]!r} is neither OAF nor YAF, nor is its folder"
            speaker = folder
        label = canonical(emotion)
        if label not in self.classes:
            return f"unknown emotion {emotion!r}"
        return Utterance(
            uid=f"{speaker}_{word}_{emotion}",
            path=path,
            label=label,
            speaker=speaker,
            gender="female",
            meta={"word": word},
        )
