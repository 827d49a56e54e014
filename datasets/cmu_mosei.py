"""CMU-MOSEI (Zadeh et al., 2018): monologue videos, emotion intensities per segment.

Labels: six emotions (happy, sad, anger, surprise, disgust, fear), each an intensity in
[0, 3] averaged over annotators, per segment (a span of a longer video). One label per
segment, our rule: the emotion of highest intensity; a segment where every intensity is 0
is ``neutral``; a segment whose highest intensity is shared by two emotions is skipped
(reason "tie"), as is a segment with no positive duration. Classes (7): happiness, sadness,
anger, surprise, disgust, fear, neutral.

Read from either (first found under the root wins):
- ``CMU_MOSEI_Labels.csv``, one row per segment, columns ``video_id, start, end, happy, sad,
  anger, surprise, disgust, fear`` (seconds; intensities 0-3), optional ``split``
  (train/valid/test, e.g. the SDK's standard folds) for the ``official`` protocol;
- ``CMU_MOSEI_Labels.csd``, the SDK's computational sequence (HDF5): ``<name>/data/<video>/
  features`` rows ``[sentiment, happy, sad, anger, surprise, disgust, fear]`` and
  ``intervals`` rows ``[start, end]``.
Audio: ``<video_id>.wav`` (or any container) anywhere under the root, as in the SDK's raw
release ``Raw/Audio/Full/WAV_16000/``; segments are read with ``offset``/``duration``.

Full corpus: 23,453 annotated segments from 3,228 videos of 1,000 speakers (the paper; the
SDK's labels file holds slightly fewer), all before the rule above drops ties. Speakers are
not published per video, so the group protocol is ``video`` (5 folds of whole videos, a
stand-in for speaker independence); ``random-10fold`` splits segments of one video across
folds; ``official`` needs the ``split`` column.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from bench.api import DataError, Fold, ScanResult, Utterance
from bench.datasets._common import Corpus, group_folds, is_audio, unusable, walk

EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
CLASSES = {
    "happy": "happiness",
    "sad": "sadness",
    "anger": "anger",
    "surprise": "surprise",
    "disgust": "disgust",
    "fear": "fear",
}
SPLITS = {"train": "train", "valid": "dev", "val": "dev", "dev": "dev", "test": "test"}
CSV_NAME, CSD_NAME = "CMU_MOSEI_Labels.csv", "CMU_MOSEI_Labels.csd"

Segment = tuple[str, float, float, list[float], str | None]  # video, start, end, intensities, split


class CMUMOSEI(Corpus):
    name = "cmu-mosei"
    classes = ("happiness", "sadness", "anger", "surprise", "disgust", "fear", "neutral")
    env_var = "BENCH_CMU_MOSEI_ROOT"
    protocols = ("video", "random-10fold", "official")
    layout = f"{CSV_NAME} or {CSD_NAME} label file with <video_id>.wav audio"

    def scan(self, root: Path) -> ScanResult:
        root = self.check_root(root)
        tables: dict[str, Path] = {}
        audio: dict[str, list[Path]] = {}
        skipped: list[tuple[Path, str]] = []
        for path in walk(root, skipped):
            if path.name in (CSV_NAME, CSD_NAME):
                tables.setdefault(path.name, path)
            elif is_audio(path):
                if reason := unusable(path):
                    skipped.append((path, reason))
                else:
                    audio.setdefault(path.stem, []).append(path)
        if not tables:
            raise DataError(f"cmu-mosei: no {CSV_NAME} or {CSD_NAME} under {root}; is this the CMU-MOSEI corpus?")
        table = tables.get(CSV_NAME) or tables[CSD_NAME]
        segments = read_csv(table) if table.name == CSV_NAME else read_csd(table)
        found, index = [], {}
        for video, start, end, intensities, split in sorted(segments, key=lambda s: (s[0], s[1], s[2])):
            number = index[video] = index.get(video, -1) + 1
            where = f"{video} segment {number} [{start:.2f}-{end:.2f}]"
            label, reason = segment_label(intensities)
            if end <= start:
                reason = "no positive duration"
            if video not in audio:
                reason = f"no audio file named {video}.* under the root"
            if reason:
                skipped.append((table, f"{where}: {reason}"))
                continue
            found.extend(
                Utterance(
                    uid=f"{video}_{number}",
                    path=path,
                    label=label,
                    offset=start,
                    duration=end - start,
                    split=split,
                    meta={"video": video, **dict(zip(EMOTIONS, map(str, intensities)))},
                )
                for path in audio[video]
            )
        return self.finish(root, found, skipped)

    def corpus_folds(self, utterances: Sequence[Utterance], protocol: str, seed: int) -> list[Fold]:
        return group_folds(utterances, lambda u: u.meta["video"], seed, prefix="videos")


def segment_label(intensities: Sequence[float]) -> tuple[str, str | None]:
    """(label, None) by the rule in the module docstring, or ("", reason) for a tie."""
    top = max(intensities)
    if top <= 0:
        return "neutral", None
    best = [e for e, v in zip(EMOTIONS, intensities) if abs(v - top) < 1e-6]
    if len(best) > 1:
        return "", f"tie between {' and '.join(best)} at {top:.2f}"
    return CLASSES[best[0]], None


def read_csv(table: Path) -> list[Segment]:
    with table.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"video_id", "start", "end", *EMOTIONS} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"cmu-mosei: {table} lacks columns {sorted(missing)} (see the cmu-mosei loader's docs)")
        segments = []
        for row in reader:
            try:
                values = [float(row[e]) for e in EMOTIONS]
                start, end = float(row["start"]), float(row["end"])
            except (TypeError, ValueError) as err:
                raise DataError(f"cmu-mosei: {table} line {reader.line_num}: not a number ({err})") from None
            split = (row.get("split") or "").strip().lower() or None
            if split is not None and split not in SPLITS:
                raise DataError(f"cmu-mosei: {table} line {reader.line_num}: split {split!r} is not train/valid/test")
            segments.append((row["video_id"].strip(), start, end, values, SPLITS.get(split)))
    return segments


def read_csd(table: Path) -> list[Segment]:
    import h5py

    try:
        with h5py.File(table, "r") as f:
            group = next((g["data"] for g in f.values() if isinstance(g, h5py.Group) and "data" in g), None)
            if group is None:
                raise DataError(f"cmu-mosei: {table} has no <name>/data group; is it an SDK computational sequence?")
            segments = []
            for video in group:
                features, intervals = group[video]["features"][()], group[video]["intervals"][()]
                if features.ndim != 2 or features.shape[1] != 1 + len(EMOTIONS):
                    raise DataError(
                        f"cmu-mosei: {table}: {video} has features of shape {features.shape}, "
                        "expected [segments, 7] (sentiment and six emotions); is it the labels file?"
                    )
                for row, (start, end) in zip(features, intervals):
                    segments.append((video, float(start), float(end), [float(v) for v in row[1:7]], None))
    except OSError as err:
        raise DataError(f"cmu-mosei: {table} is not a readable HDF5 file ({err})") from None
    return segments
