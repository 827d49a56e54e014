"""The bad-input matrix: every case is a clear one-line error, or a skip with its reason,
and nothing already computed is lost."""

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from benchtest import tiny_run
from typer.testing import CliRunner

from bench.api import CheckpointError, DataError, Utterance, paper
from bench.audio import decoding
from bench.audio import io as audio
from bench.cli import app
from bench.features.embed import waveform
from bench.plugins import registry
from bench.protocol.metrics import scores
from bench.results import records
from bench.results.schema import SCHEMA, Record, Unit
from bench.util import fileio

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


@pytest.mark.parametrize(
    "make",
    [
        make_zero_length,
        make_silent,
        make_nan,
        make_truncated_header_only,
        make_text_named_wav,
        make_broken_symlink,
        make_directory_named_wav,
    ],
)
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


@pytest.mark.slow
def test_a_run_skips_bad_files_with_reasons_and_goes_on(tmp_path):
    root = emodb_tree(tmp_path / "emodb", registry.dataset("synth").scan(None).utterances)
    (root / "wav" / "03b01Wz.wav").write_bytes(b"")
    (root / "wav" / "03b02Wz.wav").write_text("not audio " * 50)
    write_wav(root / "wav" / "08b01Fz.wav", np.zeros(8000))
    (root / "wav" / "03b01Xa.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())  # unknown label X
    (root / "wav" / "notes.txt").write_text("not a clip")  # not audio by name: not part of the corpus
    (root / "wav" / "take2.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())
    _, record = tiny_run("emodb", root, tmp_path / "runs", "--no-ablation", "--no-baselines")
    reasons = {os.path.basename(s["file"].split(":")[0]): s["reason"] for s in record.dataset.skipped}
    assert "unknown emotion letter" in reasons["03b01Xa.wav"]
    assert "name does not follow" in reasons["take2.wav"] and "notes.txt" not in reasons
    skipped_text = " ".join(s["reason"] for s in record.dataset.skipped)
    for reason in ("holds no audio (0 bytes)", "not decodable audio", "silent"):
        assert reason in skipped_text
    assert len(record.units) == 4  # 4 speaker folds, one stage row each


# --- corpora and settings: one-line errors -----------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "emodb"], "no data root; pass --data-root, set BENCH_EMODB_ROOT"),
        (["--dataset", "emodb", "--data-root", "EMPTY"], "no file named like wav/03a01Fa.wav under"),
        (["--dataset", "emodb", "--data-root", "NOTDIR"], "is not a directory"),
        (["--dataset", "synth", "--protocol", "session"], "unknown protocol 'session'"),
        (["--finetune-on", "nope"], "unknown dataset 'nope'"),
        (["--seeds", "0"], "setting seeds=0: input should be greater than or equal to 1"),
        (["--prompt-length", "0"], "setting acpt.prompt_length=0: input should be greater than or equal to 1"),
        (["--device", "cuda:3"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
    ],
)
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

    return records.save_checkpoint(
        tmp_path / "good.pt", model, Config, {"corpora": ["emodb"], "clips": 1, "loss": [1.0]}, None
    )


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
    path = tmp_path / "unit.json"
    unit = Unit(
        seed=0,
        fold="all",
        finetuned=False,
        rows=[],
        trained=None,
        checkpoints={},
        skipped=[],
        initial_weights="0123456789abcdef",
        seconds={},
    )
    unit.write(path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        unit.model_copy(update={"seed": 1}).write(path)
    assert Unit.read(path).seed == 0
    assert [p.name for p in tmp_path.iterdir()] == ["unit.json"]  # no temporary file left behind


def test_records_of_another_schema_are_rejected(tmp_path):
    (tmp_path / "old.json").write_text('{"schema": 0, "units": []}')
    with pytest.raises(DataError, match=f"schema 0, this bench reads schema {SCHEMA}"):
        Record.read(tmp_path / "old.json")


def test_a_partial_record_is_never_read_as_a_result(tmp_path):
    (tmp_path / "unit.json").write_text('{"schema": 1, "rows": [')
    with pytest.raises(DataError, match="not a readable result record"):
        Unit.read(tmp_path / "unit.json")


# --- writing files: disk full, permissions, the user's umask -----------------------------------


def failing_write(code):
    def write(fd, data):
        raise OSError(code, os.strerror(code))

    return write


@pytest.mark.parametrize(
    "code, hint",
    [
        (
            errno.ENOSPC,
            "(free some disk space, or write elsewhere with --output / BENCH_CACHE_DIR); nothing finished was lost",
        ),
        (
            errno.EDQUOT,
            "(free some disk space, or write elsewhere with --output / BENCH_CACHE_DIR); nothing finished was lost",
        ),
        (errno.EACCES, "(the folder is not writable by you: fix its permissions or write elsewhere)"),
        (errno.EROFS, "(the folder is not writable by you: fix its permissions or write elsewhere)"),
        (errno.EIO, ""),
    ],
)
def test_a_failed_write_names_the_file_keeps_the_old_one_and_leaves_no_temporary(tmp_path, monkeypatch, code, hint):
    path = tmp_path / "unit.json"
    fileio.atomic_write(path, b"finished")
    monkeypatch.setattr(os, "write", failing_write(code))
    with pytest.raises(fileio.WriteError) as caught:
        fileio.atomic_write(path, b"new")
    assert str(caught.value) == f"cannot write {path}: {os.strerror(code)}{' ' + hint if hint else ''}"
    assert path.read_bytes() == b"finished" and [p.name for p in tmp_path.iterdir()] == ["unit.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600), (0o000, 0o666)])
def test_files_get_the_mode_the_umask_allows(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        fileio.atomic_write(tmp_path / "shared" / "record.json", b"{}")
    finally:
        os.umask(previous)
    assert (tmp_path / "shared" / "record.json").stat().st_mode & 0o777 == mode
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o777 & ~umask


def test_disk_full_while_rendering_synth_is_a_one_line_error_naming_the_file(tmp_path, monkeypatch):
    from bench.datasets.synth import render

    monkeypatch.setattr(os, "write", failing_write(errno.ENOSPC))
    with pytest.raises(
        fileio.WriteError, match=r"^cannot write \S+/f1_studio_neutral_01\.wav: No space left on device"
    ):
        render(tmp_path / "synth")
    assert list((tmp_path / "synth").iterdir()) == []  # no temporary, no manifest: the next scan renders again


def test_disk_full_while_rendering_synth_at_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_SYNTH_ROOT", str(tmp_path / "synth"))
    monkeypatch.setattr(os, "write", failing_write(errno.ENOSPC))
    result = runner.invoke(app, ["data", "check", "--dataset", "synth"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert re.fullmatch(r"error: cannot write \S+\.wav: No space left on device \(free some .*", line.replace("\n", ""))


def test_disk_full_while_writing_the_confusion_matrix(tmp_path, monkeypatch):
    from bench.results import plots

    figure = plots.plt.figure()
    monkeypatch.setattr(os, "write", failing_write(errno.ENOSPC))
    with pytest.raises(fileio.WriteError, match=f"cannot write {tmp_path / 'confusion.png'}: No space left"):
        plots._save(figure, tmp_path / "confusion.png")
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, mini):
    from types import SimpleNamespace

    config = SimpleNamespace(backbone_options={}, dataset="synth")
    info = {"corpora": ["synth"], "clips": 1, "loss": []}
    path = records.save_checkpoint(tmp_path / "half1-seed0.pt", mini, config, info, None)
    before = path.read_bytes()
    monkeypatch.setattr(os, "write", failing_write(errno.ENOSPC))
    with pytest.raises(fileio.WriteError, match=f"cannot write {path}: No space left"):
        records.save_checkpoint(path, mini, config, info, None)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


# --- unreadable files: one reason wherever they are met -----------------------------------------


def open_folder(prefix):
    """A folder under /tmp that the unprivileged user can enter (pytest's tmp_path is 0700)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def as_nobody(function, *args):
    """``function(*args)`` in a forked child running as 'nobody' (root reads every file)."""
    if os.getuid() != 0:
        return function(*args)
    import multiprocessing
    import pwd

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child():
        try:
            nobody = pwd.getpwnam("nobody")
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        except (KeyError, OSError) as err:
            send.send(("skip", f"cannot become 'nobody' to test permissions: {err}"))
            return
        try:
            send.send(("ok", function(*args)))
        except BaseException as err:  # noqa: BLE001 - the parent reports it
            send.send(("error", f"{type(err).__name__}: {err}"))

    process = context.Process(target=child)
    process.start()
    status, value = receive.recv()
    process.join()
    if status == "skip":
        pytest.skip(value)
    assert status == "ok", value
    return value


def reasons_everywhere(path):
    """The reason scanning, content hashing and decoding give for one file."""
    from bench.datasets._common import unusable
    from bench.features.cache import ContentHashes

    [hashed] = ContentHashes(path.parent / "memo").of([path])
    _, [decoded] = decoding.decode_batch([decoding.Clip(str(path))], paper(16000))
    return unusable(path), hashed.removeprefix(f"unreadable:{os.path.realpath(path)}:"), decoded.partition(": ")[2]


def make_dangling(folder):
    (folder / "a.wav").symlink_to(folder / "gone.wav")
    return folder / "a.wav", f"dangling symlink (its target {folder / 'gone.wav'} does not exist)"


def make_loop(folder):
    (folder / "a.wav").symlink_to(folder / "b.wav")
    (folder / "b.wav").symlink_to(folder / "a.wav")
    return folder / "a.wav", "symlink loop (the link points back to itself)"


def make_unreadable(folder):
    path = write_wav(folder / "a.wav", np.sin(np.arange(16000) / 10.0))
    path.chmod(0o000)
    return path, "unreadable: Permission denied"


def make_folder(folder):
    (folder / "a.wav").mkdir()
    return folder / "a.wav", "a folder, not a file"


@pytest.mark.parametrize("make", [make_dangling, make_loop, make_unreadable, make_folder])
def test_scanning_hashing_and_decoding_give_one_reason(make):
    folder = open_folder("bench-unreadable-")
    (folder / "memo").mkdir(mode=0o777)
    (folder / "memo").chmod(0o777)
    path, reason = make(folder)
    assert fileio.unreadable(path) is None or make is not make_unreadable or os.getuid() == 0
    assert as_nobody(reasons_everywhere, path) == (reason, reason, reason)


# --- config files: a location this user cannot read is skipped, a broken file is one line ---------


def roots_seen(files):
    """The [roots] of ``files`` as config locations, or the one-line error resolving a root gives."""
    from bench.data import roots
    from bench.runtime import environment

    environment.CONFIG_FILES = files
    try:
        return roots.config_roots(), roots.resolve_root(registry.dataset("emodb"))
    except DataError as err:
        return roots.config_roots(), str(err)


def closed_config(prefix, closed_folder):
    """A config file naming emodb's root that nobody but root can read (its folder, or itself, mode 0)."""
    folder = open_folder(prefix)
    path = folder / "config.toml"
    path.write_text(f'[roots]\nemodb = "{folder}"\n')
    (folder if closed_folder else path).chmod(0o000)
    return path


def test_config_locations_this_user_cannot_read_are_skipped():
    """As 'nobody' under root's HOME (sudo -u keeps it), root's ~/.config is closed: not an error."""
    behind_a_closed_folder, closed_file = closed_config("bench-home-", True), closed_config("bench-cfg-", False)
    readable = open_folder("bench-open-")
    (readable / "config.toml").write_text(f'[roots]\nemodb = "{readable}"\n')
    (readable / "config.toml").chmod(0o644)
    found, root = as_nobody(roots_seen, (behind_a_closed_folder, closed_file, readable / "config.toml"))
    assert found == {"emodb": str(readable)} and root == readable
    found, error = as_nobody(
        roots_seen, (behind_a_closed_folder, closed_file, Path.home() / ".config" / "bench" / "c.toml")
    )
    assert found == {} and error.startswith("emodb: no data root; pass --data-root, set BENCH_EMODB_ROOT")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[roots\n", "bench.toml: not a readable TOML config file (Expected ']' at the end of a table declaration"),
        ("roots = 3\n", 'bench.toml: [roots] must be a table of `name = "/path"` lines'),
        ("\xff\n", "bench.toml: not a readable TOML config file ('utf-8' codec can't decode"),
    ],
)
def test_a_config_file_that_is_read_but_broken_is_one_line(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.toml").write_bytes(text.encode("latin-1"))
    result = runner.invoke(app, ["data", "check", "--dataset", "emodb"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip().splitlines()[0].startswith(f"error: {message}"), result.output


def emodb_sines(root, speakers=("03", "08", "09", "10"), takes=2):
    """A small EmoDB-named tree of distinct sines (4 classes x speakers x takes)."""
    (root / "wav").mkdir(parents=True)
    for s, speaker in enumerate(speakers):
        for e, letter in enumerate(EMODB_LETTER.values()):
            for take in range(takes):
                tone = np.sin(2 * np.pi * (150 + 60 * e + 7 * s + 3 * take) * np.arange(16000) / 16000)
                write_wav(root / "wav" / f"{speaker}a0{take + 1}{letter}a.wav", 0.3 * tone)
    return root


def check_listing(root):
    """`bench data check` on ``root``: exit code, and the files it lists as skipped, by name."""
    result = runner.invoke(app, ["data", "check", "--dataset", "emodb", "--root", str(root)], env={"COLUMNS": "400"})
    found = re.search(r"(\d+) files skipped", result.output)
    return result.exit_code, int(found.group(1)) if found else None, result.output


def test_unreadable_files_and_folders_are_listed_not_dropped_by_data_check():
    root = emodb_sines(open_folder("bench-emodb-"))
    for folder in (root, root / "wav"):
        folder.chmod(0o755)
    (root / "wav" / "03b01Wa.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())
    (root / "wav" / "03b01Wa.wav").chmod(0o000)
    hidden = root / "wav" / "more"
    hidden.mkdir()
    (hidden / "03b02Wa.wav").write_bytes((root / "wav" / "03a01Wa.wav").read_bytes())
    hidden.chmod(0o000)
    runner.invoke(app, ["data", "check", "--dataset", "emodb", "--root", str(root)])  # imports all it needs as root
    code, count, output = as_nobody(check_listing, root)
    assert code == 0 and count == 2, output
    assert (
        "Permission denied" in output and "folder unreadable (Permission denied): its files were not scanned" in output
    )


def test_a_run_and_data_check_list_the_same_bad_files_and_the_console_counts_the_record(tmp_path):
    root = emodb_sines(tmp_path / "emodb", speakers=("03", "08"))
    wav = root / "wav"
    (wav / "03b01Wa.wav").symlink_to(wav / "gone.wav")
    (wav / "03b02Wa.wav").symlink_to(wav / "03b03Wa.wav")
    (wav / "03b03Wa.wav").symlink_to(wav / "03b02Wa.wav")
    (wav / "08b01Fa.wav").write_bytes(b"")
    write_wav(wav / "08b01Ta.wav", np.zeros(16000))  # silent: only decoding finds it
    code, count, listing = check_listing(root)
    assert code == 0 and count == 4
    result, record = tiny_run("emodb", root, tmp_path / "runs", "--no-finetune", "--no-ablation", "--no-baselines")
    skipped = record.dataset.skipped
    assert f"skipped {len(skipped)} unusable files" in result.output and len(skipped) == 5
    reasons = {os.path.basename(s["file"]): s["reason"] for s in skipped}
    assert reasons["03b01Wa.wav"] == f"dangling symlink (its target {wav / 'gone.wav'} does not exist)"
    assert reasons["03b02Wa.wav"] == reasons["03b03Wa.wav"] == "symlink loop (the link points back to itself)"
    for name, reason in reasons.items():
        if name in ("03b01Wa.wav", "03b02Wa.wav", "03b03Wa.wav"):
            assert reason in listing  # the same reason in both commands
    assert any("silent" in s["reason"] for s in skipped)
