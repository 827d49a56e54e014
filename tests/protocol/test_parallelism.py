"""No number depends on timing: every parallelism choice the code can make gives bitwise the
same units (issue: numbers that moved with how busy the machine was)."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from benchtest import synth_one_take, tiny_args

from bench.config.settings import ACPTSettings
from bench.methods.clep_dg.acpt import train_contexts
from bench.plugins import registry
from bench.results.schema import Record


@pytest.mark.slow
def test_parallelism_decoding_workers_chosen_or_fixed_give_bitwise_identical_units(tmp_path):
    """Decoding in this process, in one worker, or as a timed first batch decides: the same
    features, checkpoints and rows to the last bit (each with a cache of its own)."""
    data = synth_one_take(tmp_path / "synth")
    seen = {}
    for name, workers in {"timed": None, "in-process": "0", "one-worker": "1"}.items():
        env = {k: v for k, v in os.environ.items() if k != "BENCH_DECODE_WORKERS"}
        env["BENCH_CACHE_DIR"] = str(tmp_path / f"cache-{name}")
        if workers is not None:
            env["BENCH_DECODE_WORKERS"] = workers
        output = tmp_path / f"runs-{name}"
        done = subprocess.run(
            [sys.executable, "-m", "bench", *tiny_args("synth", data, output, "--no-baselines")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        record = Record.read(next(output.glob("*/record.json")))
        seen[name] = ([unit.model_dump() for unit in record.units], record.backbone["finetuned_checkpoints"])
    assert seen["timed"] == seen["in-process"] == seen["one-worker"]


def test_parallelism_acpt_threads_are_a_setting_not_a_timing():
    """acpt.threads=1 (the default) gives the same contexts whatever threads torch is configured
    with; a larger count is the user's recorded choice."""
    torch.manual_seed(0)
    backbone = registry.backbone("mini-clap").eval()
    generator = torch.Generator().manual_seed(1)
    descriptions = F.normalize(torch.randn(12, backbone.embed_dim, generator=generator), dim=-1)
    labels, scapes = torch.arange(12) % 3, torch.arange(12) % 4
    settings = ACPTSettings(prompt_length=2, iterations=3)
    assert settings.threads == 1
    configured = torch.get_num_threads()
    learned = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            contexts = train_contexts(backbone, ["angry", "happy", "sad"], descriptions, labels, scapes, 4, settings, 0)
            learned.append(contexts.learned)
            assert torch.get_num_threads() == count
    finally:
        torch.set_num_threads(configured)
    assert torch.equal(learned[0], learned[1])
