"""IEMOCAP: labels from EmoEvaluation files, excited merged into happy, session and speaker folds."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition, by

from bench.api import DataError
from bench.datasets.iemocap import IEMOCAP

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
# per dialog: (utterance suffix, label code); F/M letters give the speaking actor
TURNS = [
    ("F000", "neu"),
    ("M000", "hap"),
    ("F001", "exc"),
    ("M001", "ang"),
    ("F002", "sad"),
    ("M002", "fru"),
    ("F003", "xxx"),
    ("M003", "sur"),
]


def write_dialog(root, files, session: int, dialog: str, turns=TURNS, missing=()):
    folder = root / f"Session{session}"
    lines = [HEADER]
    for i, (turn, code) in enumerate(turns):
        uid = f"{dialog}_{turn}"
        lines.append(f"[{i * 3.1:.4f} - {i * 3.1 + 2.5:.4f}]\t{uid}\t{code}\t[2.5000, 3.0000, 2.5000]\n")
        lines.append("C-E1:\tNeutral;\t()\nA-E1:\tval 3; act 2; dom  3;\t()\n\n")
        if uid not in missing:
            files.many([folder / "sentences" / "wav" / dialog / f"{uid}.wav"])
    table = folder / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text("".join(lines))
    (table.parent / f"._{dialog}.txt").write_bytes(b"\0\x05\x16\x07 mac metadata")


@pytest.fixture
def corpus(tmp_path, files):
    root = tmp_path / "IEMOCAP_full_release"
    for s in range(1, 6):
        write_dialog(root, files, s, f"Ses0{s}F_impro01")
        write_dialog(root, files, s, f"Ses0{s}M_script01_1", missing={"Ses05M_script01_1_F001"})
    wav = root / "Session1" / "sentences" / "wav"
    files.many(
        [wav / "Ses01F_impro01" / "._Ses01F_impro01_F000.wav", wav / "Ses01F_impro01" / "Ses01F_impro01_F099.wav"]
    )  # no label line
    files.many([root / "Session1" / "dialog" / "wav" / "Ses01F_impro01.wav"])  # whole dialog: not read
    return root


def test_four_classes_with_excited_merged(corpus):
    result = IEMOCAP().scan(corpus)
    utts = result.utterances
    assert len(utts) == 5 * 2 * 5 - 1
    assert by(utts, "label") == {"neutral": 10, "happiness": 19, "anger": 10, "sadness": 10}
    assert by(utts, "session") == {f"Session{s}": 10 for s in range(1, 5)} | {"Session5": 9}
    assert len(by(utts, "speaker")) == 10
    utt = next(u for u in utts if u.uid == "Ses02M_script01_1_F001")
    assert (utt.label, utt.speaker, utt.gender, utt.session) == ("happiness", "Ses02F", "female", "Session2")
    assert utt.meta == {"dialog": "Ses02M_script01_1", "emotion_code": "exc"}
    reasons = {p.name: r for p, r in result.skipped}
    assert reasons["Ses01F_impro01_M002.wav"] == "label 'fru' is not one of the 4 classes (neu, hap+exc, ang, sad)"
    assert "'xxx'" in reasons["Ses03M_script01_1_F003.wav"] and "'sur'" in reasons["Ses01F_impro01_M003.wav"]
    assert reasons["Ses05M_script01_1_F001.wav"] == "labelled 'exc' but the audio file is missing"
    assert reasons["Ses01F_impro01_F099.wav"] == "no label line in any EmoEvaluation file"
    assert "macOS" in reasons["._Ses01F_impro01_F000.wav"]
    assert len(result.skipped) == 5 * 2 * 3 + 3


def test_session_and_speaker_folds(corpus):
    loader = IEMOCAP()
    utts = loader.scan(corpus).utterances
    sessions = loader.folds(utts, "session")
    assert [f.name for f in sessions] == [f"Session{s}" for s in range(1, 6)]
    assert_partition(sessions, utts)
    assert all(len(f.test) in (9, 10) for f in sessions)
    speakers = loader.folds(utts, "speaker")
    assert len(speakers) == 10
    assert_partition(speakers, utts)
    assert_partition(loader.folds(utts, "random-10fold"), utts)


def test_folder_without_sessions(tmp_path, files):
    files.many([tmp_path / "Ses01F_impro01_F000.wav"])
    with pytest.raises(DataError, match="is this the iemocap corpus"):
        IEMOCAP().scan(tmp_path)
