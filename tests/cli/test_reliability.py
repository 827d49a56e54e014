"""Issue 28, items 4 and 5: inputs that crashed with a traceback (often after all the compute)
or were taken silently are one line before any work, or are used and recorded. Audio comes
from real EmoDB files copied into tmp_path; the bad cases are built there."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.api import CheckpointError
from bench.audio import io as audio
from bench.cli import app
from bench.features import cache
from bench.results.schema import Record

runner = CliRunner()
# one clip per speaker and a few classes: a leave-one-speaker-out run of seconds
CLIPS = ("03a01Fa", "08a02Tb", "09a05Lc", "10b03Tb", "11b10Nc", "13a05Nb", "14a05Aa", "15a04Ab", "16a04Lc")
ODD = os.fsdecode(b"\xff")  # a byte that is not UTF-8, as Python gives it in a file name
FAST = ["--method", "zero-shot", "--no-finetune", "--seeds", "1"]


@pytest.fixture
def emodb_copy(emodb_root, tmp_path):
    """A few real EmoDB files, copied; returns a function copying them into a new root."""

    def make(root: Path) -> Path:
        (root / "wav").mkdir(parents=True)
        for name in CLIPS:
            shutil.copy(emodb_root / "wav" / f"{name}.wav", root / "wav" / f"{name}.wav")
        return root

    return make


def bench(*args, env=None):
    result = runner.invoke(app, list(args), env={"COLUMNS": "400", **(env or {})})
    return result.exit_code, result.output


def one_line_error(code, output, message):
    assert code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], output
    return errors[0]


# --- item 4: tracebacks where a line belongs ---------------------------------------------------


def test_reliability_a_record_with_non_utf8_names_is_written_escaped(tmp_path):
    """Unit check of the writer (no audio): lone surrogates become \\xNN, the file reads back."""
    from bench.results.schema import Shape

    class Some(Shape):
        file: str
        folder: Path

    path = tmp_path / "some.json"
    Some(file=f"03a05W{ODD}a.wav", folder=Path(f"runs{ODD}")).write(path)
    assert json.loads(path.read_text()) == {"file": "03a05W\\xffa.wav", "folder": "runs\\xff"}
    assert Some.read(path).file == "03a05W\\xffa.wav"


@pytest.mark.slow  # a whole run (about 18 s on 2 cores)
@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_reliability_non_utf8_file_name_root_and_output_finish_the_run(tmp_path, emodb_copy):
    root = emodb_copy(tmp_path / f"emodb{ODD}")
    shutil.copy(root / "wav" / "03a01Fa.wav", root / "wav" / f"03a05W{ODD}a.wav")  # skipped: not EmoDB's naming
    output = tmp_path / f"runs{ODD}"
    args = ["run", "--dataset", "emodb", "--data-root", str(root), "--output", str(output), *FAST]
    code, printed = bench(*args)
    assert code == 0, printed
    (record_path,) = output.glob("*/record.json")
    text = record_path.read_text(encoding="utf-8")  # valid UTF-8: odd bytes as \xNN
    record = Record.read(record_path)
    assert len(record.units) == len(CLIPS)
    assert str(root / "wav" / "03a05W\\xffa.wav").replace(ODD, "\\xff") in [s["file"] for s in record.dataset.skipped]
    assert "emodb\\\\xff" in text and "\\udcff" not in text
    assert f"record: {tmp_path}/runs\\xff/" in printed
    code, again = bench(*args)  # the same command finds the finished run
    assert code == 0 and "record:" in again, again


@pytest.mark.parametrize(
    "condition, message",
    [
        ("reverb@-1", "condition 'reverb@-1': reverb takes a value from 0.2 to 1.5 s, not -1"),
        ("reverb@3s", "reverb takes a value from 0.2 to 1.5 s, not 3"),
        ("far-field@0", "far-field takes a value from 0.2 to 1.5 s, not 0"),
        ("lowpass@0", "lowpass takes a value of at least 0.1 kHz, not 0"),
        ("street@nan", "street takes a finite value in dB, not nan"),
    ],
)
def test_reliability_condition_values_out_of_range_are_one_line_before_work(tmp_path, condition, message):
    code, output = bench("run", "--output", str(tmp_path / "runs"), "--test-conditions", f"clean,{condition}")
    line = one_line_error(code, output, message)
    assert line.startswith(f"error: setting test_conditions={condition}") or "test_conditions" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", ""], "--method '': name at least one method"),
        (["--method", " , "], "name at least one method"),
        (["--set", "methods="], "setting methods=: name at least one method"),
    ],
)
def test_reliability_an_empty_method_is_one_line(tmp_path, args, message):
    code, output = bench("run", "--output", str(tmp_path / "runs"), *args)
    one_line_error(code, output, message)


def test_reliability_a_missing_backbone_folder_is_one_line(tmp_path, emodb_copy, monkeypatch):
    for var in ("BENCH_WAVLM_DIR", "BENCH_ROBERTA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "absent"))
    root = emodb_copy(tmp_path / "emodb")
    output = tmp_path / "runs"
    code, printed = bench(
        "run", "--backbone", "ssl-clap", "--dataset", "emodb", "--data-root", str(root), "--output", str(output)
    )
    one_line_error(code, printed, "ssl-clap (preset emo-clap-wavlm) needs the microsoft/wavlm-base-plus folder")
    assert "BENCH_WAVLM_DIR" in printed and not output.exists()


def test_reliability_from_a_record_whose_weights_are_absent_is_one_line(tmp_path, emodb_copy, monkeypatch):
    """A record of a laion-clap run (written by this bench's own shapes), rerun where its weights are not."""
    from bench.config.settings import RunConfig

    monkeypatch.setenv("BENCH_LAION_CLAP_CKPT", str(tmp_path / "absent.pt"))
    root = emodb_copy(tmp_path / "emodb")
    config = RunConfig(backbone="laion-clap", dataset="emodb", data_root=root, seeds=1).model_dump(mode="json")
    dataset = {"name": "emodb", "root": str(root), "protocol": "speaker", "folds": [], "skipped": []}
    record = tmp_path / "record.json"
    Record.model_validate(
        {"kind": "bench.run", "config": config, "dataset": dataset, "seeds": [0], "units": [], "summary": []}
    ).write(record)
    code, printed = bench("run", "--from", str(record), "--output", str(tmp_path / "runs"))
    one_line_error(code, printed, "laion-clap needs a LAION-CLAP checkpoint")
    assert "BENCH_LAION_CLAP_CKPT" in printed and not (tmp_path / "runs").exists()


def test_reliability_missing_file_error_is_still_a_file_not_found_error():
    from bench.api import MissingFileError

    assert issubclass(MissingFileError, CheckpointError) and issubclass(MissingFileError, FileNotFoundError)


# --- item 5: refused before any work, or done and recorded ---------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "checkpoint="], "setting checkpoint=: expected a path, got an empty value"),
        (["--checkpoint", ""], "setting checkpoint=: expected a path, got an empty value"),
        (["--data-root", " "], "setting data_root= : expected a path, got an empty value"),
        (["--set", "output="], "setting output=: expected a path, got an empty value"),
        (["--config", ""], "--config: expected a settings file, got an empty value"),
    ],
)
def test_reliability_an_empty_path_is_refused_not_the_working_folder(tmp_path, args, message):
    code, output = bench("run", *args)
    one_line_error(code, output, message)


@pytest.mark.parametrize("below", [False, True])
def test_reliability_an_output_that_is_a_file_is_refused_before_work(tmp_path, below):
    (tmp_path / "afile").write_text("not a folder")
    output = tmp_path / "afile" / "runs" if below else tmp_path / "afile"
    code, printed = bench("run", "--output", str(output), "--seeds", "1")
    named = f"{tmp_path / 'afile'} is a file" if below else "it is a file"
    one_line_error(code, printed, f"setting output={output}: {named}, not a folder")


@pytest.mark.parametrize(
    "args, methods",
    [
        ([], "clep-dg, zero-shot, description-centroid, linear-probe, encoder-probe"),
        (["--method", "zero-shot"], "zero-shot"),
        (["--set", "shots=5", "--method", "clep-dg"], "clep-dg"),
    ],
)
def test_reliability_shots_without_a_method_that_uses_them_are_refused(tmp_path, args, methods):
    shots = [] if "--set" in args else ["--shots", "1000"]
    code, output = bench("run", "--output", str(tmp_path / "runs"), *shots, *args)
    line = one_line_error(code, output, f"no method of this run ({methods}) uses few-shot clips")
    assert "methods that do: selm" in line and not (tmp_path / "runs").exists()


def test_reliability_shots_with_selm_are_accepted():
    from bench.config.settings import RunConfig
    from bench.protocol.plan import check_shots

    config = RunConfig()
    config.apply({"methods": "clep-dg,selm", "shots": 4})
    check_shots(config)  # no error: SELM adapts to them (and the run folder is named by them)


def test_reliability_truncated_wavs_are_skipped_by_one_threshold_in_seconds(tmp_path, emodb_copy):
    root = emodb_copy(tmp_path / "emodb")
    full = (root / "wav" / "03a01Fa.wav").read_bytes()
    (root / "wav" / "03b01Wa.wav").write_bytes(full[:100])  # 28 samples at 22.05 kHz
    (root / "wav" / "03b02Wa.wav").write_bytes(full[:46])  # 1 sample
    (root / "wav" / "03b03Wa.wav").write_bytes(full[: 44 + 2 * 2300])  # 0.104 s: a clip
    with pytest.raises(audio.AudioError, match=r"too short: 28 samples \(0.001 s\), a clip needs at least 0.1 s"):
        audio.load(root / "wav" / "03b01Wa.wav", 16000)
    assert len(audio.load(root / "wav" / "03b03Wa.wav", 16000)) > 1600
    code, output = bench("data", "check", "--dataset", "emodb", "--root", str(root), "--decode")
    assert code == 0, output
    assert "holds no audio (46 bytes): a clip needs at least 0.1 s" in output
    assert re.search(r"03b01Wa\.wav.*too short: 28 samples \(0\.001 s\), a clip needs at least 0\.1 s", output)
    assert f"decoded {len(CLIPS) + 1} of {len(CLIPS) + 2} clips" in output


def test_reliability_noise_and_room_responses_take_any_length(tmp_path):
    import numpy as np
    import soundfile as sf

    from bench.data.noise_sources import load

    sf.write(tmp_path / "rir.wav", np.r_[1.0, 0.5, 0.25].astype(np.float32), 16000)
    assert len(load(tmp_path / "rir.wav", 16000)) == 3


def test_reliability_an_unwritable_cache_folder_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "afile"))  # a home under which nothing can be made
    (tmp_path / "afile").write_text("")
    with pytest.raises(OSError, match=r"cannot make the cache folder .*afile/\.cache/bench .*set BENCH_CACHE_DIR"):
        cache.cache_dir()
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "afile" / "cache"))
    with pytest.raises(OSError, match=r"point BENCH_CACHE_DIR \(or cache_dir in the config file\) to a folder"):
        cache.cache_dir()


def test_reliability_an_unwritable_home_is_one_line_at_the_cli(tmp_path, emodb_copy, monkeypatch):
    root = emodb_copy(tmp_path / "emodb")
    monkeypatch.delenv("BENCH_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "afile"))
    (tmp_path / "afile").write_text("")
    output = tmp_path / "runs"
    code, printed = bench("run", "--dataset", "emodb", "--data-root", str(root), "--output", str(output), *FAST)
    one_line_error(code, printed, "cannot make the cache folder")
    assert "set BENCH_CACHE_DIR" in printed and not output.exists()
