"""`bench run`: the whole protocol for one backbone on one dataset."""

from __future__ import annotations

from bench.cli.common import out, user_errors
from bench.cli.switches import run_config, with_run_switches
from bench.runtime import distributed
from bench.util import fileio


@with_run_switches
def run(switches: dict) -> None:
    """Run fine-tune -> ACPT -> cross-modal classifier -> evaluate over folds and seeds."""
    from bench.protocol import run as proto
    from bench.results import plots
    from bench.results.catalog import Found
    from bench.results.tables import run_table

    with user_errors():
        record = proto.run(run_config(switches))
    distributed.finish()
    if not distributed.is_main():
        return
    out.print(run_table(record))
    path = record.path
    if record.conditions:
        from bench.results import soundscape
        from bench.results.render import rich_table

        out.print(rich_table(soundscape.table([Found(path, record)])))
    plot = plots.confusion(Found(path, record), path.parent / "confusion.png")
    out.print(f"record: {fileio.as_text(path)}", highlight=False, soft_wrap=True)
    out.print(f"confusion matrix of the main row: {fileio.as_text(plot)}", highlight=False, soft_wrap=True)
