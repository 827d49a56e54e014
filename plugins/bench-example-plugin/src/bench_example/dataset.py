"""class-folders: your own recordings, one folder per emotion.

Layout: ``<root>/<emotion>/<speaker>_<anything>.wav`` (any audio format bench decodes).
Folder names are the labels, in any spelling `bench` knows (``angry``, ``happy``, ``sad`` ...):
each is mapped to its canonical class name (:data:`bench.api.CANONICAL`); the file-name prefix
before the first underscore is the speaker, which the speaker-independent protocol holds out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.api import (
    CANONICAL,
    DataError,
    DatasetLoader,
    Fold,
    ScanResult,
    Utterance,
    canonical,
    kfold,
    leave_one_group_out,
)

AUDIO = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aiff", ".aif"}


class ClassFolders(DatasetLoader):
    name = "class-folders"
    classes = CANONICAL
    api_version = "2.0"  # the bench.api it was written against
    env_var = "BENCH_CLASS_FOLDERS_ROOT"
    protocols = ("speaker", "random-10fold")

    def scan(self, root: Path) -> ScanResult:
        utterances, skipped = [], []
        for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in AUDIO:
                    continue
                label = canonical(folder.name)
                if label is None:
                    skipped.append((path, f"folder {folder.name!r} is not a class name ({', '.join(CANONICAL)})"))
                    continue
                speaker = path.stem.split("_")[0]
                utterances.append(Utterance(f"{folder.name}/{path.stem}", path, label, speaker))
        if not utterances:
            raise DataError(f"class-folders: no <emotion>/<speaker>_<name>.wav under {root}")
        return ScanResult(utterances, skipped)

    def folds(self, utterances: Sequence[Utterance], protocol: str, seed: int = 0) -> list[Fold]:
        if protocol == "speaker":
            return leave_one_group_out(utterances, lambda u: u.speaker, prefix="speaker-")
        if protocol == "random-10fold":
            return kfold([u.uid for u in utterances], 10, seed)
        raise DataError(f"class-folders: unknown protocol {protocol!r}")
