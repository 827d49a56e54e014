"""One label space across corpora: the canonical class names and their spellings.

Every loader names its classes with the canonical words below, so a class means the same
thing in every corpus. Corpora spell their labels their own way; :func:`canonical` maps the
spellings (``angry``/``ang`` -> anger, ``happy``/``joy`` -> happiness, ``fearful`` -> fear,
``ps``/``pleasant surprise``/``surprised`` -> surprise, ``sad`` -> sadness, ``disgusted`` ->
disgust, ``bored`` -> boredom, ...). Two decisions are ours: TESS's *pleasant surprise* counts
as surprise (no corpus here separates pleasant from unpleasant surprise), and MELD's *joy* as
happiness. Protocol-specific merges (IEMOCAP's excited -> happiness) are not synonyms and live
in their loader.
"""

from __future__ import annotations

CANONICAL = (
    "anger",
    "happiness",
    "sadness",
    "neutral",
    "fear",
    "disgust",
    "surprise",
    "calm",
    "boredom",
    "contempt",
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
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
    "neutral": "neutral",
    "fear": "fearful",
    "disgust": "disgusted",
    "surprise": "surprised",
    "calm": "calm",
    "boredom": "bored",
    "contempt": "contemptuous",
}


def canonical(word: str) -> str | None:
    """The canonical class for a corpus' spelling (case, ``_`` and ``-`` ignored), or None."""
    key = " ".join(word.strip().lower().replace("_", " ").replace("-", " ").split())
    return ALIASES.get(key)


def adjective(label: str) -> str:
    """The prompt word for a canonical class (the label itself when it has none)."""
    return ADJECTIVES.get(label, label)
