"""Tiny text models and tokenizers written to a folder, as the hub would lay them out.

No hub is reachable in tests, so each tokenizer gets a minimal vocabulary built here: every
byte as a token (GPT-2 and CLIP byte-level BPE, no merges) or letters as word pieces (BERT).
The token ids that matter keep their real positions: GPT-2's "!" is 0 and CLIP's end token
is the largest id.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

BYTES = list(bytes_to_unicode().values())


def _bpe_files(folder: Path, vocab: list[str]) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return str(folder / "vocab.json"), str(folder / "merges.txt")


def gpt2_dir(folder: Path, width: int = 32, layers: int = 2) -> Path:
    from transformers import GPT2Config, GPT2Tokenizer

    vocab = [*BYTES, "<|endoftext|>"]
    GPT2Tokenizer(*_bpe_files(folder, vocab)).save_pretrained(folder)
    GPT2Config(vocab_size=len(vocab), n_positions=128, n_embd=width, n_layer=layers, n_head=2,
               bos_token_id=len(vocab) - 1, eos_token_id=len(vocab) - 1).save_pretrained(folder)
    return folder


def bert_dir(folder: Path, width: int = 32, layers: int = 2) -> Path:
    from transformers import BertConfig, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    BertConfig(vocab_size=len(vocab), hidden_size=width, num_hidden_layers=layers, num_attention_heads=2,
               intermediate_size=2 * width, max_position_embeddings=160).save_pretrained(folder)
    return folder


def clip_tokenizer_dir(folder: Path) -> Path:
    from transformers import CLIPTokenizer

    vocab = [*BYTES, *(f"{b}</w>" for b in BYTES), "<|startoftext|>", "<|endoftext|>"]
    CLIPTokenizer(*_bpe_files(folder, vocab)).save_pretrained(folder)
    return folder


def clip_text_dir(folder: Path, width: int = 32, layers: int = 2, projection: int = 512) -> Path:
    """A CLIP text tower with projection (weights included), as openai/clip-vit-base-patch32."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    clip_tokenizer_dir(folder)
    config = CLIPTextConfig(vocab_size=514, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
                            num_attention_heads=2, max_position_embeddings=77, projection_dim=projection,
                            bos_token_id=512, eos_token_id=513, pad_token_id=513)
    torch.manual_seed(0)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    return folder
