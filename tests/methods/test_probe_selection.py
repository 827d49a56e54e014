"""The encoder probe's model selection mirrors the outer protocol (encoder-probe.selection):
on a leave-one-corpus-out fold its C is chosen by holding out one training corpus at a time."""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from bench.api import DataError, Utterance
from bench.config.settings import RunConfig, SettingError
from bench.data.pooling import leave_one_corpus_out, pool
from bench.methods.baselines import EncoderProbe
from bench.methods.probes import PROBE_C, check_selection, fit_encoder_probe, held_out_corpus, inner_folds

DIM = 16


def corpora(n: int = 3, seed: int = 0) -> tuple[list[Utterance], dict[str, np.ndarray]]:
    """``n`` pooled corpora of 4 speakers x 12 clips (anger/sadness), speaker ids reused across
    corpora; features: a corpus offset, a speaker offset, a weak label cue shared by every corpus
    (dimension 0) and a strong one whose direction is the corpus's own."""
    rng = np.random.default_rng(seed)
    parts, features = {}, {}
    for corpus in "pqrs"[:n]:
        offset, own_cue = rng.normal(0, 3, DIM), rng.normal(size=DIM)
        parts[corpus] = []
        for speaker in range(4):
            voice = rng.normal(0, 0.5, DIM)
            for i in range(12):
                label = ("anger", "sadness")[i % 2]
                sign = 1 if label == "anger" else -1
                x = offset + voice + rng.normal(size=DIM) + sign * own_cue
                x[0] += 0.6 * sign
                utt = Utterance(f"{speaker}-{i}", None, label, speaker=f"s{speaker}")
                parts[corpus].append(utt)
                features[f"{corpus}/{utt.uid}"] = x.astype(np.float32)
    return pool(parts).utterances, features


def fold_of(utterances: list[Utterance], held_out: str) -> tuple[str, list[Utterance], list[Utterance]]:
    fold = next(f for f in leave_one_corpus_out(utterances) if f.name == f"corpus-{held_out}")
    by_uid = {u.uid: u for u in utterances}
    return fold.name, [by_uid[u] for u in fold.train], [by_uid[u] for u in fold.test]


def test_selection_auto_holds_out_one_training_corpus_per_inner_fold_on_a_corpus_fold():
    utterances, features = corpora(4)
    name, train, test = fold_of(utterances, "q")
    assert held_out_corpus(name, train) == "q"
    inner = inner_folds(train, {u.speaker for u in test}, "q")  # auto
    assert inner.kind == "corpus" and not inner.seeded and inner.describe() == "corpus (3 groups)"
    x = np.stack([features[u.uid] for u in train])
    splits = inner.splits(x, np.array([u.label for u in train]), seed=0)
    held = []
    for fit_on, validate_on in splits:
        (corpus,) = {train[i].meta["corpus"] for i in validate_on}  # every inner test fold is one training corpus
        assert sorted(validate_on) == [i for i, u in enumerate(train) if u.meta["corpus"] == corpus]
        assert corpus not in {train[i].meta["corpus"] for i in fit_on}
        held.append(corpus)
    assert sorted(held) == ["p", "r", "s"]


def test_selection_auto_groups_by_speaker_where_the_fold_is_speaker_independent():
    utts = [Utterance(f"u{i}", None, ("anger", "sadness")[i % 2], speaker=f"s{i % 6}") for i in range(60)]
    train = [u for u in utts if u.speaker != "s5"]
    assert held_out_corpus("speaker-s5", train) is None  # one corpus, no corpus held out
    inner = inner_folds(train, {"s5"})
    assert inner.kind == "speaker" and inner.describe() == "speaker (5 folds of 5 groups)"
    inner = inner_folds(utts[:40], {u.speaker for u in utts[40:]})  # a speaker on both sides
    assert inner.kind == "stratified" and inner.seeded and inner.describe() == "stratified (5 folds)"
    # two pooled corpora: one training corpus, nothing to hold out; its speakers are grouped
    # (qualified by corpus, though both corpora call their speakers s0..s3)
    utterances, _ = corpora(2)
    name, train, test = fold_of(utterances, "q")
    inner = inner_folds(train, {u.speaker for u in test}, held_out_corpus(name, train))
    assert inner.kind == "speaker" and set(inner.groups) == {"p/s0", "p/s1", "p/s2", "p/s3"}


def test_selection_by_corpus_and_by_speaker_choose_different_C_on_known_data():
    """Each corpus has its own strong label cue: within the training corpora (speaker folds) it
    pays to fit it (weak regularisation); on a corpus never seen it does not (strong)."""
    utterances, features = corpora(3)
    name, train, _ = fold_of(utterances, "p")
    x = torch.from_numpy(np.stack([features[u.uid] for u in train]))
    classes = ("anger", "sadness")
    chosen = {}
    for selection in ("corpus", "speaker"):
        inner = inner_folds(train, set(), held_out_corpus(name, train), selection)
        chosen[selection] = fit_encoder_probe(x, train, inner, classes, 0).C
    # the reference, by hand: train on one training corpus, score on the other, mean over both
    y = np.array([classes.index(u.label) for u in train])
    z = StandardScaler().fit_transform(x.numpy())
    corpus = np.array([u.meta["corpus"] for u in train])
    mean_accuracy = {
        c: np.mean(
            [
                LogisticRegression(C=c, max_iter=2000)
                .fit(z[corpus != k], y[corpus != k])
                .score(z[corpus == k], y[corpus == k])
                for k in ("q", "r")
            ]
        )
        for c in PROBE_C
    }
    assert chosen["corpus"] == max(PROBE_C, key=lambda c: (mean_accuracy[c], -PROBE_C.index(c)))
    assert chosen["corpus"] < chosen["speaker"]


def test_selection_that_the_fold_cannot_give_is_one_line():
    utterances, _ = corpora(2)
    name, train, _ = fold_of(utterances, "q")
    with pytest.raises(DataError, match=r"selection=corpus .* this fold has 1 training corpus"):
        inner_folds(train, set(), held_out_corpus(name, train), "corpus")
    unknown = [Utterance(f"u{i}", None, ("anger", "sadness")[i % 2]) for i in range(8)]
    with pytest.raises(DataError, match="selection=speaker needs 2 known training speakers"):
        inner_folds(unknown, set(), None, "speaker")
    with pytest.raises(DataError, match="selection=stratified needs 2 training clips of every class"):
        inner_folds(unknown[:3], set(), None, "stratified")
    assert inner_folds(unknown[:3], set()).describe() == "none (default C)"  # auto: nothing to cross-validate
    # before any work: `--set encoder-probe.selection=corpus` on one corpus, or on two pooled ones
    check_selection("corpus", "a,b,c", None)
    for dataset, protocol in (("emodb", None), ("a,b", "corpus"), ("emodb", "speaker")):
        with pytest.raises(SettingError, match="needs leave-one-corpus-out on at least 3 pooled corpora") as err:
            check_selection("corpus", dataset, protocol)
        assert "\n" not in str(err.value)
    config = RunConfig(dataset="synth", methods=["encoder-probe"])
    config.apply({"encoder-probe.selection": "corpus"})
    with pytest.raises(SettingError, match="selection=corpus"):
        EncoderProbe().prepare(config)


def fold_input(utterances, features, held_out: str, seed: int, kept: dict, selection: str | None = None):
    """What EncoderProbe reads of a bench.api.FoldInput, for one leave-one-corpus-out fold."""
    name, train, test = fold_of(utterances, held_out)

    def feats(uids):
        return list(uids), torch.from_numpy(np.stack([features[u] for u in uids]))

    own = {"encoder-probe": {"selection": selection}} if selection else {}
    return SimpleNamespace(
        fold=name,
        seed=seed,
        finetuned=False,
        classes=("anger", "sadness"),
        train=train,
        test_speakers={u.speaker for u in test},
        settings=SimpleNamespace(finetune=False, ablation=False, method_settings=own),
        encoder_frozen=True,
        features=feats,
        timed=lambda _: nullcontext(),
        kept=kept,
    ), [u.uid for u in test]


def test_selection_is_named_in_the_row_and_a_seed_free_probe_is_shared(monkeypatch):
    from bench.methods import baselines, probes

    monkeypatch.setattr(probes, "PROBE_C", (0.01, 1.0))  # fewer candidates: the same logic, faster
    fits = []
    fit = baselines.fit_encoder_probe
    monkeypatch.setattr(baselines, "fit_encoder_probe", lambda *a: fits.append(a) or fit(*a))
    utterances, features = corpora(3)
    kept = {}
    rows = []
    for seed in (0, 1):
        data, test = fold_input(utterances, features, "r", seed, kept)
        (predictor,) = EncoderProbe().predictors(data)
        assert predictor.predict(test, None).shape == (len(test),)
        rows.append(predictor.extra)
    assert len(fits) == 1  # corpus folds do not shuffle: one fit for both seeds
    assert rows[0] == rows[1] and rows[0]["selection"] == "corpus (2 groups)" and rows[0]["shared"] == "per fold"
    assert rows[0]["C"] in (0.01, 1.0)
    rows = []
    for seed in (0, 1):  # stratified folds are shuffled by the seed: a fit per seed, not shared
        data, _ = fold_input(utterances, features, "r", seed, kept, selection="stratified")
        (predictor,) = EncoderProbe().predictors(data)
        rows.append(predictor.extra)
    assert len(fits) == 3 and [a[-1] for a in fits[1:]] == [0, 1]
    assert all(r["selection"] == "stratified (5 folds)" and "shared" not in r for r in rows)
    data, _ = fold_input(utterances, features, "r", 0, kept, selection="speaker")
    (predictor,) = EncoderProbe().predictors(data)  # another choice on the same fold: its own probe
    assert len(fits) == 4 and predictor.extra["selection"] == "speaker (5 folds of 8 groups)"
