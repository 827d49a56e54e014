"""One label space across corpora, and leave-one-corpus-out over RAVDESS, TESS and SAVEE."""

from __future__ import annotations

import pytest
from corpus_files import assert_partition

from bench.api import CANONICAL, DataError, Utterance, adjective, canonical
from bench.data.pooling import pool
from bench.plugins import registry


def test_spellings_map_to_one_name():
    assert [canonical(w) for w in ("angry", "ANG", "Anger")] == ["anger"] * 3
    assert [canonical(w) for w in ("happy", "joy", "HAP")] == ["happiness"] * 3
    assert [canonical(w) for w in ("ps", "Pleasant_surprise", "pleasant-surprised", "surprised")] == ["surprise"] * 4
    assert [canonical(w) for w in ("fearful", "sad", "disgusted", "bored")] == ["fear", "sadness", "disgust", "boredom"]
    assert canonical("frustrated") is None
    assert adjective("happiness") == "happy" and adjective("neutral") == "neutral"


def test_every_installed_loader_uses_canonical_class_names():
    for name, plugin in registry.plugins("dataset").items():
        if plugin.ok and name != "synth":
            assert set(plugin.obj.classes) <= set(CANONICAL), name


def utts(corpus: str, labels: dict[str, int]) -> list[Utterance]:
    return [
        Utterance(uid=f"{label}{i}", path=f"{corpus}/{label}{i}.wav", label=label)
        for label, n in labels.items()
        for i in range(n)
    ]


def test_pool_on_shared_classes_and_hold_out_each_corpus():
    corpora = {
        "ravdess": utts("ravdess", {"neutral": 2, "calm": 3, "anger": 2, "surprise": 2}),
        "tess": utts("tess", {"neutral": 1, "anger": 4, "surprise": 1, "sadness": 2}),
        "savee": utts("savee", {"neutral": 2, "anger": 1, "surprise": 3}),
    }
    pooled = pool(corpora)
    assert pooled.classes == ("anger", "neutral", "surprise")
    assert pooled.left_out == {"ravdess": {"calm": 3}, "tess": {"sadness": 2}}
    assert len(pooled.utterances) == 6 + 6 + 6
    assert "tess/anger3" in {u.uid for u in pooled.utterances}
    folds = pooled.folds()
    assert [f.name for f in folds] == ["corpus-ravdess", "corpus-savee", "corpus-tess"]
    assert_partition(folds, pooled.utterances)
    assert all(u.startswith("savee/") for u in folds[1].test)
    assert not any(u.startswith("savee/") for u in folds[1].train)


def test_pool_refuses_what_cannot_be_compared():
    a, b = utts("a", {"anger": 1}), utts("b", {"calm": 1})
    with pytest.raises(DataError, match="share no class"):
        pool({"a": a, "b": b})
    with pytest.raises(DataError, match="at least two corpora"):
        pool({"a": a})
    with pytest.raises(DataError, match=r"b has no utterance of \['anger'\]"):
        pool({"a": a, "b": b}, classes=["anger"])
    with pytest.raises(DataError, match="not canonical"):
        pool({"a": a, "b": utts("b", {"angry": 1})})
