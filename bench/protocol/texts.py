"""The texts of the protocol: the fine-tuning caption, the 12 soundscapes of ACPT, and the
emotion descriptions {t_m, y_m} that ACPT and the cross-modal classifier train on.

The soundscape list and the description templates are ours (the paper gives neither); the
soundscapes cover the conditions of CLAP's pre-training data and of the fine-tuning corpora
(acted studio speech, TV shows, web video, telephone, outdoor and indoor noise). The acoustic
test conditions of :mod:`bench.data.conditions` that put speech in one of these places name it
(studio, street, phone-call, reverberant-hall, crowd-babble, background-music), and accept it
as their own name, so a soundscape table says which conditions ACPT "imagined".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from bench.api import Backbone

CAPTION = "This is a {} sound"
GENDER_CAPTION = "This is the voice of a {} speaker"  # the gender task of GEmo-CLAP's ml-gemo objective

SOUNDSCAPES: dict[str, str] = {
    "studio": "a quiet recording studio",
    "tv-sitcom": "a TV sitcom with a laugh track",
    "online-video": "an online video",
    "phone-call": "a phone call",
    "street": "a busy street with traffic",
    "cafe": "a noisy cafe",
    "office": "an office",
    "car": "a moving car",
    "wind-outdoors": "windy outdoors",
    "reverberant-hall": "a large reverberant hall",
    "crowd-babble": "a crowd of people talking",
    "background-music": "a room with background music",
}

DESCRIPTION_TEMPLATES = (
    "a {emotion} voice recorded in {place}",
    "someone speaking in a {emotion} tone in {place}",
    "the sound of a {emotion} person talking in {place}",
    "{emotion} speech heard in {place}",
)


@dataclass(frozen=True)
class Descriptions:
    """Texts t_m with their class y_m and the soundscape s_m they mention."""

    texts: list[str]
    labels: list[int]
    soundscapes: list[int]


def descriptions(class_words: Sequence[str]) -> Descriptions:
    texts, labels, scapes = [], [], []
    for s, place in enumerate(SOUNDSCAPES.values()):
        for c, word in enumerate(class_words):
            for template in DESCRIPTION_TEMPLATES:
                texts.append(template.format(emotion=word, place=place))
                labels.append(c)
                scapes.append(s)
    return Descriptions(texts, labels, scapes)


def captions(class_words: Sequence[str]) -> list[str]:
    return [CAPTION.format(word) for word in class_words]


def gender_captions(genders: Sequence[str]) -> list[str]:
    return [GENDER_CAPTION.format(gender) for gender in genders]


class TextFeatures(dict):
    """Frozen text-encoder features of the descriptions and captions, computed on first use."""

    def __init__(self, backbone: Backbone, words: Sequence[str]) -> None:
        super().__init__()
        self.backbone, self.words = backbone, words

    def __missing__(self, key: str) -> Tensor:
        desc = descriptions(self.words)
        with torch.no_grad():
            self.update(
                descriptions=self.backbone.text_features(desc.texts),
                captions=self.backbone.text_features(captions(self.words)),
                labels=torch.tensor(desc.labels),
                soundscapes=torch.tensor(desc.soundscapes),
            )
        return self[key]
