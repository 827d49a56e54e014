"""The CLI's main paths with every socket blocked: nothing in bench reaches for the network."""

import re

from benchtest import TINY_SETTINGS
from typer.testing import CliRunner

from bench.cli import app
from bench.results.schema import Record

runner = CliRunner()


def test_main_paths_run_with_sockets_blocked(no_network, tmp_path):
    listing = runner.invoke(app, ["list"])
    assert listing.exit_code == 0 and "mini-clap" in listing.output

    check = runner.invoke(app, ["plugin", "check", "mini-clap"])
    assert check.exit_code == 0, check.output

    data = runner.invoke(app, ["data", "check", "--dataset", "synth"])
    assert data.exit_code == 0, data.output

    settings = [a for k, v in TINY_SETTINGS.items() for a in ("--set", f"{k}={v}")]
    run = runner.invoke(app, ["run", "--seeds", "1", "--no-ablation", "--output", str(tmp_path), *settings])
    assert run.exit_code == 0, run.output
    record = Record.read(re.search(r"record: (\S+)", run.output).group(1))
    assert {row.label for row in record.summary} >= {"fine-tune + ACPT"}

    table = runner.invoke(app, ["table", "ablation", "--runs", str(tmp_path), "--format", "markdown"])
    assert table.exit_code == 0, table.output
