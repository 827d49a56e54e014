"""CREMA-D: names, demographics, one clip per uid across formats, and the real sample clips."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition, by

from bench.api import DataError
from bench.audio import io as audio
from bench.datasets.crema_d import SENTENCES, CremaD

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


@pytest.fixture
def corpus(tmp_path, files):
    root = tmp_path / "CREMA-D"
    actors = [f"{1001 + i}" for i in range(12)]
    files.many(
        root / "AudioWAV" / f"{a}_{s}_{e}_{'XX' if e == 'NEU' else 'HI'}.wav"
        for a in actors
        for s in SENTENCES[:2]
        for e in EMOTIONS
    )
    # the MP3 twins of one actor, and a header-only WAV whose MP3 twin must be used instead
    files.many(
        root / "AudioMP3" / f"1001_{s}_{e}_{'XX' if e == 'NEU' else 'HI'}.mp3" for s in SENTENCES[:2] for e in EMOTIONS
    )
    (root / "AudioWAV" / "1012_MTI_SAD_XX.wav").write_bytes(b"RIFF$\0\0\0WAVEfmt ")
    files.container(root / "AudioMP3" / "1012_MTI_SAD_XX.mp3", "mp3", "libmp3lame")
    files.many(
        [
            root / "AudioWAV" / "1001_DFA_CAL_XX.wav",
            root / "AudioWAV" / "1001_XYZ_ANG_HI.wav",
            root / "AudioWAV" / "1001-DFA-ANG-HI.wav",
        ]
    )
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n"
        + "".join(f"{a},30,{'Male' if int(a) % 2 else 'Female'},Caucasian,Not Hispanic\n" for a in actors)
    )
    return root


def test_counts_genders_and_duplicates(corpus):
    result = CremaD().scan(corpus)
    utts = result.utterances
    assert len(utts) == 12 * 2 * 6 + 1
    assert by(utts, "label") == {c: 24 + (c == "sadness") for c in CremaD.classes}
    assert by(utts, "gender") == {"male": 6 * 12, "female": 6 * 12 + 1}  # odd actors are male here
    assert {u.speaker: u.gender for u in utts}["1001"] == "male"
    assert {u.speaker: u.gender for u in utts}["1002"] == "female"
    wav_twin = next(u for u in utts if u.uid == "1001_IEO_ANG_HI")
    assert wav_twin.path.suffix == ".wav" and wav_twin.meta == {"sentence": "IEO", "intensity": "high"}
    assert next(u for u in utts if u.uid == "1012_MTI_SAD_XX").path.suffix == ".mp3"
    reasons = {p.name: r for p, r in result.skipped}
    assert sum(r.startswith("duplicate of 1001_") for r in reasons.values()) == 12
    assert reasons["1012_MTI_SAD_XX.wav"] == "holds no audio (16 bytes): a clip needs at least 0.1 s"
    assert reasons["1001_DFA_CAL_XX.wav"] == "unknown emotion code 'CAL'"
    assert reasons["1001_XYZ_ANG_HI.wav"] == "unknown sentence code 'XYZ'"
    assert "like 1001_DFA_ANG_XX" in reasons["1001-DFA-ANG-HI.wav"]


def test_speaker_groups_keep_actors_apart(corpus):
    loader = CremaD()
    utts = loader.scan(corpus).utterances
    folds = loader.folds(utts, "speaker", seed=3)
    assert [f.name for f in folds] == [f"speakers{i}" for i in range(1, 6)]
    assert_partition(folds, utts)
    actor = {u.uid: u.speaker for u in utts}
    for fold in folds:
        assert not {actor[u] for u in fold.train} & {actor[u] for u in fold.test}
    assert loader.folds(utts, "speaker", seed=4) != folds


def test_demographics_without_sex_column_is_an_error(corpus):
    (corpus / "VideoDemographics.csv").write_text("ActorID,Age\n1001,30\n")
    with pytest.raises(DataError, match="ActorID and Sex"):
        CremaD().scan(corpus)


def test_real_sample_clips_scan_and_decode(shared_data):
    root = shared_data / "crema-d-sample"
    result = CremaD().scan(root)
    utts = result.utterances
    assert len(utts) == 12 and not result.skipped
    assert by(utts, "speaker") == {"1001": 6, "1002": 6}
    assert {u.path.suffix for u in utts if u.speaker == "1001"} == {".flv"}
    assert {u.path.suffix for u in utts if u.speaker == "1002"} == {".mp3"}
    assert set(by(utts, "label")) == set(CremaD.classes)
    for utt in utts:
        wave = audio.load(utt.path, 16_000)
        assert 1.5 < len(wave) / 16_000 < 3.5, utt.uid  # these clips last about 2-3 s
        assert 0.01 < abs(wave).max() <= 1.0
