"""MELD: the Multimodal EmotionLines Dataset (Poria et al., 2019), utterances from *Friends*.

Layout as distributed (``MELD.Raw``): labels in ``train_sent_emo.csv``, ``dev_sent_emo.csv``,
``test_sent_emo.csv`` (columns Utterance, Speaker, Emotion, Dialogue_ID, Utterance_ID, ...);
clips ``dia{Dialogue_ID}_utt{Utterance_ID}.mp4`` in the folders the three archives unpack to:
``train_splits/``, ``dev_splits_complete/`` and ``output_repeated_splits_test/`` (anywhere
under the root, e.g. ``MELD.Raw/train/train_splits``). A clip may also be audio already
decoded by ``bench data prepare`` (same name, ``.wav``). Quirks: the test folder also holds
``final_videos_testdia{D}_utt{U}.mp4`` copies; the plain name is used when both exist, the
prefixed one only when it is the sole clip. Two rows have no clip in the release
(``dia125_utt3`` train, ``dia110_utt7`` dev): they are skipped as missing.

Classes: anger, disgust, fear, joy -> happiness, neutral, sadness, surprise (7). Speaker is
the character name. Full corpus: 9989 / 1109 / 2610 rows (train/dev/test; 13,708 in all).
Protocol: ``official`` (train and dev train, test tests; the paper's) and ``random-10fold``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from bench.api import DataError, ScanResult, Utterance, canonical
from bench.data.emobox import EmoBoxNames
from bench.datasets._common import Corpus, is_audio, unusable, walk

SPLITS = {
    "train": ("train_sent_emo.csv", "train_splits"),
    "dev": ("dev_sent_emo.csv", "dev_splits_complete"),
    "test": ("test_sent_emo.csv", "output_repeated_splits_test"),
}
TEST_PREFIX = "final_videos_test"
COLUMNS = {"Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID"}


class MELD(EmoBoxNames, Corpus):
    name = "meld"
    classes = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
    env_var = "BENCH_MELD_ROOT"
    protocols = ("official", "random-10fold", "emobox", "emobox-track2")
    emobox, track2 = "meld", "MELD"
    layout = "train_sent_emo.csv / dev_sent_emo.csv / test_sent_emo.csv with their clip folders"

    def scan(self, root: Path) -> ScanResult:
        root = self.check_root(root)
        tables: dict[str, Path] = {}
        clips: dict[tuple[str, str], list[Path]] = {}  # (split, clip name) -> audio files
        skipped: list[tuple[Path, str]] = []
        folders = {folder: split for split, (_, folder) in SPLITS.items()}
        csvs = {table: split for split, (table, _) in SPLITS.items()}
        for path in walk(root, skipped):
            if path.name in csvs:
                tables.setdefault(csvs[path.name], path)
            elif is_audio(path) and path.parent.name in folders:
                if reason := unusable(path):
                    skipped.append((path, reason))
                else:
                    clips.setdefault((folders[path.parent.name], path.stem), []).append(path)
        if not tables:
            raise DataError(f"meld: no {self.layout} under {root}; is this the meld corpus (MELD.Raw)?")
        found = []
        for split, table in sorted(tables.items()):
            for line, row in read_rows(table):
                name = f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}"
                where = f"{table.name} line {line} ({name})"
                label = canonical(row["Emotion"])
                if label not in self.classes:
                    skipped.append((table, f"{where}: unknown emotion {row['Emotion']!r}"))
                    continue
                plain, copies = clips.pop((split, name), []), clips.pop((split, TEST_PREFIX + name), [])
                if plain:
                    skipped.extend((c, f"test-folder copy of {name}; the plain-named clip is used") for c in copies)
                files = plain or copies
                if not files:
                    skipped.append((table, f"{where}: its clip is missing from {SPLITS[split][1]}/"))
                    continue
                found.extend(
                    Utterance(
                        uid=f"{split}/{name}",
                        path=path,
                        label=label,
                        speaker=row["Speaker"],
                        split=split,
                        meta={"text": row["Utterance"], "dialogue": row["Dialogue_ID"]},
                    )
                    for path in files
                )
        for (split, _), files in sorted(clips.items()):
            skipped.extend((path, f"no row in {SPLITS[split][0]}") for path in files)
        return self.finish(root, found, skipped)

    def emobox_id(self, utt: Utterance) -> str:
        """EmoBox keys MELD clips by name and split: ``dia0_utt0-test`` for our ``test/dia0_utt0``."""
        split, _, name = utt.uid.partition("/")
        return f"{name}-{split}"

    def track2_id(self, utt: Utterance) -> str:
        """Track 2 names the clip only (``audio/dia933_utt6.wav``), not its split."""
        return utt.uid.partition("/")[2]

    def track2_name(self, entry: Mapping[str, str]) -> str:
        """Two track-2 names are the test folder's copies (``final_videos_testdia12_utt3``)."""
        return Path(entry["wav_filename"]).stem.removeprefix(TEST_PREFIX)


def read_rows(table: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows with their line numbers; the CSVs carry stray non-UTF-8 bytes in the text column."""
    with table.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.DictReader(f)
        missing = COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"meld: {table} lacks columns {sorted(missing)}; is it a MELD *_sent_emo.csv?")
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]
