"""Published figures to set beside ours: the CLEP-DG paper's tables and EmoBox's leaderboard.

The figures live in ``references.json`` beside this module, each set with its source; here
are only the look-ups. A reference counts only for runs on its own partitions: EmoBox's for
runs with the ``emobox`` protocol, the paper's for the others. A cell a reference has no
number for is absent (``None``). All figures are percentages.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = json.loads(Path(__file__).with_name("references.json").read_text())
REFERENCES = tuple(DATA)
LABELS = {"paper": "paper", "emobox": "EmoBox"}

_PAPER = DATA["paper"]
DATASETS = tuple(_PAPER["datasets"])
DATASET_NAMES = {**_PAPER["datasets"], "crema-d": "CREMA-D", "emodb": "EmoDB", "mead": "MEAD"}
BACKBONES = tuple(_PAPER["backbones"])  # Table 2's columns, in the paper's order, under our backbone names
METHOD_BACKBONE = _PAPER["method_backbone"]  # Tables 3 and 4 are the paper's own method
EMOBOX_DATASETS = tuple(DATA["emobox"]["comparison"])


def check(reference: str | None) -> None:
    if reference is not None and reference not in REFERENCES:
        raise ValueError(f"--reference must be one of {', '.join(REFERENCES)}, not {reference!r}")


def fits(reference: str | None, protocol: str) -> bool:
    """Whether a run on ``protocol`` is comparable with ``reference`` (no reference: every run is)."""
    emobox = protocol.startswith("emobox")
    return reference is None or (protocol == "emobox" if reference == "emobox" else not emobox)


def comparison(reference: str | None, backbone: str, dataset: str, metric: str) -> float | None:
    """The paper's figure for a backbone, or EmoBox's best model's for the corpus (any backbone)."""
    if reference is None:
        return None
    cells = DATA[reference]["comparison"].get(dataset, {})
    return (cells.get(backbone, {}) if reference == "paper" else cells).get(metric)


def models(reference: str | None, datasets: list[str]) -> str | None:
    """A note giving EmoBox's source and the model behind each of its figures (None for other references)."""
    if reference != "emobox":
        return None
    named = [
        f"{DATASET_NAMES.get(d, d)} {DATA['emobox']['comparison'][d]['model']}"
        for d in datasets
        if d in EMOBOX_DATASETS
    ]
    return f"EmoBox: {DATA['emobox']['source']}; models: {', '.join(named) or 'none of these corpora'}"


def _by_dataset(table: str, row: str, backbone: str, dataset: str, metric: str) -> float | None:
    if backbone != METHOD_BACKBONE or metric != "wa":
        return None
    return _PAPER[table].get(row, {}).get(dataset)


def ablation(row: str, backbone: str, dataset: str, metric: str) -> float | None:
    """Table 3; ``dataset`` may be ``avg`` for the paper's printed average."""
    return _by_dataset("ablation", row, backbone, dataset, metric)


def loss(name: str, backbone: str, dataset: str, metric: str) -> float | None:
    """Table 4; ``dataset`` may be ``avg`` for the paper's printed average."""
    return _by_dataset("loss", name, backbone, dataset, metric)
