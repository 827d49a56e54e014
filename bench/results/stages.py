"""CLEP-DG's rows, as the stage tables read them: its arms without and with ACPT.

An arm is named by what the cross-modal classifier trains on. The paper's reading
(``prompts``: the class prompts "This is a [EMOTION] sound" alone, or ACPT's learned
soundscape prompts u_{s,c}) is what its Table 3 compares: the no-ACPT arm is the fine-tuned
model with no soundscape text at all. ``descriptions`` (the soundscape descriptions and
captions as training texts, ACPT's prompts added to them) is a named ablation: it measures
what the descriptions add, and ACPT's gain there is a few prompt rows beside 336 texts.
The method writes these arms (:mod:`bench.methods.clep_dg`); records, tables and plots read
them from here.
"""

from __future__ import annotations

CLEP_DG = "clep-dg"
READINGS = ("prompts", "descriptions")
ARMS = {
    "prompts": {False: "class prompts", True: "ACPT prompts"},
    "descriptions": {False: "descriptions", True: "descriptions + ACPT prompts"},
}
STAGES = {
    (False, False): "none",
    (False, True): "ACPT",
    (True, False): "fine-tune",
    (True, True): "fine-tune + ACPT",
}


def label(tuned: bool, acpt: bool, texts: str) -> str:
    """A CLEP-DG row's name in tables: its stages, and the named ablation's texts where used."""
    name = STAGES[(tuned, acpt)]
    return name if texts == "prompts" else f"{name} (descriptions)"


def key(tuned: bool, acpt: bool, texts: str) -> tuple[bool, str, str]:
    """The row key of a CLEP-DG arm (bench.results.schema.Scores.key)."""
    return tuned, CLEP_DG, ARMS[texts][acpt]


def texts_of(config) -> str:
    """The reading a run's CLEP-DG rows follow (its ``classifier.texts``; records written before
    the setting existed trained on the descriptions)."""
    settings = getattr(config, "classifier_settings", None) or {}
    if not isinstance(settings, dict):
        settings = settings.model_dump()
    return settings.get("texts", "descriptions")
