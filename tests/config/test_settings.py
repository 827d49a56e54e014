"""Every setting is typed and checked before any work starts: the bad-input matrix of settings.

Each bad value is one line naming the setting, the value and what is allowed, exit code 2,
and no run folder; good spellings (booleans, lists, paths) and every source of settings
(flags, --set, --config TOML/YAML, --from RECORD, --param) go through the same model.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from benchtest import PLUGIN, TINY_SETTINGS, class_folders, install_plugin, synth_one_take, tiny_args
from typer.testing import CliRunner

from bench.cli import app
from bench.cli.switches import RUN_SWITCHES, run_config
from bench.config import settings
from bench.config.settings import RunConfig, SettingError
from bench.plugins import registry
from bench.results import records
from bench.results.schema import Record
from bench.util import identity

runner = CliRunner()


def switches(**given):
    return {**{p.name: None for p in RUN_SWITCHES}, **given}


def one_line_error(tmp_path, *args, command="run"):
    result = runner.invoke(app, [command, "--output", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run folder
    return lines[0].removeprefix("error: ")


# --- every setting's range, through --set ---------------------------------------------------------

RANGE = [
    ("seeds=0", "setting seeds=0: input should be greater than or equal to 1"),
    ("seeds=-1", "setting seeds=-1: input should be greater than or equal to 1"),
    ("seeds=abc", "setting seeds=abc: expected a whole number"),
    ("seeds=1.5", "setting seeds=1.5: expected a whole number"),
    ("finetune.epochs=0", "setting finetune.epochs=0: input should be greater than or equal to 1"),
    ("finetune.epochs=-1", "setting finetune.epochs=-1: input should be greater than or equal to 1"),
    ("finetune.epochs=abc", "setting finetune.epochs=abc: expected a whole number"),
    ("finetune.batch_size=0", "setting finetune.batch_size=0: input should be greater than or equal to 2"),
    ("finetune.batch_size=1", "setting finetune.batch_size=1: input should be greater than or equal to 2"),
    ("finetune.audio_lr=-1e-5", "setting finetune.audio_lr=-1e-5: input should be greater than or equal to 0"),
    ("finetune.audio_lr=nan", "setting finetune.audio_lr=nan: input should be a finite number"),
    ("finetune.head_lr=0", "setting finetune.head_lr=0: input should be greater than 0"),
    ("finetune.head_lr=inf", "setting finetune.head_lr=inf: input should be a finite number"),
    ("finetune.head_lr=fast", "setting finetune.head_lr=fast: expected a number"),
    ("finetune.loss=hinge", "setting finetune.loss=hinge: input should be 'label-aware' or 'plain'"),
    ("acpt.prompt_length=0", "setting acpt.prompt_length=0: input should be greater than or equal to 1"),
    ("acpt.iterations=0", "setting acpt.iterations=0: input should be greater than or equal to 1"),
    ("acpt.lr=0", "setting acpt.lr=0: input should be greater than 0"),
    ("acpt.lr=nan", "setting acpt.lr=nan: input should be a finite number"),
    ("acpt.momentum=1", "setting acpt.momentum=1: input should be less than 1"),
    ("acpt.momentum=-0.1", "setting acpt.momentum=-0.1: input should be greater than or equal to 0"),
    ("acpt.init_std=0", "setting acpt.init_std=0: input should be greater than 0"),
    ("acpt.temperature=0", "setting acpt.temperature=0: input should be greater than 0"),
    ("acpt.temperature=-1", "setting acpt.temperature=-1: input should be greater than 0"),
    ("acpt.temperature=inf", "setting acpt.temperature=inf: input should be a finite number"),
    ("classifier.loss=hinge", "setting classifier.loss=hinge: input should be 'arcface' or 'softmax'"),
    ("classifier.epochs=0", "setting classifier.epochs=0: input should be greater than or equal to 1"),
    ("classifier.batch_size=1", "setting classifier.batch_size=1: input should be greater than or equal to 2"),
    ("classifier.lr=0", "setting classifier.lr=0: input should be greater than 0"),
    ("classifier.lr=nan", "setting classifier.lr=nan: input should be a finite number"),
    ("classifier.momentum=1.5", "setting classifier.momentum=1.5: input should be less than 1"),
    ("classifier.arcface_scale=0", "setting classifier.arcface_scale=0: input should be greater than 0"),
    (
        "classifier.arcface_margin=-0.1",
        "setting classifier.arcface_margin=-0.1: input should be greater than or equal to 0",
    ),
    ("classifier.arcface_margin=2", "setting classifier.arcface_margin=2: input should be less than 1.5708"),
    ("finetune=maybe", "setting finetune=maybe: expected true/false, 1/0 or yes/no"),
    ("acpt=2", "setting acpt=2: expected true/false, 1/0 or yes/no"),
    ("ablation=yess", "setting ablation=yess: expected true/false, 1/0 or yes/no"),
    ("baselines=", "setting baselines=: expected true/false, 1/0 or yes/no"),
    ("profile=fast", "setting profile=fast: input should be 'paper' or 'quick'"),
    ("device=foo", "setting device=foo: choose auto, cpu, cuda, cuda:N or mps"),
    ("device=cuda:x", "setting device=cuda:x: choose auto, cpu, cuda, cuda:N or mps"),
]


@pytest.mark.parametrize("pair, message", RANGE, ids=[pair for pair, _ in RANGE])
def test_every_setting_has_its_range(tmp_path, pair, message):
    assert one_line_error(tmp_path, "--set", pair) == message


@pytest.mark.parametrize("key", ["nope", "acpt.nope", "nope.epochs", "finetune_settings.epochs"])
def test_an_unknown_setting_is_named_with_the_known_ones(tmp_path, key):
    line = one_line_error(tmp_path, "--set", f"{key}=1")
    assert line.startswith(f"unknown setting '{key}' (settings: backbone, dataset,")
    assert "acpt.prompt_length" in line and "classifier.arcface_margin" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "0"], "setting seeds=0: input should be greater than or equal to 1"),
        (["--prompt-length", "0"], "setting acpt.prompt_length=0: input should be greater than or equal to 1"),
        (["--prompt-length", "385"], "setting acpt.prompt_length=385: mini-clap's text encoder holds at most 384"),
        (["--classifier-loss", "hinge"], "setting classifier.loss=hinge: input should be 'arcface' or 'softmax'"),
        (["--profile", "fast"], "setting profile=fast: input should be 'paper' or 'quick'"),
        (["--device", "foo"], "setting device=foo: choose auto, cpu, cuda, cuda:N or mps"),
        (["--device", "gpu"], "setting device=gpu: choose auto, cpu, cuda, cuda:N or mps"),
        (
            ["--backbone-opt", "foo=bar"],
            "--backbone-opt foo: mini-clap has no such option (options: train_encoder, text_head, front_end)",
        ),
        (["--backbone-opt", "front_end=studio"], "--backbone-opt front_end=studio: choose official or paper"),
        (["--backbone-opt", "oops"], "--backbone-opt expects KEY=VALUE, got 'oops'"),
        (["--set", "oops"], "--set expects KEY=VALUE, got 'oops'"),
    ],
)
def test_flags_go_through_the_same_checks(tmp_path, args, message):
    assert one_line_error(tmp_path, *args) == message


@pytest.mark.parametrize("backbone, limit", [("laion-clap", 74), ("ms-clap-2022", 412), ("wav2clip", 74)])
def test_prompt_tokens_are_limited_by_what_the_text_encoder_holds(tmp_path, backbone, limit):
    assert registry.get("backbone", backbone).max_prompt_tokens == limit
    line = one_line_error(tmp_path, "--backbone", backbone, "--set", f"acpt.prompt_length={limit + 1}")
    assert line == f"setting acpt.prompt_length={limit + 1}: {backbone}'s text encoder holds at most {limit}"


def test_an_unknown_option_of_a_backbone_with_keyword_settings_is_refused(tmp_path):
    line = one_line_error(tmp_path, "--backbone", "laion-clap", "--backbone-opt", "chekpoint=x.pt")
    assert (
        line
        == "--backbone-opt chekpoint: laion-clap has no such option (options: checkpoint, audio_model, text_dir, front_end)"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["finetune", "--on", "synth", "--output", "w.pt", "--device", "foo"],
            "setting device=foo: choose auto, cpu, cuda, cuda:N or mps",
        ),
        (
            ["finetune", "--on", "synth", "--output", "w.pt", "--set", "finetune.epochs=0"],
            "setting finetune.epochs=0: input should be greater than or equal to 1",
        ),
        (
            ["finetune", "--on", "synth", "--output", "w.pt", "--backbone-opt", "foo=1"],
            "--backbone-opt foo: mini-clap has no such option (options: train_encoder, text_head, front_end)",
        ),
        (
            ["reproduce", "ablation", "--dry-run", "--device", "foo"],
            "setting device=foo: choose auto, cpu, cuda, cuda:N or mps",
        ),
        (
            ["reproduce", "ablation", "--dry-run", "--set", "seeds=0"],
            "setting seeds=0: input should be greater than or equal to 1",
        ),
    ],
)
def test_the_other_commands_check_settings_the_same_way(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.strip() == f"error: {message}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("what", ["empty folder", "missing file"])
def test_a_checkpoint_error_before_any_unit_leaves_no_run_folder(tmp_path, what):
    checkpoint = tmp_path / ("ck" if what == "empty folder" else "none.pt")
    if what == "empty folder":
        checkpoint.mkdir()
    line = one_line_error(tmp_path, "--checkpoint", str(checkpoint))
    assert line == (
        f"{checkpoint} has no checkpoint for fold half1, seed 0 (half1-seed0.pt)"
        if what == "empty folder"
        else f"checkpoint {checkpoint} does not exist"
    )


# --- good spellings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("True", True),
        ("FALSE", False),
        ("Yes", True),
        ("off", False),
    ],
)
def test_booleans_accept_the_usual_spellings(text, value):
    config = RunConfig()
    config.apply({"finetune": text, "acpt": text, "ablation": text})
    assert (config.finetune, config.acpt, config.ablation) == (value, value, value)


@pytest.mark.parametrize(
    "text, value",
    [
        ("emodb", ["emodb"]),
        ("emodb,synth", ["emodb", "synth"]),
        (" emodb , synth ,", ["emodb", "synth"]),
    ],
)
def test_lists_are_lists(text, value):
    config = RunConfig()
    config.apply({"finetune_on": text})
    assert config.finetune_on == value


def test_paths_are_paths_and_numbers_numbers():
    config = RunConfig()
    config.apply({"checkpoint": "ck/fold1.pt", "data_root": "/data/emodb", "seeds": "2", "acpt.lr": "1e-3"})
    assert config.checkpoint == Path("ck/fold1.pt") and config.data_root == Path("/data/emodb")
    assert config.seeds == 2 and config.acpt_settings.lr == 1e-3


def test_a_bad_value_changes_nothing():
    config = RunConfig()
    with pytest.raises(SettingError):
        config.apply({"seeds": "5", "acpt.prompt_length": "0"})
    assert config.seeds == 3 and config.acpt_settings.prompt_length == 8


def test_an_assignment_is_checked_too():
    config = RunConfig()
    with pytest.raises(ValueError):
        config.acpt_settings.iterations = 0


def test_every_setting_name_reads_back():
    config = RunConfig()
    for name in settings.names():
        assert config.get(name) is not None or name in (
            "data_root",
            "protocol",
            "emobox",
            "finetune_on",
            "checkpoint",
            "methods",
        )


# --- where settings come from: profile < --from < --config < flags < --set -----------------------

TOML = """
seeds = 2
finetune = false
finetune_on = "emodb,synth"
[acpt_settings]
prompt_length = 4
iterations = 30
[classifier_settings]
loss = "softmax"
"""
YAML = """
seeds: 2
finetune: no
finetune_on: [emodb, synth]
acpt_settings: {prompt_length: 4, iterations: 30}
classifier_settings: {loss: softmax}
"""


@pytest.mark.parametrize("name, text", [("run.toml", TOML), ("run.yaml", YAML)])
def test_a_config_file_sets_values_and_the_command_line_wins(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    config = run_config(switches(config=path))
    assert (config.seeds, config.finetune, config.finetune_on) == (2, False, ["emodb", "synth"])
    assert (config.acpt_settings.prompt_length, config.acpt_settings.iterations, config.classifier_settings.loss) == (
        4,
        30,
        "softmax",
    )
    config = run_config(switches(config=path, seeds="5", finetune=True, set_=["acpt.prompt_length=16"]))
    assert (config.seeds, config.finetune, config.acpt_settings.prompt_length) == (5, True, 16)
    assert config.acpt_settings.iterations == 30  # the file's, where the command line says nothing


def test_a_file_wins_over_the_profile():
    config = run_config(switches(profile="quick"))
    assert (config.seeds, config.acpt_settings.iterations) == (2, 60)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.toml", "seeds = 0\n", "setting seeds=0: input should be greater than or equal to 1"),
        ("bad.toml", "seeds = [\n", "bad.toml: not a readable settings file (Invalid value (at end of document))"),
        ("bad.yaml", "- 1\n- 2\n", "bad.yaml: holds list, not a table of settings"),
        ("bad.yaml", "seeds: [1\n", "bad.yaml: not a readable settings file (while parsing a flow sequence"),
        (
            "bad.toml",
            "[acpt_settings]\nn_tokens = 0\n",
            "setting acpt.prompt_length=0: input should be greater than or equal to 1",
        ),
        ("bad.toml", "speed = 2\n", "unknown setting 'speed'"),
        ("missing.toml", None, "missing.toml: not a readable settings file"),
    ],
)
def test_a_bad_config_file_is_one_line(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    line = one_line_error(tmp_path, "--config", str(tmp_path / name))
    assert message in line


def test_from_a_record_reruns_its_exact_settings_and_flags_win(tmp_path):
    ran = RunConfig(seeds=2, finetune=False, finetune_on=["synth"], output=tmp_path / "elsewhere")
    ran.apply({"acpt.prompt_length": 4, "classifier.loss": "softmax"})
    record = {
        "schema": records.SCHEMA,
        "kind": "bench.run",
        "config": ran.model_dump(mode="json"),
        "backbone": {},
        "dataset": {},
        "seeds": [0, 1],
        "units": [],
        "summary": [],
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    assert run_config(switches(from_=path)) == ran
    again = run_config(switches(from_=path, seeds="1", set_=["acpt.prompt_length=2"]))
    assert (again.seeds, again.acpt_settings.prompt_length, again.classifier_settings.loss) == (1, 2, "softmax")


def test_from_a_file_that_is_not_a_record_is_one_line(tmp_path):
    (tmp_path / "record.json").write_text(json.dumps({"schema": 1}))
    line = one_line_error(tmp_path, "--from", str(tmp_path / "record.json"))
    assert line == f"{tmp_path / 'record.json'}: not a record of this bench (kind: field required)"


# --- sweeps: the same switches, every point checked before the study starts ----------------------


@pytest.mark.parametrize(
    "param, message",
    [
        ("acpt.prompt_length=2,0", "setting acpt.prompt_length=0: input should be greater than or equal to 1"),
        ("acpt.prompt_length=4,400", "setting acpt.prompt_length=400: mini-clap's text encoder holds at most 384"),
        ("finetune.batch_size=1,8", "setting finetune.batch_size=1: input should be greater than or equal to 2"),
        ("acpt.temperature=0:1", "setting acpt.temperature=0: input should be greater than 0"),
        ("finetune=true,maybe", "setting finetune=maybe: expected true/false, 1/0 or yes/no"),
        ("acpt.momentum=0.5:1.5", "setting acpt.momentum=1.5: input should be less than 1"),
    ],
)
def test_every_sweep_point_is_checked_before_the_study(tmp_path, param, message):
    assert one_line_error(tmp_path, "--param", param, command="sweep") == message
    assert not (tmp_path / "runs" / "sweeps").exists()


SWEEP_FLAGS = [  # every range of the sweep's own options, at and past its edges
    (["--workers", "0"], "--workers 0: input should be greater than or equal to 1"),
    (["--workers", "-2"], "--workers -2: input should be greater than or equal to 1"),
    (["--workers", "two"], "--workers two: expected a whole number"),
    (["--trials", "0"], "--trials 0: input should be greater than or equal to 1"),
    (["--trials", "2.5"], "--trials 2.5: expected a whole number"),
    (["--metric", "accuracy"], "--metric accuracy: input should be 'wa', 'ua' or 'f1'"),
    (["--metric", "WA"], "--metric WA: input should be 'wa', 'ua' or 'f1'"),
    (
        ["--storage", "optuna.db"],
        "--storage optuna.db: expected a database URL, e.g. sqlite:///sweeps/optuna.db or postgresql://user@host/db",
    ),
    (
        ["--study-name", "../elsewhere"],
        "--study-name ../elsewhere: use letters, digits and . _ + - (the name is a folder under <output>/sweeps/)",
    ),
    (
        ["--study-name", ".hidden"],
        "--study-name .hidden: use letters, digits and . _ + - (the name is a folder under <output>/sweeps/)",
    ),
]


@pytest.mark.parametrize("args, message", SWEEP_FLAGS)
def test_every_sweep_option_is_checked_before_any_work(tmp_path, args, message):
    assert one_line_error(tmp_path, "prompt-length", *args, command="sweep") == message
    assert not (tmp_path / "runs" / "sweeps").exists()


def test_sweep_options_in_range_are_taken_as_given():
    options = settings.SweepSettings.from_flags(
        workers="1", trials="1", metric="f1", storage="sqlite:///a/optuna.db", study_name="tokens_2+x.1"
    )
    assert (options.workers, options.trials, options.metric, options.study_name) == (1, 1, "f1", "tokens_2+x.1")
    assert settings.SweepSettings.from_flags(workers=None, trials=None) == settings.SweepSettings()
    assert settings.SweepSettings().trials is None and settings.SweepSettings().storage is None


def test_a_sweep_takes_the_run_switches(tmp_path):
    result = runner.invoke(app, ["sweep", "--help"])
    for flag in ("--no-baselines", "--no-ablation", "--config", "--from", "--classifier-loss", "--checkpoint"):
        assert flag in result.output
    assert one_line_error(tmp_path, "loss", "--device", "foo", command="sweep") == (
        "setting device=foo: choose auto, cpu, cuda, cuda:N or mps"
    )


def test_a_boolean_sweep_has_two_different_points():
    from bench.sweep.plan import make_plan

    plan = make_plan(RunConfig(), ["finetune=true,false"])
    points = []
    for point in plan.grid:
        config = RunConfig()
        config.apply(point)
        points.append(config.finetune)
    assert points == [True, False]


# --- tracebacks only for bugs ----------------------------------------------------------------------


def test_a_bug_in_a_plugin_keeps_its_traceback(tmp_path, monkeypatch):
    from bench.backbones import mini_clap

    def broken(cls):
        raise ValueError("a genuine bug")

    monkeypatch.setattr(mini_clap.MiniClap, "options", classmethod(broken))
    result = runner.invoke(app, ["run", "--output", str(tmp_path / "runs")])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_of_a_user_error(tmp_path, monkeypatch, how):
    args = ["run", "--output", str(tmp_path), "--set", "seeds=0"]
    if how == "env":
        monkeypatch.setenv("BENCH_DEBUG", "1")
    result = runner.invoke(app, ["--debug", *args] if how == "flag" else args)
    assert result.exit_code == 1 and isinstance(result.exception, SettingError)


# --- runs: a false boolean is false; run identity follows the code ---------------------------------


def test_set_finetune_false_gives_the_run_without_fine_tuning(tmp_path):
    root = synth_one_take(tmp_path / "synth")
    tiny = [arg for key, value in TINY_SETTINGS.items() for arg in ("--set", f"{key}={value}")]
    result = runner.invoke(
        app,
        [
            "run",
            "--data-root",
            str(root),
            "--seeds",
            "1",
            "--output",
            str(tmp_path / "runs"),
            "--no-baselines",
            *tiny,
            "--set",
            "finetune=false",
        ],
    )
    assert result.exit_code == 0, result.output
    record = Record.read(next((tmp_path / "runs").glob("*/record.json")))
    assert record.config.finetune is False and record.finetunes == []
    assert {(r.finetune, r.label) for r in record.summary} == {(False, "none"), (False, "ACPT")}
    assert not any((tmp_path / "runs").glob("*/checkpoints/*.pt"))


def test_the_run_code_covers_the_backbone_helpers_and_the_core_stages():
    laion = {p.name for p in identity.backbone_files(registry.get("backbone", "laion-clap"))}
    assert {"laion_clap.py", "_laion.py", "_laion_audio.py", "_weights.py"} <= laion
    core = {
        str(p.relative_to(identity.CORE))
        for p in identity.package_files(identity.FEATURE_PACKAGES + identity.STAGE_PACKAGES)
    }
    assert {
        "training/contrastive.py",
        "training/losses.py",
        "features/embed.py",
        "audio/io.py",
        "audio/frontend.py",
        "protocol/rows.py",
        "methods/clep_dg/acpt.py",
    } <= core
    assert not any(p.startswith(("cli/", "results/", "sweep/")) for p in core)


@pytest.fixture
def plugin_copy(tmp_path):
    """The example plugin, installed from a copy whose backbone imports a helper module of its package."""
    build = tmp_path / "src"
    shutil.copytree(PLUGIN, build)
    package = build / "src" / "bench_example"
    (package / "_gain.py").write_text("GAIN = 1.0\n")
    backbone = package / "backbone.py"
    backbone.write_text(
        backbone.read_text().replace(
            "from bench.api import", "from bench_example._gain import GAIN  # noqa: F401\nfrom bench.api import", 1
        )
    )
    return install_plugin(build, tmp_path / "site")


@pytest.mark.slow
def test_editing_a_backbone_helper_module_gives_a_new_run_folder_and_a_cache_miss(plugin_copy, tmp_path):
    root = class_folders(tmp_path / "folders", {"f1", "m1"})
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(plugin_copy), "COLUMNS": "200", "BENCH_CACHE_DIR": str(cache)}
    stages = ("--no-baselines", "--no-ablation", "--no-acpt", "--no-classifier", "--backbone", "mfcc-minilm")
    run_args = tiny_args("class-folders", root, tmp_path / "runs", *stages, finetune="false")
    command = [sys.executable, "-m", "bench", *run_args]

    def run():
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return {p.parent.name for p in (tmp_path / "runs").glob("*/record.json")}, set(
            (cache / "embeddings" / "mfcc-minilm").iterdir()
        )

    folders, spaces = run()
    assert run() == (folders, spaces)  # unchanged code: the same folder and cache space
    (plugin_copy / "bench_example" / "_gain.py").write_text("GAIN = 1.0  # edited: the code is not the same\n")
    edited_folders, edited_spaces = run()
    assert len(edited_folders - folders) == 1 and len(edited_spaces - spaces) == 1
