"""MELD (CSV labels, mp4 clips in the release's folders) and MEAD (m4a in its folder tree)."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition, by

from bench.api import DataError
from bench.audio import io as audio
from bench.datasets.mead import MEAD
from bench.datasets.meld import MELD

MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
EMOTIONS = ("neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear")


def meld_rows(n: int, start_dialog: int = 0) -> list[tuple[int, int, str]]:
    return [(start_dialog + i // 3, i % 3, EMOTIONS[i % 7]) for i in range(n)]


def write_meld(root, files, with_video: bool = True):
    """MELD.Raw with 14/7/7 rows; a few real mp4 clips, the rest WAV bytes named .mp4."""
    layout = {
        "train": ("train", "train_splits", meld_rows(14)),
        "dev": ("dev", "dev_splits_complete", meld_rows(7)),
        "test": ("test", "output_repeated_splits_test", meld_rows(7)),
    }
    for split, (archive, folder, rows) in layout.items():
        text = MELD_HEADER + "".join(
            f'{i + 1},"Oh my God, he\u2019s so {emo}!",Chandler,{emo},neutral,{d},{u},3,5,"00:14:38,127","00:14:40,000"\n'
            for i, (d, u, emo) in enumerate(rows)
        )
        table = root / f"{split}_sent_emo.csv"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_bytes(text.encode("cp1252"))  # the release's CSVs carry cp1252 bytes
        clips = [root / archive / folder / f"dia{d}_utt{u}.mp4" for d, u, _ in rows]
        if with_video:
            for clip in clips[:2]:
                files.container(clip, "mp4", "aac", rate=48_000, channels=2)
            clips = clips[2:]
        files.many(clips)
    # quirks: a clip missing from train, a prefixed test copy beside its plain twin,
    # a prefixed-only test clip, a stray clip with no CSV row, a macOS metadata file
    (root / "train" / "train_splits" / "dia4_utt1.mp4").unlink()
    test = root / "test" / "output_repeated_splits_test"
    files.many([test / "final_videos_testdia0_utt0.mp4", test / "dia99_utt0.mp4", test / "._dia0_utt1.mp4"])
    (test / "dia2_utt0.mp4").rename(test / "final_videos_testdia2_utt0.mp4")
    return root


def test_meld_reads_the_release_layout(tmp_path, files):
    root = write_meld(tmp_path / "MELD.Raw", files)
    result = MELD().scan(root)
    utts = result.utterances
    assert by(utts, "split") == {"train": 13, "dev": 7, "test": 7}
    assert set(by(utts, "label")) == set(MELD.classes)
    assert by(utts, "speaker") == {"Chandler": 27}
    first = next(u for u in utts if u.uid == "train/dia0_utt1")
    assert first.label == "happiness" and first.meta["text"] == "Oh my God, he\ufffds so joy!"
    assert next(u for u in utts if u.uid == "test/dia2_utt0").path.name == "final_videos_testdia2_utt0.mp4"
    assert next(u for u in utts if u.uid == "test/dia0_utt0").path.name == "dia0_utt0.mp4"
    reasons = sorted(r for _, r in result.skipped)
    assert reasons == sorted(
        [
            "train_sent_emo.csv line 15 (dia4_utt1): its clip is missing from train_splits/",
            "test-folder copy of dia0_utt0; the plain-named clip is used",
            "no row in test_sent_emo.csv",
            "macOS metadata file ('._' AppleDouble), not audio",
        ]
    )
    (fold,) = MELD().folds(utts, "official")
    assert len(fold.train) == 20 and len(fold.test) == 7
    assert_partition(MELD().folds(utts, "random-10fold"), utts)
    wave = audio.load(next(u for u in utts if u.uid == "dev/dia0_utt0").path, 16_000)
    assert abs(len(wave) / 16_000 - 0.3) < 0.05  # the AAC clip, stereo 48 kHz, decoded by FFmpeg


def test_meld_needs_its_csvs(tmp_path, files):
    files.many([tmp_path / "train_splits" / "dia0_utt0.mp4"])
    with pytest.raises(DataError, match="is this the meld corpus"):
        MELD().scan(tmp_path)
    (tmp_path / "train_sent_emo.csv").write_text("Utterance,Emotion\nhi,joy\n")
    with pytest.raises(DataError, match=r"lacks columns \['Dialogue_ID', 'Speaker', 'Utterance_ID'\]"):
        MELD().scan(tmp_path)


MEAD_EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")


def test_mead_folder_tree(tmp_path, files):
    root = tmp_path / "MEAD"
    paths = [
        root / actor / "audio" / emo / f"level_{level}" / f"{n:03d}.m4a"
        for actor in ("M003", "M005", "W009", "W011")
        for emo in MEAD_EMOTIONS
        for level in ((1,) if emo == "neutral" else (1, 2, 3))
        for n in (1, 2)
    ]
    files.container(paths[0], "ipod", "aac", rate=48_000)
    files.many(paths[1:])
    files.many(
        [
            root / "M003" / "video" / "front" / "angry" / "level_1" / "001.mp4",  # not read
            root / "M003" / "audio" / "bored" / "level_1" / "001.m4a",
            root / "M003" / "audio" / "angry" / "level_x" / "001.m4a",
            root / "X001" / "audio" / "angry" / "level_1" / "001.m4a",
            root / "M003" / "audio" / "angry" / "001.m4a",
        ]
    )
    result = MEAD().scan(root)
    utts = result.utterances
    assert len(utts) == 4 * (7 * 3 * 2 + 2)
    assert by(utts, "label")["neutral"] == 8 and by(utts, "label")["contempt"] == 24
    assert by(utts, "gender") == {"male": 88, "female": 88}
    utt = next(u for u in utts if u.uid == "W009_disgust_3_002")
    assert (utt.speaker, utt.label, utt.meta["level"]) == ("W009", "disgust", "3")
    assert sorted(r for _, r in result.skipped) == [
        "actor folder 'X001' is not like M003 or W009",
        "intensity folder 'level_x' is not level_<n>",
        "not at <actor>/audio/<emotion>/level_<n>/<nnn>.m4a",
        "unknown emotion folder 'bored'",
    ]
    assert len(audio.load(paths[0], 16_000)) > 4000
    folds = MEAD().folds(utts, "speaker")
    assert len(folds) == 4  # four actors: leave-one-actor-out
    assert_partition(folds, utts)
