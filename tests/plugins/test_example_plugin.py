"""The example third-party plugin, installed as its own distribution, is found and runs."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from benchtest import PLUGIN, class_folders, install_plugin, synth_one_take, tiny_args

from bench.results.schema import Record


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """pip-install the plugin (offline, no dependencies) into a folder put on PYTHONPATH."""
    site = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(PLUGIN, build)  # build in a copy: nothing is written into the repository
    return install_plugin(build, site)


def bench(site, *args):
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True)


def test_bench_list_shows_the_plugin_and_its_distribution(plugin_site):
    result = bench(plugin_site, "list")
    assert result.returncode == 0, result.stderr
    assert "mfcc-minilm" in result.stdout and "class-folders" in result.stdout and "nearest-class-mean" in result.stdout
    assert "bench-example-plugin 0.1.0" in result.stdout


@pytest.mark.slow
def test_plugin_check_passes_for_the_example_backbone(plugin_site):
    result = bench(plugin_site, "plugin", "check", "mfcc-minilm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "soft prompts" in result.stdout


@pytest.mark.slow
def test_bench_run_uses_the_plugin_backbone_and_dataset(plugin_site, tmp_path):
    root = class_folders(tmp_path / "folders", {"f1", "m1", "f2"})
    result = bench(plugin_site, *tiny_args("class-folders", root, tmp_path / "runs", "--backbone", "mfcc-minilm"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mfcc-minilm on class-folders (speaker, 3 folds" in result.stdout
    assert "fine-tune + ACPT" in result.stdout


@pytest.mark.slow
def test_bench_run_method_uses_the_plugin_method(plugin_site, tmp_path):
    methods = ("--method", "nearest-class-mean", "--method", "zero-shot", "--no-finetune")
    data = synth_one_take(tmp_path / "synth")
    own = {"nearest-class-mean.distance": "cosine"}  # the plugin method's own setting
    own_settings = {"nearest-class-mean": {"distance": "cosine"}}
    result = bench(plugin_site, *tiny_args("synth", data, tmp_path / "runs", *methods, **own))
    assert result.returncode == 0, result.stderr[-2000:]
    table = result.stdout.split("record:")[0]
    assert "nearest-class-mean" in table and "zero shot" in table
    assert "fine-tune + ACPT" not in table and "linear probe" not in table  # only the methods asked for
    record = Record.read(re.search(r"record: (\S+)", result.stdout).group(1))
    assert record.config.method_settings == own_settings  # recorded, so it names the run folder too
    wrong = bench(
        plugin_site, *tiny_args("synth", data, tmp_path / "runs", *methods, **{"nearest-class-mean.distance": "l1"})
    )
    assert wrong.returncode == 2 and not any((tmp_path / "runs").glob("*/units/*l1*"))
    assert "error: setting nearest-class-mean.distance=l1: input should be 'euclidean' or 'cosine'" in wrong.stderr
