"""Corpus trees in each owner's layout, generated from EmoBox's own lists (../shared/emobox).

EmoBox's ``wav`` paths mirror the owners' layouts under ``downloads/<corpus>/``; the writers
below keep those paths (TESS goes into its ``OAF_fear/`` folders, with the release's misnamed
``OA_bite_neutral.wav``) and add the annotation files the annotation corpora need (IEMOCAP's
EmoEvaluation files, MELD's CSVs), so each real loader scans the tree as it would the corpus.
Audio is a byte copy of one small WAV: scanning never decodes.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path, PurePosixPath

import pytest
from corpus_files import REPO, Files

EMOBOX = Path(os.environ.get("BENCH_EMOBOX_DIR", REPO.parent / "shared" / "emobox" / "data"))
# bench loader name -> EmoBox folder
CORPORA = {
    "ravdess": "ravdess",
    "tess": "tess",
    "savee": "savee",
    "crema-d": "cremad",
    "emodb": "emodb",
    "iemocap": "iemocap",
    "meld": "meld",
    "mead": "mead",
}
MELD_SPLITS = {"output_repeated_splits_test": "test", "dev_splits_complete": "dev", "train_splits": "train"}


def emobox_dir() -> Path:
    if not (EMOBOX / "track2").is_dir():
        pytest.skip(f"EmoBox partitions not found at {EMOBOX} (set BENCH_EMOBOX_DIR to EmoBox's data/ folder)")
    return EMOBOX


def entries(corpus: str) -> list[dict]:
    """Every utterance EmoBox lists for a corpus (one per key), from its ``*_fold_<k>`` files."""
    seen = {}
    for path in sorted((EMOBOX / corpus).glob("fold_*/*_fold_*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            seen.setdefault(row["key"], row)
    return list(seen.values())


def write_tree(name: str, root: Path, files: Files) -> dict[str, Path]:
    """The corpus ``name`` under ``root`` as its owners lay it out; EmoBox key -> file written."""
    corpus = CORPORA[name]
    rows = entries(corpus)
    written = {}
    for row in rows:
        relative = PurePosixPath(row["wav"]).relative_to(f"downloads/{corpus}")
        if corpus == "tess":
            stem = relative.stem if row["key"] != "tess-OAF-bite-neutral" else "OA_bite_neutral"
            relative = PurePosixPath(f"{relative.stem[:3]}_{row['emo']}/{stem}.wav")
        written[row["key"]] = root / relative
    files.many(written.values())
    if corpus == "iemocap":
        _emo_evaluation(root, rows)
    if corpus == "meld":
        _meld_csvs(root, rows, written)
    return written


def _emo_evaluation(root: Path, rows: list[dict]) -> None:
    dialogs = defaultdict(list)
    for row in rows:
        uid = row["key"].removeprefix("iemocap-")
        dialogs[uid.rsplit("_", 1)[0]].append(f"[1.0000 - 2.0000]\t{uid}\t{row['emo']}\t[2.5000, 2.5000, 2.5000]\n")
    for dialog, lines in dialogs.items():
        table = root / f"Session{int(dialog[3:5])}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + "\n".join(lines))


def _meld_csvs(root: Path, rows: list[dict], written: dict[str, Path]) -> None:
    tables = defaultdict(list)
    for row in rows:
        path = written[row["key"]]
        dialog, utterance = path.stem.removeprefix("dia").split("_utt")
        tables[MELD_SPLITS[path.parent.name]].append((int(dialog), int(utterance), row["emo"]))
    for split, lines in tables.items():
        with (root / f"{split}_sent_emo.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID"])
            for i, (dialog, utterance, emotion) in enumerate(sorted(lines)):
                writer.writerow([i + 1, "...", "Joey", emotion, "neutral", dialog, utterance])
