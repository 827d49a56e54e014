"""CLIP text towers with soft prompts, in the two weight layouts this project loads.

OpenAI's layout (``token_embedding``, ``transformer.resblocks.N``, ``ln_final``,
``text_projection``), as AudioCLIP's checkpoint stores it, is written here; the Hugging Face
layout (``CLIPTextModelWithProjection``), which Wav2CLIP's text side uses, is driven through
its parts. Both are causal transformers over exactly 77 positions pooled at the end token,
so soft prompts go after the start token, the length is kept and the end index moves
(:func:`clip_tower`, pooling ``end`` of :mod:`bench.api.soft_prompts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bench.api.soft_prompts import TextTower

CONTEXT_LENGTH = 77
MAX_PROMPT_TOKENS = CONTEXT_LENGTH - 3  # start, one word and end still fit


def causal_mask(length: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.full((length, length), float("-inf"), device=device, dtype=dtype).triu_(1)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class QuickGELU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class OpenAIClipText(nn.Module):
    """CLIP's text encoder in OpenAI's parameter layout (sequence-first attention, QuickGELU)."""

    def __init__(
        self, vocab: int, width: int, layers: int, heads: int, embed_dim: int, length: int = CONTEXT_LENGTH
    ) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.empty(length, width))
        self.transformer = Transformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def forward(self, embeds: Tensor, _mask: Tensor | None = None) -> Tensor:
        """Final-norm hidden states for token embeddings ``[B, 77, W]`` (causal; no projection)."""
        x = embeds + self.positional_embedding
        mask = causal_mask(x.shape[1], x.device, x.dtype)
        x = self.transformer(x.permute(1, 0, 2), mask).permute(1, 0, 2)
        return self.ln_final(x)


def clip_tower(tokenizer, embeddings: nn.Embedding, encode, pad_id: int | None = None) -> TextTower:
    """The :class:`TextTower` of a CLIP text encoder: ids padded with ``pad_id`` (default: the
    tokenizer's) to 77 as CLIP's ``tokenize`` does, pooled at the first end token."""
    pad = tokenizer.pad_token_id if pad_id is None else pad_id

    def tokenize(texts: Sequence[str], prompt_length: int) -> tuple[Tensor, Tensor]:
        rows = tokenizer(list(texts), truncation=True, max_length=CONTEXT_LENGTH)["input_ids"]
        ids = torch.full((len(rows), CONTEXT_LENGTH), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, (ids != pad).long()

    return TextTower(tokenize, embeddings, encode, "end", insert_at=1, end_id=tokenizer.eos_token_id)
