"""A tiny random causal LM with a word-level tokenizer, saved as a transformers folder (no download)."""

from pathlib import Path

import torch

WORDS = [
    "the",
    "speaker",
    "sounds",
    "angry",
    "happy",
    "sad",
    "neutral",
    "negative",
    "positive",
    ",",
    "fearful",
    "disgusted",
    "bored",
    "surprised",
    "calm",
]


def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", bos_token="<s>")


def model(kind: str, vocab: int):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if kind == "gpt2":
        return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=vocab, n_positions=64)).eval()
    config = LlamaConfig(
        num_hidden_layers=2,
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=vocab,
        max_position_embeddings=64,
        bos_token_id=1,
    )
    return LlamaForCausalLM(config).eval()


def folder(path: Path, kind: str = "llama") -> Path:
    tok = tokenizer()
    model(kind, len(tok)).save_pretrained(path)
    tok.save_pretrained(path)
    return path
