"""Official weight files from local paths, loaded strictly.

The official loaders of msclap and AudioCLIP call ``load_state_dict(strict=False)``, so a
file of another architecture silently leaves a random model. Everything here fails loudly
instead: a missing file is a one-line :class:`bench.api.MissingFileError` (a CheckpointError
and a FileNotFoundError) naming the setting and environment variable that point to it; a file
with missing, unexpected or mis-shaped keys is a :class:`CheckpointError`. Nothing here downloads: Hugging Face and torch caches are
only looked up.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from bench.api import CheckpointError, MissingFileError, RequiredFile

# Buffers that older transformers releases saved with the weights but that are derived from
# the config (position ids, GPT-2's causal mask): checkpoints of that era carry them.
CONFIG_BUFFERS = re.compile(r"(^|\.)(embeddings\.position_ids|attn\.bias|attn\.masked_bias)$")


def releases(backbone: str) -> tuple[tuple[str, int, str], ...]:
    """The official weight files of a backbone as their authors published them (releases.json)."""
    known = json.loads((Path(__file__).parent / "releases.json").read_text()).get(backbone, [])
    return tuple((entry["file"], entry["size"], entry["sha256"]) for entry in known)


def setting_path(value: str | os.PathLike | None, env_var: str, default: Path | None = None) -> Path | None:
    """A file setting: the keyword value (the CLI passes strings), else the env var, else the default."""
    chosen = value or os.environ.get(env_var)
    return Path(chosen).expanduser() if chosen else default


def hf_cached(repo_id: str, filename: str = "config.json") -> Path | None:
    """The folder of a Hugging Face hub snapshot already in the local cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return Path(found).parent if isinstance(found, str) else None


def hf_cached_file(repo_id: str, filename: str) -> Path | None:
    folder = hf_cached(repo_id, filename)
    return folder / filename if folder else None


def require(backbone: str, files: Iterable[tuple[RequiredFile, str]]) -> None:
    """Raise one line naming every missing file and the option / env var that gives it."""
    missing = [
        f"{req.what} (--backbone-opt {option}=PATH or {req.env_var}"
        + (f"; looked at {req.path}" if req.path else "")
        + ")"
        for req, option in files
        if not req.found
    ]
    if missing:
        raise MissingFileError(f"{backbone} needs " + "; ".join(missing))


def load_state(path: Path, key: str | None = None) -> dict[str, Tensor]:
    """A weight file of any backbone family as a plain state dict: the one checkpoint reader.

    Reads tensors only (``weights_only``), then unwraps what the families' training code put
    around the weights: the entry ``key`` when given (msclap's and PANNs' ``"model"``,
    resemblyzer's ``"model_state"``), else a ``{"state_dict": ...}`` wrapper when there is one
    (LAION-CLAP, Lightning); and DataParallel's ``module.`` prefix when every key has it.
    Buffers older transformers releases saved (``embeddings.position_ids``) may be there or
    not: :func:`load_strict` drops them, where LAION's own loader fails on files without them.
    """
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, another format, pickled objects: torch raises many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: not a readable torch weights file (truncated or another format?): {first}"
        ) from None
    if key is not None:
        if not isinstance(loaded, Mapping) or key not in loaded:
            raise CheckpointError(f"{path}: expected the weights under the key {key!r}")
        loaded = loaded[key]
    elif isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors (bare, under {key or 'state_dict'!r})")
    state = dict(loaded)
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def load_strict(module: nn.Module, state: Mapping[str, Tensor], source: object, assign: bool = False) -> None:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped key is an error.

    ``assign`` takes the tensors themselves, for a module built on the meta device (no
    random initialisation that the checkpoint would overwrite anyway). Buffers in
    :data:`CONFIG_BUFFERS` that the module does not have are dropped: they are not weights,
    only older transformers releases saved them.
    """
    own = module.state_dict()
    state = {k: v for k, v in state.items() if k in own or not CONFIG_BUFFERS.search(k)}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: keys do not match the model ({len(missing)} missing, e.g. {missing[:3]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:3]}); is it the right checkpoint?"
        )
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise CheckpointError(f"{source}: {key} has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}")
    module.load_state_dict(state, strict=True, assign=assign)


def check_input_width(source: object, key: str, state: Mapping[str, Tensor], expected: int, what: str) -> None:
    """A head whose input width is not the encoder's output width fails here, at load, naming
    the tensor (otherwise the first batch dies on a matrix product after the corpus is read)."""
    found = state[key].shape[1]
    if found != expected:
        raise CheckpointError(
            f"{source}: {key} has shape {tuple(state[key].shape)}, taking {found} inputs, but {what} gives {expected}"
        )


def strip_prefix(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def local_text_model(folder: Path, model_class: type | None = None, **kwargs) -> nn.Module:
    """A transformers text model built from a local config only (its weights come from elsewhere)."""
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except OSError as err:
        raise MissingFileError(f"{folder}: no transformers config.json there ({err})") from err
    return (model_class or AutoModel).from_config(config, **kwargs)


def local_tokenizer(folder: Path, **kwargs):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
    except (OSError, ValueError) as err:
        raise MissingFileError(f"{folder}: no tokenizer files there ({err})") from err
