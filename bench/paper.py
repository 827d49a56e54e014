"""The CLEP-DG paper's reference numbers (SPEC §6), as data, so tables can set ours beside them.

All figures are percentages (mean of 3 seeds). The paper's columns are mapped to our
plugin names; a cell the paper has no number for is simply absent (``None`` from the
look-ups). The paper's own averages are kept as printed: two of them (Table 3 "both",
Table 4 softmax) differ from the mean of their row, and we do not correct the paper.
"""

from __future__ import annotations

DATASETS = ("iemocap", "meld", "ravdess", "tess", "savee")
DATASET_NAMES = {"iemocap": "IEMOCAP", "meld": "MELD", "ravdess": "RAVDESS", "tess": "TESS", "savee": "SAVEE"}
# Table 2's columns, in the paper's order, under our backbone names.
BACKBONES = ("clep-dg", "compa-clap", "laion-clap", "ms-clap", "audioclip", "wav2clip")
BACKBONE_NAMES = {
    "clep-dg": "CLEP-DG", "compa-clap": "CompA-CLAP", "laion-clap": "LAION-CLAP",
    "ms-clap": "MS-CLAP", "audioclip": "AudioCLIP", "wav2clip": "Wav2CLIP",
}
# Tables 3 and 4 are the paper's own method: our clep-dg backbone.
METHOD_BACKBONE = "clep-dg"

# Table 2: (WA, UA) per dataset, one pair per backbone in BACKBONES order.
_TABLE2 = {
    "iemocap": [(75.18, 74.43), (73.56, 72.14), (72.91, 71.45), (72.54, 70.53), (61.89, 59.52), (58.31, 53.16)],
    "meld": [(50.06, 23.28), (49.08, 20.83), (48.22, 20.47), (47.63, 19.61), (36.83, 16.92), (33.57, 15.23)],
    "ravdess": [(39.17, 36.58), (36.52, 34.13), (35.44, 32.26), (35.73, 32.85), (25.26, 19.27), (23.91, 19.14)],
    "tess": [(54.59, 50.71), (52.37, 49.15), (51.98, 48.35), (49.76, 45.93), (39.53, 34.91), (36.82, 33.07)],
    "savee": [(43.97, 34.53), (40.36, 32.41), (40.16, 31.87), (39.91, 31.63), (30.17, 22.84), (26.54, 20.48)],
}
COMPARISON = {
    (backbone, dataset): {"wa": pair[0], "ua": pair[1]}
    for dataset, pairs in _TABLE2.items()
    for backbone, pair in zip(BACKBONES, pairs)
}

# Table 3 (WA) per stage row, datasets in DATASETS order, then the paper's printed average.
ABLATION = {
    "none": ((36.35, 17.11, 19.91, 23.76, 22.31), 23.89),
    "fine-tune": ((72.91, 48.22, 35.44, 51.98, 40.16), 49.74),
    "ACPT": ((37.07, 19.72, 21.58, 27.33, 23.48), 25.04),
    "fine-tune + ACPT": ((75.18, 50.06, 39.17, 54.59, 43.97), 52.39),
}
# Table 4 (WA) per classifier loss, same layout.
LOSS = {
    "softmax": ((74.59, 49.05, 38.37, 53.93, 42.58), 51.54),
    "arcface": ((75.18, 50.06, 39.17, 54.59, 43.97), 52.59),
}


def comparison(backbone: str, dataset: str, metric: str) -> float | None:
    return COMPARISON.get((backbone, dataset), {}).get(metric)


def _by_dataset(table: dict, row: str, backbone: str, dataset: str, metric: str) -> float | None:
    if backbone != METHOD_BACKBONE or metric != "wa" or row not in table:
        return None
    values, average = table[row]
    if dataset == "avg":
        return average
    return values[DATASETS.index(dataset)] if dataset in DATASETS else None


def ablation(row: str, backbone: str, dataset: str, metric: str) -> float | None:
    """Table 3; ``dataset`` may be ``avg`` for the paper's printed average."""
    return _by_dataset(ABLATION, row, backbone, dataset, metric)


def loss(name: str, backbone: str, dataset: str, metric: str) -> float | None:
    """Table 4; ``dataset`` may be ``avg`` for the paper's printed average."""
    return _by_dataset(LOSS, name, backbone, dataset, metric)
