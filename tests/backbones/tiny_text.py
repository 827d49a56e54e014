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
    GPT2Config(
        vocab_size=len(vocab),
        n_positions=128,
        n_embd=width,
        n_layer=layers,
        n_head=2,
        bos_token_id=len(vocab) - 1,
        eos_token_id=len(vocab) - 1,
    ).save_pretrained(folder)
    return folder


def bert_dir(folder: Path, width: int = 32, layers: int = 2) -> Path:
    from transformers import BertConfig, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    letters = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    BertConfig(
        vocab_size=len(vocab),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * width,
        max_position_embeddings=160,
    ).save_pretrained(folder)
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
    config = CLIPTextConfig(
        vocab_size=514,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=projection,
        bos_token_id=512,
        eos_token_id=513,
        pad_token_id=513,
    )
    torch.manual_seed(0)
    CLIPTextModelWithProjection(config).save_pretrained(folder)
    return folder


def roberta_dir(folder: Path, width: int = 32, layers: int = 1, weights: bool = False) -> Path:
    """RoBERTa with byte-level BPE, special tokens at roberta-base's ids (<s> 0, <pad> 1, </s> 2)."""
    import torch
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    vocab = ["<s>", "<pad>", "</s>", "<unk>", *BYTES, "<mask>"]
    RobertaTokenizer(*_bpe_files(folder, vocab)).save_pretrained(folder)
    config = RobertaConfig(
        vocab_size=len(vocab),
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * width,
        max_position_embeddings=130,
    )
    config.save_pretrained(folder)
    if weights:
        torch.manual_seed(0)
        RobertaModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


def t5_dir(folder: Path, width: int = 32, layers: int = 1) -> Path:
    """A T5 encoder config and a Unigram tokenizer over letters (pad 0, </s> 1, unk 2, as T5's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5Config, T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(c, -2.0) for c in "\u2581" + string.ascii_letters + string.digits + string.punctuation]
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=2))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    T5TokenizerFast(
        tokenizer_object=tokenizer, eos_token="</s>", pad_token="<pad>", unk_token="<unk>", extra_ids=0
    ).save_pretrained(folder)
    T5Config(
        vocab_size=len(pieces), d_model=width, d_kv=width // 2, d_ff=2 * width, num_layers=layers, num_heads=2
    ).save_pretrained(folder)
    return folder
