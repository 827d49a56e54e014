"""The core's BENCH_* settings: one typed model, defaults < config file < environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.api import DataError
from bench.cli import app, common
from bench.runtime import environment as env_module
from bench.runtime.environment import Environment, environment, sources


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A project config file as the only location, and no BENCH_* variable of the model set."""
    path = tmp_path / "bench.toml"
    monkeypatch.setattr(env_module, "CONFIG_FILES", (path, tmp_path / "home-config.toml"))
    for name in Environment.model_fields:
        monkeypatch.delenv(f"BENCH_{name.upper()}", raising=False)
    return path


def test_the_environment_overrides_the_config_file_which_overrides_the_defaults(config, monkeypatch, tmp_path):
    assert environment().progress_seconds == 30.0 and sources()["progress_seconds"] == "default"
    config.write_text('progress_seconds = 5\ncache_dir = "/scratch/cache"\n[roots]\nemodb = "/data/EmoDB"\n')
    assert (environment().progress_seconds, environment().cache_dir) == (5.0, Path("/scratch/cache"))
    assert environment().roots == {"emodb": "/data/EmoDB"} and sources()["progress_seconds"] == str(config)
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "2.5")
    assert environment().progress_seconds == 2.5 and sources()["progress_seconds"] == "environment"
    monkeypatch.setenv("BENCH_CACHE_DIR", "")  # an empty variable counts as unset
    assert environment().cache_dir == Path("/scratch/cache")


def test_only_the_first_readable_location_is_read(config, tmp_path):
    home = tmp_path / "home-config.toml"
    home.write_text("progress_seconds = 7\n")
    assert environment().progress_seconds == 7.0
    config.write_text("precision = 'fp32'\n")  # the project file wins whole: home's value is not merged in
    assert (environment().progress_seconds, environment().precision) == (30.0, "fp32")


def test_a_bad_value_is_one_line_naming_the_variable_or_the_file(config, monkeypatch):
    monkeypatch.setenv("BENCH_PRECISION", "fp8")
    with pytest.raises(DataError) as err:
        environment()
    assert str(err.value) == "BENCH_PRECISION='fp8': input should be 'auto', 'fp32', 'bf16' or 'fp16'"
    monkeypatch.delenv("BENCH_PRECISION")
    config.write_text("progres_seconds = 5\n")
    with pytest.raises(DataError) as err:
        environment()
    assert str(err.value) == f"progres_seconds in {config}=5: extra inputs are not permitted"
    config.write_text("[roots\n")
    with pytest.raises(DataError, match="not a readable TOML config file"):
        environment()
    config.write_text('roots = "/data"\n')
    with pytest.raises(DataError, match=r"\[roots\] must be a table"):
        environment()


def test_bench_settings_lists_every_variable_its_value_and_source(config, monkeypatch):
    config.write_text("decode_workers = 2\n")
    monkeypatch.setenv("BENCH_PROGRESS_SECONDS", "9")
    monkeypatch.setattr(common.out, "width", 250)  # the console's width was fixed when it was made
    result = CliRunner().invoke(app, ["settings"])
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│ BENCH_")}
    assert set(lines) >= {f"BENCH_{name.upper()}" for name in Environment.model_fields} | {"BENCH_EMODB_ROOT"}
    assert "9.0" in lines["BENCH_PROGRESS_SECONDS"] and "environment" in lines["BENCH_PROGRESS_SECONDS"]
    assert "2" in lines["BENCH_DECODE_WORKERS"] and "bench.toml" in lines["BENCH_DECODE_WORKERS"]
