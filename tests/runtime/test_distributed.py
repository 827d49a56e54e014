"""Under torchrun (here: two CPU processes on gloo) embedding and fine-tuning give what one
process gives at the same global batch."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from benchtest import TINY_SETTINGS, synth_one_take
from tiny_audio import tiny, write_clips

from bench.features import cache
from bench.features.embed import audio_features, waveform
from bench.results.schema import Record
from bench.runtime import distributed
from bench.training.contrastive import FinetuneSettings, finetune

WORLD = 2


def work(clips) -> dict:
    """Embed the clips (through the cache) and fine-tune encoder and heads on them."""
    features = audio_features(tiny(), clips, batch_size=2, workers=0)
    backbone = tiny(train_encoder=True)
    usable = [u for u in clips if u.uid in features.uids]
    waves = torch.from_numpy(np.stack([waveform(u, backbone) for u in usable]))
    captions = backbone.text_features(["This is a happy sound", "This is a sad sound", "This is an angry sound"])
    caption_index = torch.arange(len(usable)) % 3
    settings = FinetuneSettings(epochs=3, batch_size=5)  # 7 clips: global batches of 5 (3 + 2 per rank) and 2 (1 + 1)
    history = finetune(backbone, lambda idx: backbone.encode_audio(waves[idx]), captions, caption_index, settings, 0)
    return {"features": features, "state": backbone.trainable_state(), "history": history, "grads": gradients()}


def gradients() -> list[torch.Tensor]:
    """Gradients of a loss that couples all rows of a batch of 5, split 3 + 2 over the ranks."""
    torch.manual_seed(0)
    model, rows = torch.nn.Linear(3, 2), torch.randn(5, 3)
    gathered = distributed.gather_rows(model(distributed.part(rows)), len(rows))
    loss = (gathered.softmax(dim=0) * torch.arange(10.0).reshape(5, 2)).sum() + gathered.pow(2).mean()
    loss.backward()
    distributed.average_gradients(model.parameters())
    return [p.grad for p in model.parameters()]


def rank_main(rank: int, port: int, clips, cache_dir: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(WORLD),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        BENCH_CACHE_DIR=cache_dir,
    )
    torch.set_num_threads(1)
    result = work(clips)
    if rank == 0:
        torch.save(result, out)
    dist.barrier()  # neither rank tears gloo down while the other still talks to it
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_gloo_match_one_process(tmp_path, monkeypatch):
    clips = write_clips(tmp_path / "audio", 8)
    clips[3].path.write_bytes(b"not audio" * 40)  # 8 clips, 7 usable: each rank embeds 4, one is unusable
    out = tmp_path / "ddp.pt"
    mp.spawn(rank_main, args=(free_port(), clips, str(tmp_path / "ddp-cache"), str(out)), nprocs=WORLD, join=True)
    ddp = torch.load(out, weights_only=False)

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "one-cache"))
    one = work(clips)

    assert ddp["features"].uids == one["features"].uids and len(one["features"].uids) == 7
    assert ddp["features"].skipped == one["features"].skipped and len(one["features"].skipped) == 1
    torch.testing.assert_close(ddp["features"].features, one["features"].features, rtol=0, atol=1e-6)
    assert ddp["state"].keys() == one["state"].keys()
    for key in one["state"]:
        torch.testing.assert_close(ddp["state"][key], one["state"][key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ddp["history"], one["history"], rtol=1e-5)
    for ddp_grad, one_grad in zip(ddp["grads"], one["grads"]):
        torch.testing.assert_close(ddp_grad, one_grad, rtol=1e-5, atol=1e-7)

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "ddp-cache"))
    space = next((cache.root() / "tiny-audio").iterdir())
    rows, unusable = cache.Space(space).index()
    assert len(rows) == 7 and len(unusable) == 1  # each rank wrote its own part, once
    assert len([p for p in space.glob("*.json") if p.name != "space.json"]) == WORLD


def bench_run(args: list[str], launcher: list[str], cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, *launcher, "-m", "bench", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.slow
def test_bench_run_under_torchrun_writes_one_record_equal_to_one_process(tmp_path):
    """`torchrun --nproc-per-node 2 -m bench run`: the two processes split embedding and
    fine-tuning, only the main one writes, and the record's rows are one process's rows."""
    sets = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    args = ["run", "--data-root", str(synth_one_take(tmp_path / "synth")), "--seeds", "1", *sets]
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD)]
    ddp = bench_run([*args, "--output", str(tmp_path / "ddp")], torchrun, tmp_path / "ddp-cache")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = bench_run([*args, "--output", str(tmp_path / "one")], [], tmp_path / "one-cache")
    assert one.returncode == 0, one.stderr[-3000:]

    assert len(re.findall(r"^record: ", ddp.stdout, re.M)) == 1  # one table, printed by the main process
    (space,) = (tmp_path / "ddp-cache" / "embeddings" / "mini-clap").iterdir()
    assert len([p for p in space.glob("*.json") if p.name != "space.json"]) == WORLD  # each embedded its part
    (ddp_dir,), (one_dir,) = (list((tmp_path / name).iterdir()) for name in ("ddp", "one"))
    assert ddp_dir.name == one_dir.name  # same config, data and backbone: the same run folder name
    for folder in (ddp_dir, one_dir):
        assert not list(folder.rglob("*.tmp"))
    assert sorted(p.name for p in (ddp_dir / "checkpoints").iterdir()) == ["half1-seed0.pt", "half2-seed0.pt"]
    ddp_record, one_record = (Record.read(d / "record.json") for d in (ddp_dir, one_dir))
    assert all(ddp_record.backbone["finetuned_checkpoints"].values())  # hashed by the main process
    strip = lambda rows: [row.model_dump(exclude={"acpt_loss"}) for row in rows]  # noqa: E731
    assert strip(ddp_record.units) == strip(one_record.units)
    for ddp_row, one_row in zip(ddp_record.units, one_record.units):
        np.testing.assert_allclose(getattr(ddp_row, "acpt_loss", []), getattr(one_row, "acpt_loss", []), rtol=1e-4)
