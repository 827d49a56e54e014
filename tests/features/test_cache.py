"""The embedding cache: what hits, what misses, atomic shards, `bench cache info/clear`."""

import errno
import os

import numpy as np
import pytest
import torch
from tiny_audio import tiny, write_clips
from typer.testing import CliRunner

from bench.api import Utterance
from bench.cli import app
from bench.features import cache
from bench.features.embed import audio_features


@pytest.fixture
def clips(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return write_clips(tmp_path / "audio", 6)


def embed(backbone, utterances):
    before = backbone.clips_encoded
    result = audio_features(backbone, utterances, batch_size=4, workers=0)
    return result, backbone.clips_encoded - before


def test_a_second_call_computes_nothing_and_returns_the_same_features(clips):
    backbone = tiny()
    first, computed = embed(backbone, clips)
    assert computed == 6 and first.uids == [u.uid for u in clips]
    again, computed = embed(backbone, clips)
    assert computed == 0
    assert torch.equal(again.features, first.features) and again.uids == first.uids
    subset, computed = embed(tiny(), clips[3:] + clips[:1])  # a fresh model with the same weights
    assert computed == 0 and subset.uids == ["u003", "u004", "u005", "u000"]
    assert torch.equal(subset.features, first.features[[3, 4, 5, 0]])


def test_changed_weights_miss(clips):
    backbone = tiny()
    first, _ = embed(backbone, clips)
    with torch.no_grad():
        backbone.encoder.weight.mul_(2)
    second, computed = embed(backbone, clips)
    assert computed == 6 and not torch.allclose(second.features, first.features)
    _, computed = embed(tiny(seed=1), clips)
    assert computed == 6


@pytest.mark.parametrize("setting,value", [("pad_mode", "repeat"), ("clip_seconds", 0.256), ("sample_rate", 16000)])
def test_changed_preprocessing_misses(clips, setting, value):
    backbone = tiny()
    embed(backbone, clips)
    setattr(backbone, setting, value)
    _, computed = embed(backbone, clips)
    assert computed == 6


def test_changed_segment_misses(clips):
    backbone = tiny()
    embed(backbone, clips)
    moved = [Utterance(u.uid, u.path, u.label, offset=0.05) for u in clips[:2]]
    cut = [Utterance(u.uid, u.path, u.label, duration=0.2) for u in clips[2:4]]
    _, computed = embed(backbone, moved + cut + clips[4:])
    assert computed == 4


def test_changed_file_content_misses_and_a_mere_touch_does_not(clips):
    backbone = tiny()
    first, _ = embed(backbone, clips)
    stat = os.stat(clips[0].path)
    os.utime(clips[1].path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # same bytes, new mtime
    clips[2].path.write_bytes(clips[3].path.read_bytes())  # new content: another clip's
    again, computed = embed(backbone, clips)
    assert computed == 0  # clip 2 now has clip 3's content, which is cached; clip 1 is unchanged
    assert torch.equal(again.features[2], first.features[3])
    clips[4].path.write_bytes(clips[5].path.read_bytes()[:-200])
    again, computed = embed(backbone, clips)
    assert computed == 1 and not torch.equal(again.features[4], first.features[4])


def test_unusable_files_are_remembered_with_their_reason(clips):
    clips[1].path.write_bytes(b"RIFF not really audio at all" * 20)
    backbone = tiny()
    first, computed = embed(backbone, clips)
    assert computed == 5 and [uid for uid, _ in first.skipped] == ["u001"]
    again, computed = embed(backbone, clips)
    assert computed == 0 and again.skipped == first.skipped and again.uids == first.uids


def test_a_killed_write_leaves_nothing_that_is_read(clips, monkeypatch):
    backbone = tiny()
    real_replace = os.replace

    def killed_before_the_index(src, dst):
        if str(dst).endswith(".json") and not str(dst).endswith("space.json") and "files" not in str(dst):
            raise KeyboardInterrupt  # the process dies between writing the shard and its index
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_before_the_index)
    with pytest.raises(KeyboardInterrupt):
        embed(backbone, clips)
    monkeypatch.setattr(os, "replace", real_replace)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    assert list(space.glob("*.npy")) and not [p for p in space.glob("*.json") if p.name != "space.json"]
    assert not list(space.glob("*.tmp"))  # temporaries are removed on the way out
    (space / ".0123abcd.json.x1y2.tmp").write_text('{"keys": ["x"')  # what a kill -9 could leave
    result, computed = embed(backbone, clips)
    assert computed == 6 and len(result.uids) == 6
    _, computed = embed(backbone, clips)
    assert computed == 0


def test_shards_are_memory_mapped_npy(clips):
    first, _ = embed(tiny(), clips)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    (shard,) = space.glob("*.npy")
    stored = np.load(shard, mmap_mode="r")
    assert isinstance(stored, np.memmap) and stored.shape == (6, 6)
    assert np.array_equal(np.sort(stored, axis=0), np.sort(first.features.numpy(), axis=0))


def test_cache_info_and_clear(clips):
    runner = CliRunner()
    embed(tiny(), clips)
    embed(tiny(seed=1), clips[:2])
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0, result.output
    assert str(cache.root()) in result.output.replace("\n", "")
    row = next(line for line in result.output.splitlines() if "tiny-audio" in line)
    assert row.split("│")[2].strip() == "2" and row.split("│")[3].strip() == "8"
    result = runner.invoke(app, ["cache", "clear", "--backbone", "mini-clap"])
    assert result.exit_code == 2 and "holds no features of 'mini-clap'" in result.output
    result = runner.invoke(app, ["cache", "clear", "--backbone", "tiny-audio"])
    assert result.exit_code == 0 and "cleared tiny-audio's features" in result.output
    assert cache.info() == []
    _, computed = embed(tiny(), clips)
    assert computed == 6
    assert runner.invoke(app, ["cache", "clear"]).exit_code == 0
    assert not cache.root().exists()


def test_a_space_of_an_older_pipeline_version_is_never_read_and_is_reported(clips, monkeypatch):
    backbone = tiny()
    embed(backbone, clips)
    monkeypatch.setattr(cache, "VERSION", cache.VERSION + 1)  # this code is newer than what wrote the cache
    _, computed = embed(tiny(), clips)
    assert computed == 6  # the old entries are not read
    result = CliRunner().invoke(app, ["cache", "info"])
    assert result.exit_code == 0
    assert (
        f"1 spaces were written by another pipeline version (not {cache.VERSION}) and are never read" in result.output
    )


def test_new_projection_heads_still_find_the_encoder_features(clips):
    backbone = tiny()
    embed(backbone, clips)
    with torch.no_grad():
        for p in backbone.parameter_groups()["heads"]:
            p.add_(1.0)  # fine-tuned projections: audio_features do not depend on them
    _, computed = embed(backbone, clips)
    assert computed == 0


# --- damage: reported once, dropped, recomputed, never read ---------------------------------------


def flip_npy(npy):
    data = bytearray(npy.read_bytes())
    data[-5] ^= 0xFF  # a feature value, past the header: still a loadable array
    npy.write_bytes(bytes(data))


def flip_json(npy):
    meta = npy.with_suffix(".json")
    meta.write_text(meta.read_text().replace('"keys": ["', '"keys": ["0', 1))  # still valid JSON


DAMAGE = {
    "flipped .npy bytes": (flip_npy, "does not match its checksum"),
    "truncated .npy": (lambda npy: npy.write_bytes(npy.read_bytes()[:100]), "holds 100 bytes, not"),
    "0-byte .npy": (lambda npy: npy.write_bytes(b""), "holds 0 bytes, not"),
    "missing .npy": (lambda npy: npy.unlink(), "is missing (No such file or directory)"),
    "truncated .json": (lambda npy: npy.with_suffix(".json").write_text('{"keys": ["ab'), "unreadable index"),
    "0-byte .json": (lambda npy: npy.with_suffix(".json").write_text(""), "unreadable index"),
    "flipped .json key": (flip_json, "does not match its checksum"),
    ".json not an object": (lambda npy: npy.with_suffix(".json").write_text("[1, 2]"), "does not match its checksum"),
}


def damaged_space(clips, how):
    backbone = tiny()
    first, _ = embed(backbone, clips)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    (npy,) = space.glob("*.npy")
    DAMAGE[how][0](npy)
    return backbone, first, npy


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_shard_is_reported_once_dropped_and_recomputed_to_the_same_features(clips, caplog, how):
    backbone, first, npy = damaged_space(clips, how)
    again, computed = embed(backbone, clips)
    assert computed == 6  # nothing was read from the damaged shard
    assert again.uids == first.uids and torch.equal(again.features, first.features)  # the uninterrupted numbers
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bench.features.cache"]
    assert warning.startswith(f"cache shard {npy} is damaged ({npy.stem}.") or f"index {npy.stem}.json" in warning
    assert DAMAGE[how][1] in warning and warning.endswith("removed, its clips are computed again")
    caplog.clear()
    _, computed = embed(backbone, clips)
    assert computed == 0 and not caplog.records  # reported once: the new shard is sound


@pytest.mark.parametrize("how", list(DAMAGE))
def test_cache_info_survives_damage_and_names_it(clips, how):
    _, _, npy = damaged_space(clips, how)
    result = CliRunner().invoke(app, ["cache", "info"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("damaged:")]
    assert line.startswith(f"damaged: {npy} (") and DAMAGE[how][1] in line
    assert line.endswith("the next run that needs it recomputes it")
    row = next(line for line in result.output.splitlines() if "tiny-audio" in line)
    assert row.split("│")[3].strip() == "0"  # a damaged shard holds no usable entry


def test_shards_flush_by_elapsed_time_as_well_as_rows(clips, monkeypatch):
    from bench.features import embed as pipeline

    monkeypatch.setattr(pipeline, "SHARD_SECONDS", 0.0)  # every batch is past the deadline
    embed(tiny(), clips)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    assert len(list(space.glob("*.npy"))) == 2  # 6 clips in batches of 4: two shards, not one at the end


def test_a_full_disk_while_writing_a_shard_names_it_and_keeps_the_sound_ones(clips, monkeypatch):
    from bench.util import fileio

    backbone = tiny()
    embed(backbone, clips[:3])
    cache.ContentHashes().of([u.path for u in clips])  # the disk fills up after hashing, while embedding

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_write = os.write
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(fileio.WriteError, match=r"cannot write \S+/tiny-audio/\w+/\w+\.npy: No space left on device"):
        embed(backbone, clips)
    monkeypatch.setattr(os, "write", real_write)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    assert not list(space.glob(".*.tmp"))
    _, computed = embed(backbone, clips)
    assert computed == 3  # the first three were kept


def test_shards_are_created_with_the_users_umask(clips):
    previous = os.umask(0o002)
    try:
        embed(tiny(), clips)
    finally:
        os.umask(previous)
    space = next(p for p in (cache.root() / "tiny-audio").iterdir())
    assert {p.stat().st_mode & 0o777 for p in space.iterdir()} == {0o664}


def test_cache_info_and_clear_cover_the_rendered_conditions(clips):
    from bench.data import conditions

    runner = CliRunner()
    embed(tiny(), clips)
    utterances = clips[:3]
    conditions.apply(conditions.parse("pink@5dB"), utterances)
    conditions.apply(conditions.parse("white@0dB"), utterances[:1])
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.output.splitlines() if "dB" in line
    }
    assert rows == {"pink@5dB": "3", "white@0dB": "1"}
    result = runner.invoke(app, ["cache", "clear", "--conditions"])
    assert result.exit_code == 0 and "cleared the rendered conditions" in result.output
    assert conditions.rendered() == [] and cache.info() != []  # the features stay
    conditions.apply(conditions.parse("pink@5dB"), utterances)
    assert runner.invoke(app, ["cache", "clear"]).exit_code == 0
    assert conditions.rendered() == [] and cache.info() == []
