"""`bench data check` and `bench data prepare`, through the real command line app."""

from __future__ import annotations

import pytest
from corpus_files import Files
from test_meld_mead import write_meld
from typer.testing import CliRunner

from bench.cli import app
from bench.cli.common import out
from bench.datasets.meld import MELD

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_tables(monkeypatch):
    """Tables as a wide terminal shows them, so a reason is not wrapped across cells."""
    monkeypatch.setattr(out, "width", 240)


def bench(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["data", *args], env=env, catch_exceptions=False)


def test_check_real_crema_d_sample(shared_data):
    result = bench(
        "check", "--dataset", "crema-d", "--root", str(shared_data / "crema-d-sample"), "--decode", "-j", "2"
    )
    assert result.exit_code == 0, result.output
    assert "12 utterances, 2 speakers, 0 files skipped" in " ".join(result.output.split())
    assert "decoded 12 of 12 clips" in result.output
    assert "speaker1001" in result.output and "speaker1002" in result.output


def test_check_prints_counts_and_skips(tmp_path, files: Files):
    actor = tmp_path / "Actor_01"
    files.many(
        [actor / "03-01-05-01-01-01-01.wav", actor / "03-01-05-02-01-01-01.wav", actor / "03-02-05-01-01-01-01.wav"]
    )
    (actor / "03-01-01-01-01-01-01.wav").write_bytes(b"RIFF" + b"\0" * 200)  # named right, not audio
    result = bench("check", "-d", "ravdess", "--root", str(tmp_path), "--decode", "-j", "1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 utterances, 1 speakers, 1 files skipped" in text
    assert "vocal channel 02 (song); only speech (01) is used" in text
    assert "decoded 2 of 3 clips" in text and "Not decodable (1)" in text
    assert "anger │ 2 │" in text


def test_check_refuses_a_folder_that_is_not_the_corpus(tmp_path, files: Files):
    files.many([tmp_path / "OAF_back_angry.wav"])
    result = bench("check", "--dataset", "ravdess", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert "is this the ravdess corpus?" in " ".join(result.output.split())


def test_root_from_environment_and_missing_root(tmp_path, files: Files, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no bench.toml here
    monkeypatch.setenv("HOME", str(tmp_path))
    files.many([tmp_path / "tess" / "OAF_back_angry.wav"])
    assert bench("check", "-d", "tess", env={"BENCH_TESS_ROOT": str(tmp_path / "tess")}).exit_code == 0
    result = bench("check", "-d", "tess", env={"BENCH_TESS_ROOT": ""})
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "--data-root" in text and "BENCH_TESS_ROOT" in text and "[roots]" in text


def test_prepare_decodes_once_and_the_copy_scans_the_same(tmp_path, files: Files):
    source = write_meld(tmp_path / "MELD.Raw", files)
    output = tmp_path / "meld-wav"
    result = bench(
        "prepare", "-d", "meld", "--root", str(source), "-o", str(output), "-j", "2", "--sample-rate", "16000"
    )
    assert result.exit_code == 0, result.output
    assert "27 files decoded, 0 already done, 0 failed, 3 annotation files copied" in " ".join(result.output.split())
    before, after = MELD().scan(source).utterances, MELD().scan(output).utterances
    assert [(u.uid, u.label, u.split) for u in after] == [(u.uid, u.label, u.split) for u in before]
    assert {u.path.suffix for u in after} == {".wav"}
    assert (output / "test" / "output_repeated_splits_test" / "final_videos_testdia2_utt0.wav").is_file()
    again = bench("prepare", "-d", "meld", "--root", str(source), "-o", str(output))
    assert "0 files decoded, 27 already done" in " ".join(again.output.split())


def test_prepare_refuses_to_write_into_the_corpus(tmp_path, files: Files):
    files.many([tmp_path / "OAF_back_angry.wav"])
    result = bench("prepare", "-d", "tess", "--root", str(tmp_path), "-o", str(tmp_path / "wav"))
    assert result.exit_code == 2 and "must lie outside the corpus root" in " ".join(result.output.split())


@pytest.mark.parametrize("dataset", ["iemocap", "meld", "mead", "cmu-mosei", "ravdess", "tess", "savee", "crema-d"])
def test_every_loader_refuses_an_empty_folder(tmp_path, dataset):
    result = bench("check", "-d", dataset, "--root", str(tmp_path))
    assert result.exit_code == 2 and result.output.startswith("error:")
