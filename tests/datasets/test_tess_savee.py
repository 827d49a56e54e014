"""TESS and SAVEE: full-corpus counts, their known naming quirks, both SAVEE layouts."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition, by

from bench.api import DataError
from bench.datasets.savee import SAVEE
from bench.datasets.tess import TESS

TESS_FOLDERS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "Fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "Pleasant_surprise",
    "sad": "Sad",
}  # capitals vary by copy
SAVEE_CODES = {"a": 15, "d": 15, "f": 15, "h": 15, "n": 30, "sa": 15, "su": 15}


@pytest.fixture
def tess(tmp_path, files):
    root = tmp_path / "TESS Toronto emotional speech set data"
    words = [f"w{i:03d}" for i in range(200)]
    paths = [
        root / f"{spk}_{folder}" / f"{spk}_{word}_{emo}.wav"
        for spk in ("OAF", "YAF")
        for emo, folder in TESS_FOLDERS.items()
        for word in words
        if (spk, word, emo) != ("OAF", "w000", "neutral")
    ]
    paths.append(root / "OAF_neutral" / "OA_w000_neutral.wav")  # the release's misnamed file
    paths.append(root / "YAF_calm" / "YAF_w001_calm.wav")  # not a TESS emotion
    paths.append(root / "misc" / "XYZ_w001_angry.wav")  # unknown speaker, unknown folder
    files.many(paths)
    return root


def test_tess_counts_and_misnamed_file(tess):
    result = TESS().scan(tess)
    utts = result.utterances
    assert len(utts) == 2800
    assert set(by(utts, "label").values()) == {400} and set(by(utts, "label")) == set(TESS.classes)
    assert by(utts, "speaker") == {"OAF": 1400, "YAF": 1400}
    assert by(utts, "gender") == {"female": 2800}
    fixed = next(u for u in utts if u.path.name == "OA_w000_neutral.wav")
    assert (fixed.uid, fixed.speaker, fixed.label) == ("OAF_w000_neutral", "OAF", "neutral")
    assert next(u for u in utts if u.uid == "YAF_w005_ps").label == "surprise"
    reasons = {p.name: r for p, r in result.skipped}
    assert reasons.keys() == {"YAF_w001_calm.wav", "XYZ_w001_angry.wav"}
    assert "unknown emotion 'calm'" in reasons["YAF_w001_calm.wav"]
    assert "neither OAF nor YAF" in reasons["XYZ_w001_angry.wav"]
    folds = TESS().folds(utts, "speaker")
    assert [f.name for f in folds] == ["speakerOAF", "speakerYAF"]
    assert_partition(folds, utts)
    assert_partition(TESS().folds(utts, "random-10fold"), utts)


def savee_names():
    for code, n in SAVEE_CODES.items():
        for i in range(1, n + 1):
            yield f"{code}{i:02d}"


@pytest.mark.parametrize("layout", ["owners", "flat"])
def test_savee_both_layouts_give_the_same_corpus(tmp_path, files, layout):
    root = tmp_path / "SAVEE"
    for spk in ("DC", "JE", "JK", "KL"):
        if layout == "owners":
            files.many(root / "AudioData" / spk / f"{name}.wav" for name in savee_names())
        else:
            files.many(root / "ALL" / f"{spk}_{name}.wav" for name in savee_names())
    files.many([root / "AudioData" / "XX" / "a01.wav", root / "ALL" / "DC_b01.wav"])
    result = SAVEE().scan(root)
    utts = result.utterances
    assert len(utts) == 480
    assert by(utts, "label") == {
        "anger": 60,
        "disgust": 60,
        "fear": 60,
        "happiness": 60,
        "neutral": 120,
        "sadness": 60,
        "surprise": 60,
    }
    assert set(by(utts, "speaker").values()) == {120} and by(utts, "gender") == {"male": 480}
    assert {u.uid for u in utts} >= {"DC_a01", "KL_su15", "JE_n30"}
    reasons = {p.name: r for p, r in result.skipped}
    assert reasons == {
        "a01.wav": "speaker 'XX' is not one of DC, JE, JK, KL (from the name or the folder)",
        "DC_b01.wav": "unknown emotion code 'b'",
    }
    folds = SAVEE().folds(utts, "speaker")
    assert len(folds) == 4
    assert_partition(folds, utts)


def test_savee_one_clip_in_both_layouts_counts_once(tmp_path, files):
    files.many([tmp_path / "AudioData" / "DC" / "a01.wav", tmp_path / "ALL" / "DC_a01.wav"])
    result = SAVEE().scan(tmp_path)
    assert [u.uid for u in result.utterances] == ["DC_a01"]
    assert len(result.skipped) == 1 and result.skipped[0][1].startswith("duplicate of DC_a01")


def test_savee_rejects_another_corpus(tmp_path, files):
    files.many([tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav"])
    with pytest.raises(DataError, match="is this the savee corpus"):
        SAVEE().scan(tmp_path)
