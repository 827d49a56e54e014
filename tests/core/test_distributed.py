"""Under torchrun (here: two CPU processes on gloo) embedding and fine-tuning give what one
process gives at the same global batch."""

import os
import socket

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench import cache, distributed
from bench.embed import audio_features, waveform
from bench.stages.finetune import FinetuneSettings, finetune
from tiny_audio import tiny, write_clips

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
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(WORLD), RANK=str(rank),
        LOCAL_RANK=str(rank), BENCH_CACHE_DIR=cache_dir,
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
