"""Where things are and how work runs: every ``BENCH_*`` setting of the core, typed and read by
pydantic-settings.

Precedence: defaults < the first readable config file (``./bench.toml``, then
``~/.config/bench/config.toml``) < ``BENCH_*`` environment variables < a command's own flags.
What a run computes is not here (:mod:`bench.config.settings`); plugins declare their own
variables (a weight file's :attr:`bench.api.RequiredFile.env_var`, a corpus'
:attr:`bench.api.DatasetLoader.env_var`), and `bench settings` lists both kinds.

A config file may hold any field below at its top level, and corpus roots under ``[roots]``::

    cache_dir = "/scratch/bench-cache"
    [roots]
    emodb = "/data/EmoDB"
    emobox = "/src/EmoBox/data"

A location this user cannot read is skipped as if absent; a file that is read but is not a
TOML table of these settings, or a variable with a bad value, is one line naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import tomllib
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bench.api import DataError

CONFIG_FILES = (Path("bench.toml"), Path.home() / ".config" / "bench" / "config.toml")
PREFIX = "BENCH_"


class Environment(BaseSettings):
    """The core's settings outside a run's config, each with its ``BENCH_`` variable."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="forbid", validate_default=True)

    cache_dir: Path | None = Field(
        None, description="audio features and rendered clips (default: the platform's user cache folder)"
    )
    progress_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        30.0, description="least time between two progress lines when output is not a terminal"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="autocast of encoder forwards (auto: bf16 on a CUDA device that supports it, else fp32)"
    )
    decode_workers: Annotated[int, Field(ge=0)] | None = Field(
        None, description="decoding processes (none: chosen from a timed first batch)"
    )
    debug: bool = Field(False, description="show the traceback of every error (as --debug)")
    emobox_dir: Path | None = Field(
        None, description="EmoBox's data/ folder of partitions (as --emobox; [roots] emobox)"
    )
    noise_root: Path | None = Field(None, description="noise recordings for acoustic conditions ([roots] noise)")
    rir_root: Path | None = Field(None, description="room impulse responses for acoustic conditions ([roots] rir)")
    roots: dict[str, str] = Field(default_factory=dict, description="corpus roots by dataset name (config file only)")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFile(settings_cls)


class _ConfigFile(PydanticBaseSettingsSource):
    """The first config file this user can read, whole (a later location is not merged in)."""

    def get_field_value(self, field, field_name):  # values come from __call__ in one piece
        return None, field_name, False

    def __call__(self) -> dict:
        path, data = config_file()
        if path is None:
            return {}
        if not isinstance(data.get("roots", {}), dict):
            raise DataError(f'{path}: [roots] must be a table of `name = "/path"` lines')
        return data


def config_file() -> tuple[Path | None, dict]:
    """The first readable config location and its table ((None, {}) when there is none)."""
    for path in CONFIG_FILES:
        try:
            text = path.read_bytes()
        except OSError:  # absent, another user's home, a closed folder, a folder where a file should be
            continue
        try:
            return path, tomllib.loads(text.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise DataError(f"{path}: not a readable TOML config file ({err}); fix it or remove it") from None
    return None, {}


def environment() -> Environment:
    """The settings as they are now (read again on every call: a test or a parent process may
    change the environment); a bad value is one line naming the variable or the file."""
    try:
        return Environment()
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        source = (
            f"{PREFIX}{name.upper()}" if f"{PREFIX}{name.upper()}" in os.environ else f"{name} in {config_file()[0]}"
        )
        raise DataError(f"{source}={first['input']!r}: {first['msg'][:1].lower()}{first['msg'][1:]}") from None


def sources() -> dict[str, str]:
    """Where each setting's value comes from: ``environment``, ``config file`` or ``default``."""
    path, data = config_file()
    return {
        name: "environment" if f"{PREFIX}{name.upper()}" in os.environ else f"{path}" if name in data else "default"
        for name in Environment.model_fields
    }
