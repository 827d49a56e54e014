"""CMU-MOSEI: one label per segment from emotion intensities, from the CSV or the SDK's .csd."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from corpus_files import assert_partition

from bench.api import DataError
from bench.audio import io as audio
from bench.datasets.cmu_mosei import CMUMOSEI, segment_label

#           video,         start, end,  happy, sad, anger, surprise, disgust, fear
SEGMENTS = [
    ("-3g5yACwYnA", 0.0, 1.0, 2.0, 0.33, 0, 0, 0, 0),  # happiness
    ("-3g5yACwYnA", 1.0, 2.5, 0, 0, 0, 0, 0, 0),  # all zero: neutral
    ("-3g5yACwYnA", 2.5, 3.0, 1.0, 1.0, 0, 0, 0, 0),  # tie: dropped
    ("_0efYOjQYRc", 0.5, 1.5, 0, 0, 0.66, 0, 1.33, 0),  # disgust
    ("_0efYOjQYRc", 2.0, 2.0, 0, 3.0, 0, 0, 0, 0),  # no duration: dropped
    ("zk2jTlAtvSU", 0.0, 1.0, 0, 0, 0, 0, 0, 2.0),  # audio missing: dropped
    ("a1b2c3d4e5f", 0.2, 1.2, 0, 0, 0, 0.33, 0, 0.0),
]  # surprise
SPLITS = {"-3g5yACwYnA": "train", "_0efYOjQYRc": "valid", "a1b2c3d4e5f": "test", "zk2jTlAtvSU": "test"}


def write_audio(root, files):
    for video in ("-3g5yACwYnA", "_0efYOjQYRc", "a1b2c3d4e5f"):
        files.wav(root / "Raw" / "Audio" / "Full" / "WAV_16000" / f"{video}.wav", seconds=4.0)


def write_csv(root, split: bool = True):
    lines = ["video_id,start,end,happy,sad,anger,surprise,disgust,fear" + (",split" if split else "")]
    lines += [",".join(map(str, s)) + (f",{SPLITS[s[0]]}" if split else "") for s in SEGMENTS]
    (root / "CMU_MOSEI_Labels.csv").write_text("\n".join(lines) + "\n")


def write_csd(root):
    with h5py.File(root / "CMU_MOSEI_Labels.csd", "w") as f:
        data = f.create_group("All Labels").create_group("data")
        f["All Labels"].create_group("metadata")
        for video in dict.fromkeys(s[0] for s in SEGMENTS):
            rows = [s for s in SEGMENTS if s[0] == video]
            group = data.create_group(video)
            group["features"] = np.array([[0.5, *s[3:]] for s in rows], dtype=np.float32)
            group["intervals"] = np.array([s[1:3] for s in rows], dtype=np.float64)


def test_label_rule():
    assert segment_label([0, 0, 0, 0, 0, 0]) == ("neutral", None)
    assert segment_label([0.33, 2.0, 0, 0, 0, 0.66]) == ("sadness", None)
    assert segment_label([0, 0, 1.0, 0, 0, 1.0]) == ("", "tie between anger and fear at 1.00")


@pytest.mark.parametrize("source", ["csv", "csd"])
def test_segments_become_utterances(tmp_path, files, source):
    write_audio(tmp_path, files)
    (write_csv if source == "csv" else write_csd)(tmp_path)
    result = CMUMOSEI().scan(tmp_path)
    utts = result.utterances
    assert [(u.uid, u.label) for u in utts] == [
        ("-3g5yACwYnA_0", "happiness"),
        ("-3g5yACwYnA_1", "neutral"),
        ("_0efYOjQYRc_0", "disgust"),
        ("a1b2c3d4e5f_0", "surprise"),
    ]
    assert utts[1].offset == 1.0 and utts[1].duration == 1.5 and utts[1].meta["video"] == "-3g5yACwYnA"
    reasons = sorted(r for _, r in result.skipped)
    assert len(reasons) == 3
    assert "tie between happy and sad at 1.00" in reasons[0]
    assert "no positive duration" in reasons[1] and "no audio file named zk2jTlAtvSU" in reasons[2]
    assert len(audio.load(utts[1].path, 16_000, utts[1].offset, utts[1].duration)) == 24_000
    folds = CMUMOSEI().folds(utts, "video")
    assert_partition(folds, utts)
    video = {u.uid: u.meta["video"] for u in utts}
    for fold in folds:
        assert not {video[u] for u in fold.train} & {video[u] for u in fold.test}
    if source == "csv":
        (fold,) = CMUMOSEI().folds(utts, "official")
        assert fold.test == ("a1b2c3d4e5f_0",) and len(fold.train) == 3
    else:
        with pytest.raises(DataError, match="official protocol needs split"):
            CMUMOSEI().folds(utts, "official")


def test_bad_label_files(tmp_path, files):
    write_audio(tmp_path, files)
    with pytest.raises(DataError, match="is this the CMU-MOSEI corpus"):
        CMUMOSEI().scan(tmp_path)
    (tmp_path / "CMU_MOSEI_Labels.csv").write_text("video_id,start,end,happy\nabc,0,1,2\n")
    with pytest.raises(DataError, match=r"lacks columns \['anger', 'disgust', 'fear', 'sad', 'surprise'\]"):
        CMUMOSEI().scan(tmp_path)
    (tmp_path / "CMU_MOSEI_Labels.csv").unlink()
    (tmp_path / "CMU_MOSEI_Labels.csd").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        CMUMOSEI().scan(tmp_path)
