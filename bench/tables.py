"""Tables rendered from result records (never from memory)."""

from __future__ import annotations

from rich import box
from rich.table import Table


def pct(mean: float, std: float) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def run_table(record: dict) -> Table:
    """WA/UA/F1 (mean ± std over seeds) per stage setting and baseline of one run."""
    ds = record["dataset"]
    table = Table(
        title=f"{record['backbone']['name']} on {ds['name']} ({ds['protocol']}, {len(ds['folds'])} folds, "
        f"{len(record['seeds'])} seeds)",
        caption="WA = accuracy, UA = mean per-class recall, F1 = macro-F1; % mean ± std over seeds",
        box=box.SIMPLE_HEAD,
    )
    for column in ("setting", "FT", "ACPT", "WA %", "UA %", "F1 %"):
        table.add_column(column, justify="left" if column == "setting" else "right", no_wrap=True)
    for row in record["summary"]:
        table.add_row(
            row["row"],
            "✓" if row["finetune"] else "–",
            "✓" if row["acpt"] else "–",
            pct(row["wa"], row["wa_std"]),
            pct(row["ua"], row["ua_std"]),
            pct(row["f1"], row["f1_std"]),
        )
    return table
