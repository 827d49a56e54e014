"""Plugins come from entry points; a broken one is one line naming it, the others keep working."""

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.plugins import registry

BROKEN_MODULE = """
raise ImportError("this plugin needs a package that is not installed")
"""
SHAPES_MODULE = """
from bench.api import Backbone, DatasetLoader

class NotABackbone:
    name = "x"

class HalfBackbone(Backbone):
    name, sample_rate, clip_seconds, embed_dim = "half", 16000, 1.0, 8
"""


@pytest.fixture
def broken_distribution(tmp_path, monkeypatch):
    """A fake installed distribution 'brokenplug 0.1' with four broken entry points."""
    (tmp_path / "brokenplug_import.py").write_text(BROKEN_MODULE)
    (tmp_path / "brokenplug_shapes.py").write_text(SHAPES_MODULE)
    info = tmp_path / "brokenplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[bench.backbones]\n"
        "fails-import = brokenplug_import:Model\n"
        "missing-object = brokenplug_shapes:DoesNotExist\n"
        "wrong-type = brokenplug_shapes:NotABackbone\n"
        "abstract = brokenplug_shapes:HalfBackbone\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.plugins.cache_clear()
    yield
    registry.plugins.cache_clear()


def test_each_broken_plugin_is_one_line_naming_it_and_its_distribution(broken_distribution):
    lines = registry.problems()
    for name, reason in [
        ("fails-import", "ImportError: this plugin needs a package"),
        ("missing-object", "AttributeError"),
        ("wrong-type", "is not a subclass of bench.api.Backbone"),
        ("abstract", "does not implement"),
    ]:
        matching = [line for line in lines if f"'{name}'" in line]
        assert len(matching) == 1 and "\n" not in matching[0]
        assert "brokenplug 0.1" in matching[0] and reason in matching[0]


def test_the_other_plugins_keep_working(broken_distribution):
    assert registry.get("backbone", "mini-clap").name == "mini-clap"
    assert registry.dataset("emodb").name == "emodb"
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0 and "mini-clap" in result.output and "broken" in result.output


def test_using_a_broken_plugin_is_a_one_line_error(broken_distribution, tmp_path):
    result = CliRunner().invoke(app, ["run", "--backbone", "fails-import", "--output", str(tmp_path)])
    assert result.exit_code == 2
    assert "backbone plugin 'fails-import' from brokenplug 0.1 is broken" in result.output


def test_unknown_plugin_lists_what_is_installed():
    with pytest.raises(registry.PluginError, match=r"unknown dataset 'nope' \(installed: .*emodb"):
        registry.dataset("nope")


def test_plugin_check_reports_a_passing_backbone():
    result = CliRunner().invoke(app, ["plugin", "check", "mini-clap"])
    assert result.exit_code == 0, result.output
    for check in ("identity", "construct", "encode_audio", "encode_text", "soft prompts", "parameter groups"):
        assert f"ok   {check}" in result.output
