"""EmoBox partitions on corpus trees generated from EmoBox's own lists, in each owner's layout."""

from __future__ import annotations

from collections import Counter

import pytest
from emobox_trees import CORPORA, emobox_dir, entries, write_tree

from bench.api import DataError
from bench.data import emobox
from bench.plugins import registry

# Test-fold sizes EmoBox publishes (its README and paper), fold by fold.
TEST_SIZES = {
    "ravdess": [240] * 6,
    "tess": [700],
    "savee": [120] * 4,
    "crema-d": [1856],
    "emodb": [107] * 5,
    "iemocap": [1085, 1023, 1151, 1031, 1241],
    "meld": [2610],
    "mead": [7929],
}


def _scan(name, root):
    loader = registry.dataset(name)
    return loader, loader.scan(root).utterances


def _train_sizes(corpus: str) -> list[int]:
    """Train + valid lines per fold, counted straight from EmoBox's files (0 where there is no train file)."""
    folder = emobox_dir() / corpus
    return [
        sum(len(p.read_text().splitlines()) for s in ("train", "valid") for p in fold.glob(f"*_{s}_fold_*.jsonl"))
        for fold in sorted(folder.glob("fold_*"))
    ]


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_fold_sizes_equal_emobox(name, tmp_path, files):
    folder = emobox_dir()
    write_tree(name, tmp_path / name, files)
    loader, utts = _scan(name, tmp_path / name)
    part = emobox.partition(loader, utts, folder)
    assert [len(f.test) for f in part.folds] == TEST_SIZES[name]
    assert [len(f.train) for f in part.folds] == _train_sizes(CORPORA[name])
    assert (part.missing, part.unlisted, part.relabelled) == ([], [], 0)
    assert {u.label for u in part.utterances} == set(part.classes)
    for fold in part.folds:
        assert not set(fold.train) & set(fold.test)


def test_labels_go_through_the_label_map(tmp_path, files):
    """EmoDB: ``boredem`` and ``Neutral`` in label_map.json, ``neutral`` in the lists; IEMOCAP: exc -> happiness."""
    folder = emobox_dir()
    write_tree("emodb", tmp_path / "emodb", files)
    part = emobox.partition(*_scan("emodb", tmp_path / "emodb"), folder)
    assert Counter(u.label for u in part.utterances) == {
        "anger": 127,
        "boredom": 81,
        "neutral": 79,
        "happiness": 71,
        "fear": 69,
        "sadness": 62,
        "disgust": 46,
    }
    rows = entries("iemocap")
    write_tree("iemocap", tmp_path / "iemocap", files)
    part = emobox.partition(*_scan("iemocap", tmp_path / "iemocap"), folder)
    happy = sum(r["emo"] in ("hap", "exc") for r in rows)
    assert Counter(u.label for u in part.utterances)["happiness"] == happy
    assert part.classes == ("neutral", "happiness", "anger", "sadness")


def test_mismatches_are_reported_by_name(tmp_path, files):
    folder = emobox_dir()
    written = write_tree("savee", tmp_path / "savee", files)
    written["savee-JE-n23"].unlink()
    extra = files.many([tmp_path / "savee" / "DC_a16.wav"])[0]  # SAVEE has 15 anger clips per speaker
    part = emobox.partition(*_scan("savee", tmp_path / "savee"), folder)
    assert part.missing == ["savee-JE-n23"]
    assert [u.path for u in part.unlisted] == [extra]
    assert sum(len(f.test) for f in part.folds) == 479
    reasons = dict(part.skipped())
    assert reasons["savee-JE-n23"] == "listed by EmoBox, not found in the corpus"
    assert "not in EmoBox's lists" in reasons[str(extra)]


def test_mead_trains_on_the_rest_of_the_corpus(tmp_path, files):
    """EmoBox's MEAD fold has no train file: every clip outside its test list trains."""
    write_tree("mead", tmp_path / "mead", files)
    extra = files.many(
        [
            tmp_path / "mead" / "M003" / "audio" / "angry" / "level_3" / "030.m4a",
            tmp_path / "mead" / "W009" / "audio" / "neutral" / "level_1" / "040.m4a",
        ]
    )
    part = emobox.partition(*_scan("mead", tmp_path / "mead"), emobox_dir())
    (fold,) = part.folds
    assert len(fold.test) == 7929
    assert sorted(fold.train) == ["M003_anger_3_030", "W009_neutral_1_040"]
    assert {u.path for u in part.utterances} >= set(extra)


@pytest.mark.parametrize(
    "test_on,train_on", [("savee", "ravdess"), ("ravdess", "savee"), ("iemocap", "savee"), ("meld", "savee")]
)
def test_track2_tests_on_240_balanced_utterances(test_on, train_on, tmp_path, files):
    folder = emobox_dir()
    write_tree(test_on, tmp_path / test_on, files)
    write_tree(train_on, tmp_path / train_on, files)
    test_loader, test_utts = _scan(test_on, tmp_path / test_on)
    train_loader, train_utts = _scan(train_on, tmp_path / train_on)
    part = emobox.track2(train_loader, train_utts, test_loader, test_utts, folder)
    (fold,) = part.folds
    assert part.missing == []
    assert part.classes == ("anger", "happiness", "sadness", "neutral")
    by_uid = {u.uid: u for u in part.utterances}
    assert Counter(by_uid[u].label for u in fold.test) == dict.fromkeys(part.classes, 60)
    assert all(u.startswith(f"{test_on}/") for u in fold.test)
    trained = [by_uid[u] for u in fold.train]
    assert trained and all(u.uid.startswith(f"{train_on}/") and u.label in part.classes for u in trained)


def test_track2_needs_another_corpus_with_a_set(tmp_path, files):
    folder = emobox_dir()
    write_tree("savee", tmp_path / "savee", files)
    savee, utts = _scan("savee", tmp_path / "savee")
    with pytest.raises(DataError, match="trains on another corpus"):
        emobox.track2(savee, utts, savee, utts, folder)
    with pytest.raises(DataError, match="no track-2 test set"):
        emobox.track2(savee, utts, registry.dataset("tess"), [], folder)


def test_data_folder_errors_name_the_ways_to_give_it(tmp_path, monkeypatch):
    monkeypatch.delenv(emobox.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(emobox, "config_roots", lambda: {})
    with pytest.raises(DataError, match="pass --emobox DIR, set BENCH_EMOBOX_DIR"):
        emobox.data_dir()
    with pytest.raises(DataError, match="is not a folder"):
        emobox.data_dir(tmp_path / "nowhere")
    with pytest.raises(DataError, match="EmoBox does not partition"):
        emobox.partition(registry.dataset("synth"), [], tmp_path)


def test_data_check_prints_emobox_fold_sizes_and_names_what_is_missing(tmp_path, files):
    from typer.testing import CliRunner

    from bench.cli import app

    partitions = emobox_dir()  # skips first where EmoBox's lists are absent (the tree is built from them)
    written = write_tree("savee", tmp_path / "savee", files)
    written["savee-KL-su15"].unlink()
    result = CliRunner().invoke(
        app,
        [
            "data",
            "check",
            "--dataset",
            "savee",
            "--root",
            str(tmp_path / "savee"),
            "--protocol",
            "emobox",
            "--emobox",
            str(partitions),
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "1 EmoBox utterances missing from the corpus" in result.output
    assert "savee-KL-su15" in result.output and "listed by EmoBox, not found in the corpus" in result.output
    rows = [line.replace("│", " ").split() for line in result.output.splitlines()]
    folds = {row[0]: (int(row[1]), int(row[2])) for row in rows if row and row[0].startswith("emobox")}
    assert sorted(folds.values()) == [(359, 120), (359, 120), (359, 120), (360, 119)]


def test_a_run_on_emobox_folds_gets_emobox_figures_beside_it(tmp_path, files, monkeypatch):
    """`bench run --protocol emobox`, then `bench table comparison --reference emobox --format markdown`."""
    import re

    from typer.testing import CliRunner

    from bench.cli import app
    from bench.results.schema import Record

    monkeypatch.chdir(tmp_path)
    write_tree("savee", tmp_path / "savee", files)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "run",
            "--dataset",
            "savee",
            "--data-root",
            str(tmp_path / "savee"),
            "--protocol",
            "emobox",
            "--emobox",
            str(emobox_dir()),
            "--no-finetune",
            "--no-acpt",
            "--seeds",
            "1",
            "--output",
            "runs",
            "--set",
            "classifier.epochs=2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "EmoBox emobox: 0 EmoBox utterances missing from the corpus" in result.output
    record = Record.read(re.search(r"record: (\S+)", result.output).group(1))
    assert [f["test"] for f in record.dataset.folds] == TEST_SIZES["savee"]
    main = next(r for r in record.summary if r.label == "none")
    table = runner.invoke(app, ["table", "comparison", "--reference", "emobox", "--format", "markdown"])
    assert table.exit_code == 0, table.output
    print(table.output)
    wa, ua = 100 * main.wa, 100 * main.ua
    expected = f"| mini-clap | {wa:.2f} ± 0.00 (EmoBox 78.59 {wa - 78.59:+.2f}) | {ua:.2f} ± 0.00 (EmoBox 75.75 {ua - 75.75:+.2f}) |"
    assert expected in table.output.replace("−", "-")
    assert "SAVEE data2vec2-large" in table.output
    paper = runner.invoke(app, ["table", "comparison", "--reference", "paper", "--format", "markdown"])
    assert "mini-clap" not in paper.output  # EmoBox's folds are not the paper's: no paper figure beside them


def test_a_track2_run_trains_on_the_named_corpus(tmp_path, files, monkeypatch):
    """What `bench run --dataset savee --protocol emobox-track2 --finetune-on ravdess` evaluates."""
    from bench.config.settings import RunConfig
    from bench.protocol.corpus import Corpus

    write_tree("savee", tmp_path / "savee", files)
    write_tree("ravdess", tmp_path / "ravdess", files)
    monkeypatch.setenv("BENCH_RAVDESS_ROOT", str(tmp_path / "ravdess"))
    config = RunConfig(dataset="savee", data_root=tmp_path / "savee", protocol="emobox-track2", emobox=emobox_dir())
    with pytest.raises(DataError, match="--finetune-on CORPUS"):
        Corpus.on_emobox(config)
    config.finetune_on = ["ravdess"]
    corpus = Corpus.on_emobox(config)
    protocol, (fold,) = corpus.folds(None)
    assert protocol == "emobox-track2" and fold.name == "track2-ravdess-to-savee"
    assert len(fold.test) == 240 and len(fold.train) == 96 + 3 * 192  # RAVDESS neutral, happy, sad, angry
    assert corpus.words == ["angry", "happy", "sad", "neutral"]


def test_reproduce_emobox_plans_every_shared_corpus_on_emobox_folds(tmp_path, files, monkeypatch):
    from typer.testing import CliRunner

    from bench.cli import app

    monkeypatch.chdir(tmp_path)
    for name in CORPORA:
        monkeypatch.delenv(registry.dataset(name).env_var, raising=False)
    write_tree("savee", tmp_path / "savee", files)
    monkeypatch.setenv("BENCH_SAVEE_ROOT", str(tmp_path / "savee"))
    result = CliRunner().invoke(
        app,
        [
            "reproduce",
            "emobox",
            "--backbone",
            "mini-clap",
            "--emobox",
            str(emobox_dir()),
            "--dry-run",
            "--output",
            "runs",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "run mini-clap on savee: to run" in lines
    for name in set(CORPORA) - {"savee"}:
        assert f"run mini-clap on {name}: cannot run: no corpus" in lines
    assert sum(f"found   EmoBox partitions: {emobox_dir()}" in line for line in lines) == len(CORPORA)
