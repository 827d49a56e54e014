"""RAVDESS: the full speech layout (1440 files), song/video/typo files skipped, quirky audio read."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition, by

from bench.api import DataError
from bench.audio import io as audio
from bench.datasets.ravdess import RAVDESS


def ravdess_names():
    for actor in range(1, 25):
        for emotion in range(1, 9):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for rep in (1, 2):
                        yield (
                            f"Actor_{actor:02d}",
                            f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor:02d}.wav",
                        )


@pytest.fixture
def corpus(tmp_path, files):
    root = tmp_path / "RAVDESS"
    files.many(root / "Audio_Speech_Actors_01-24" / actor / name for actor, name in ravdess_names())
    song = root / "Audio_Song_Actors_01-24" / "Actor_01"
    files.many(
        [
            song / "03-02-03-01-01-01-01.wav",  # song
            root / "Video" / "Actor_02" / "01-01-03-01-01-01-02.mp4",  # audio-video
            root / "Actor_03" / "03-01-09-01-01-01-03.wav",  # unknown emotion
            root / "Actor_03" / "03-01-05-01-01-1-03.wav",  # typo in the name
            root / "Actor_03" / "._03-01-05-01-01-01-03.wav",  # macOS metadata
            root / "Actor_25" / "03-01-05-01-01-01-25.wav",
        ]
    )  # no such actor
    return root


def test_full_speech_corpus_counts(corpus):
    result = RAVDESS().scan(corpus)
    utts = result.utterances
    assert len(utts) == 1440
    assert by(utts, "label") == {"neutral": 96, **{c: 192 for c in RAVDESS.classes[1:]}}
    assert len(by(utts, "speaker")) == 24 and set(by(utts, "speaker").values()) == {60}
    assert by(utts, "gender") == {"male": 720, "female": 720}
    first = next(u for u in utts if u.uid == "03-01-05-02-01-01-12")
    assert (first.label, first.speaker, first.gender, first.meta["intensity"]) == ("anger", "12", "female", "strong")
    reasons = {path.name: reason for path, reason in result.skipped}
    assert len(reasons) == 6
    assert "song" in reasons["03-02-03-01-01-01-01.wav"]
    assert "audio-video" in reasons["01-01-03-01-01-01-02.mp4"]
    assert "emotion code 09" in reasons["03-01-09-01-01-01-03.wav"]
    assert "seven two-digit fields" in reasons["03-01-05-01-01-1-03.wav"]
    assert "macOS" in reasons["._03-01-05-01-01-01-03.wav"]
    assert "outside 01-24" in reasons["03-01-05-01-01-01-25.wav"]


def test_protocols_never_put_an_utterance_on_both_sides(corpus):
    loader = RAVDESS()
    utts = loader.scan(corpus).utterances
    random = loader.folds(utts, "random-10fold", seed=1)
    assert len(random) == 10
    assert_partition(random, utts)
    assert loader.folds(utts, "random-10fold", seed=1) == random
    speaker = loader.folds(utts, "speaker", seed=0)
    assert len(speaker) == 5  # 24 actors are more than leave-one-out affords
    assert_partition(speaker, utts)
    speaker_of = {u.uid: u.speaker for u in utts}
    for fold in speaker:
        assert not {speaker_of[u] for u in fold.train} & {speaker_of[u] for u in fold.test}
    with pytest.raises(DataError, match="unknown protocol"):
        loader.folds(utts, "session")


def test_not_ravdess(tmp_path, files):
    files.many([tmp_path / "OAF_back_angry.wav"])
    with pytest.raises(DataError, match=r"no Actor_NN/.*is this the ravdess corpus\?"):
        RAVDESS().scan(tmp_path)
    with pytest.raises(DataError, match="not a directory"):
        RAVDESS().scan(tmp_path / "missing")


def test_quirky_files_scan_and_load(tmp_path, files):
    actor = tmp_path / "Actor_01"
    files.wav(actor / "03-01-01-01-01-01-01.wav", rate=96_000, channels=2)  # 96 kHz stereo
    files.wav(actor / "03-01-02-01-01-01-01.wav", rate=24_414, format="AIFF")  # AIFF named .wav
    files.wav(actor / "03-01-03-01-01-01-01.wav", rate=48_000, subtype="PCM_24")
    utts = RAVDESS().scan(tmp_path).utterances
    assert [u.label for u in utts] == ["neutral", "calm", "happiness"]
    for utt in utts:
        wave = audio.load(utt.path, 16_000)
        assert wave.ndim == 1 and abs(len(wave) - 4000) <= 2
