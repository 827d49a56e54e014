"""The bad-input matrix: every case is a clear one-line error, or a skip with its reason,
and nothing already computed is lost."""

import errno
import os
import re

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from bench import audio, records, registry
from bench.cli import app
from bench.contracts import CheckpointError, DataError, Utterance
from bench.embed import waveform
from bench.metrics import scores
from benchtest import TINY_SETTINGS

runner = CliRunner()
MiniClap = registry.get("backbone", "mini-clap")
EMODB_LETTER = {"anger": "W", "happiness": "F", "sadness": "T", "neutral": "N"}


def write_wav(path, data, rate=16000, subtype="PCM_16"):
    sf.write(path, np.asarray(data, dtype=np.float32), rate, subtype=subtype)
    return path


def utt(path):
    return Utterance(path.stem, path, "anger")


# --- files: skipped with a reason -------------------------------------------------------------

def make_zero_length(tmp):
    (tmp / "z.wav").write_bytes(b"")
    return tmp / "z.wav", "empty file"


def make_silent(tmp):
    return write_wav(tmp / "s.wav", np.zeros(16000)), "silent"


def make_nan(tmp):
    data = np.sin(np.arange(16000) / 10.0)
    data[100] = np.nan
    return write_wav(tmp / "n.wav", data, subtype="FLOAT"), "NaN"


def make_truncated_header_only(tmp):
    full = write_wav(tmp / "full.wav", np.sin(np.arange(16000) / 10.0))
    (tmp / "t.wav").write_bytes(full.read_bytes()[:44])
    return tmp / "t.wav", "no samples"


def make_text_named_wav(tmp):
    (tmp / "x.wav").write_text("this is not audio at all " * 20)
    return tmp / "x.wav", "not decodable audio"


def make_broken_symlink(tmp):
    (tmp / "l.wav").symlink_to(tmp / "gone.wav")
    return tmp / "l.wav", "dangling symlink"


def make_directory_named_wav(tmp):
    (tmp / "d.wav").mkdir()
    return tmp / "d.wav", "a folder, not a file"


@pytest.mark.parametrize("make", [
    make_zero_length, make_silent, make_nan, make_truncated_header_only,
    make_text_named_wav, make_broken_symlink, make_directory_named_wav,
])
def test_unusable_files_raise_audio_errors_with_reasons(tmp_path, make):
    path, reason = make(tmp_path)
    with pytest.raises(audio.AudioError, match=reason):
        waveform(utt(path), MiniClap)


def test_truncated_data_is_decoded_as_far_as_it_goes(tmp_path):
    full = write_wav(tmp_path / "full.wav", np.sin(np.arange(16000) / 10.0))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 2 * 8000])  # header still claims 16000 samples
    wave = audio.load(cut, 16000)
    assert 7000 < len(wave) <= 8000


def emodb_tree(root, synth_utterances, per_class=6):
    """An EmoDB-named folder made of synth clips (labels mapped to EmoDB's letters)."""
    (root / "wav").mkdir(parents=True)
    counts = {}
    for u in synth_utterances:
        if u.session != "studio" or counts.get((u.speaker, u.label), 0) >= 2:
            continue
        counts[(u.speaker, u.label)] = counts.get((u.speaker, u.label), 0) + 1
        speaker = {"f1": "08", "f2": "09", "m1": "03", "m2": "10"}.get(u.speaker)
        if speaker:
            name = f"{speaker}a0{counts[(u.speaker, u.label)]}{EMODB_LETTER[u.label]}a.wav"
            (root / "wav" / name).write_bytes(u.path.read_bytes())
    return root


def test_a_run_skips_bad_files_with_reasons_and_goes_on(tmp_path):
    root = emodb_tree(tmp_path / "emodb", registry.dataset("synth").scan(None).utterances)
    (root / "wav" / "03b01Wz.wav").write_bytes(b"")
    (root / "wav" / "03b02Wz.wav").write_text("not audio " * 50)
    write_wav(root / "wav" / "08b01Fz.wav", np.zeros(8000))
    (root / "wav" / "03b01Xa.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())  # unknown label X
    (root / "wav" / "notes.txt").write_text("not a clip")  # not audio by name: not part of the corpus
    (root / "wav" / "take2.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())
    settings = [a for k, v in TINY_SETTINGS.items() for a in ("--set", f"{k}={v}")]
    result = runner.invoke(app, ["run", "--dataset", "emodb", "--data-root", str(root), "--seeds", "1",
                                 "--no-ablation", "--no-baselines", "--output", str(tmp_path / "runs"), *settings])
    assert result.exit_code == 0, result.output
    record = records.read(re.search(r"record: (\S+)", result.output).group(1))
    reasons = {os.path.basename(s["file"].split(":")[0]): s["reason"] for s in record["dataset"]["skipped"]}
    assert "unknown emotion letter" in reasons["03b01Xa.wav"]
    assert "name does not follow" in reasons["take2.wav"] and "notes.txt" not in reasons
    skipped_text = " ".join(s["reason"] for s in record["dataset"]["skipped"])
    for reason in ("holds no audio (0 bytes)", "not decodable audio", "silent"):
        assert reason in skipped_text
    assert len(record["units"]) == 4  # 4 speaker folds, one stage row each


# --- corpora and settings: one-line errors -----------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--dataset", "emodb"], "no data root; pass --data-root, set BENCH_EMODB_ROOT"),
    (["--dataset", "emodb", "--data-root", "EMPTY"], "no file named like wav/03a01Fa.wav under"),
    (["--dataset", "emodb", "--data-root", "NOTDIR"], "is not a directory"),
    (["--dataset", "synth", "--protocol", "session"], "unknown protocol 'session'"),
    (["--finetune-on", "nope"], "unknown dataset 'nope'"),
    (["--seeds", "0"], "Invalid value"),
    (["--prompt-length", "0"], "Invalid value"),
    (["--device", "cuda:3"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
])
def test_bad_corpus_and_setting_values(tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("BENCH_EMODB_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)  # no bench.toml here
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "NOTDIR").write_text("a file")
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_class_missing_from_a_fold_is_left_out_of_ua():
    truth = np.array([0, 0, 1, 1])  # classes 2 and 3 have no test utterance in this fold
    result = scores(truth, np.array([0, 2, 1, 1]), 4)
    assert result["ua"] == pytest.approx((0.5 + 1.0) / 2)


# --- checkpoints ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mini():
    torch.manual_seed(0)
    return registry.backbone("mini-clap")


def good_checkpoint(tmp_path, model):
    class Config:
        backbone_options, dataset = {}, "synth"
    return records.save_checkpoint(tmp_path / "good.pt", model, Config, {"corpora": ["emodb"], "clips": 1, "loss": [1.0]}, None)


def test_truncated_checkpoint(tmp_path, mini):
    path = good_checkpoint(tmp_path, mini)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        records.load_checkpoint(path, mini)


def test_checkpoint_of_another_backbone(tmp_path, mini):
    payload = torch.load(good_checkpoint(tmp_path, mini), weights_only=True)
    payload["backbone"] = "laion-clap"
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="checkpoint of backbone 'laion-clap', not 'mini-clap'"):
        records.load_checkpoint(tmp_path / "other.pt", mini)


def test_checkpoint_with_missing_keys(mini):
    state = mini.trainable_state()
    state.pop(next(iter(state)))
    with pytest.raises(CheckpointError, match="missing"):
        mini.load_trainable_state(state)


def test_checkpoint_with_wrong_shapes(mini):
    state = {k: torch.zeros(3) for k in mini.trainable_state()}
    with pytest.raises(CheckpointError, match="another architecture"):
        mini.load_trainable_state(state)


def test_not_a_bench_checkpoint(tmp_path, mini):
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a bench fine-tuned checkpoint"):
        records.load_checkpoint(tmp_path / "foreign.pt", mini)


def test_missing_checkpoint_is_a_one_line_cli_error(tmp_path):
    result = runner.invoke(app, ["run", "--checkpoint", str(tmp_path / "none.pt"), "--output", str(tmp_path)])
    assert result.exit_code == 2 and "does not exist" in result.output


# --- records: atomic, versioned ----------------------------------------------------------------

def test_a_full_disk_while_writing_keeps_the_previous_record(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    records.write(path, {"schema": records.SCHEMA, "n": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        records.write(path, {"schema": records.SCHEMA, "n": 2})
    assert records.read(path)["n"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no temporary file left behind


def test_records_of_another_schema_are_rejected(tmp_path):
    (tmp_path / "old.json").write_text('{"schema": 0, "units": []}')
    with pytest.raises(DataError, match="schema 0, this bench reads schema 1"):
        records.read(tmp_path / "old.json")


def test_a_partial_record_is_never_read_as_a_result(tmp_path):
    (tmp_path / "unit.json").write_text('{"schema": 1, "rows": [')
    with pytest.raises(DataError, match="not a readable result record"):
        records.read_unit(tmp_path / "unit.json")
