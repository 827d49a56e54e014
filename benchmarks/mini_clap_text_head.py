"""Which text head keeps mini-clap's text side meaningful after the contrastive fine-tune?

    python benchmarks/mini_clap_text_head.py --data-root /path/to/emodb       # ~3 min on 2 cores (zero-shot only)
    python benchmarks/mini_clap_text_head.py --data-root ... --methods zero-shot,clep-dg   # + the main row, ~25 min
    python benchmarks/mini_clap_text_head.py --data-root ... --heads mlp,orthogonal-frozen --output runs-th

For each ``--backbone-opt text_head=`` choice of mini-clap, one public ``bench run`` (profile
quick, 1 seed, no ablation arms, fold-aware fine-tuning on every fold of the dataset's first
protocol: EmoDB's 10 leave-one-speaker-out folds), then the fold checkpoints it wrote in
``checkpoints/`` are loaded into a fresh backbone and the protocol's texts are measured in the
joint space ``normalize(project_text(text_features(texts)))``:

  same-class   mean cosine of two descriptions of the same class in different soundscapes
  other-class  mean cosine of two descriptions of different classes
  scape-mate   mean cosine of two descriptions of the same soundscape and different classes
  to-caption   mean cosine of a description and its own class caption ("This is a X sound")
  captions     mean cosine between two different class captions
  scape-NN     share of descriptions whose nearest soundscape centroid (the mean of that
               soundscape's descriptions of the other classes) is their own (chance 1/12)

Text figures are means over the fold checkpoints; ``MiniLM`` is the frozen text encoder's own
space (no head) and ``init`` a head as built (torch seed 0), before any fine-tuning. Beside
them, from the run's record.json: zero-shot WA/UA on the test folds (nearest caption, mean
over folds) and, when ``--methods`` has clep-dg, the main row's WA. A collapsed text head shows
as same-class and to-caption near 1 and scape-NN near chance: soundscape wording is gone and
ACPT's soft prompts have nothing to act on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.plugins import registry
from bench.protocol import texts

HEADS = ("mlp", "linear", "orthogonal-frozen")
COLUMNS = ("same-class", "other-class", "scape-mate", "to-caption", "captions", "scape-NN")


def run_bench(head: str, args: argparse.Namespace, output: Path) -> tuple[int, float, str, Path | None]:
    """One ``bench run`` for this text head; its exit status, wall seconds, last lines and run folder."""
    before = set(output.glob("*/checkpoints"))
    command = [
        *[sys.executable, "-m", "bench"],
        "run",
        *("--dataset", args.dataset),
        *(("--data-root", str(args.data_root)) if args.data_root else ()),
        *("--profile", "quick", "--seeds", "1", "--no-ablation", "--device", "cpu"),
        *("--method", args.methods),
        *("--backbone-opt", f"text_head={head}"),
        *("--output", str(output)),
        *[item for setting in args.set for item in ("--set", setting)],
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, time.perf_counter() - started, "\n".join(lines[-3:]), run_folder(output, lines, before)


def run_folder(output: Path, lines: list[str], before: set[Path]) -> Path | None:
    """The run's folder: as its last lines name it, else the one it made, else the newest there."""
    named = [Path(line.removeprefix("record: ").strip()) for line in lines if line.startswith("record: ")]
    if named:
        return named[-1].parent
    folders = [p for p in output.glob("*/checkpoints") if any(p.glob("*.pt"))]
    made = [p for p in folders if p not in before]
    folders = made or folders
    return max(folders, key=lambda p: max(f.stat().st_mtime for f in p.iterdir())).parent if folders else None


def pair_mean(sims: torch.Tensor, mask: torch.Tensor) -> float:
    mask = mask & ~torch.eye(len(sims), dtype=torch.bool)
    return float(sims[mask].mean())


def text_figures(joint_desc: torch.Tensor, joint_caps: torch.Tensor, labels, scapes) -> dict[str, float]:
    """The columns of the table for one text space (rows already L2-normalised)."""
    sims = joint_desc @ joint_desc.T
    same_class, same_scape = labels[:, None] == labels[None], scapes[:, None] == scapes[None]
    caps = joint_caps @ joint_caps.T
    n_scapes = int(scapes.max()) + 1
    hits = 0
    for i in range(len(joint_desc)):
        others = labels != labels[i]
        centroids = torch.stack([joint_desc[others & (scapes == s)].mean(0) for s in range(n_scapes)])
        hits += int((F.normalize(centroids, dim=1) @ joint_desc[i]).argmax()) == int(scapes[i])
    return {
        "same-class": pair_mean(sims, same_class & ~same_scape),
        "other-class": pair_mean(sims, ~same_class),
        "scape-mate": pair_mean(sims, same_scape & ~same_class),
        "to-caption": float((joint_desc * joint_caps[labels]).sum(1).mean()),
        "captions": pair_mean(caps, torch.ones_like(caps, dtype=torch.bool)),
        "scape-NN": hits / len(joint_desc),
    }


def joint(backbone, features: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return F.normalize(backbone.project_text(features), dim=1)


def summary_figures(folder: Path | None) -> dict[str, str]:
    """Zero-shot WA/UA and the main row's WA from the run's record (if it got that far)."""
    record_path = folder / "record.json" if folder else None
    if record_path is None or not record_path.is_file():
        return {}
    rows = [r for r in json.loads(record_path.read_text()).get("summary", []) if r.get("finetune")]
    rows = [r for r in rows if not r.get("condition")]
    found = {}
    zero = next((r for r in rows if r.get("method") == "zero-shot"), None)
    if zero:
        found["zs WA"], found["zs UA"] = f"{100 * zero['wa']:.1f}", f"{100 * zero['ua']:.1f}"
    # schema 2 marks the main row; schema 1 named CLEP-DG's rows cross-modal, with the ACPT flag
    main = [r for r in rows if r.get("method") not in ("zero-shot", "linear-probe", "encoder-probe")]
    main = [r for r in main if r.get("main", r.get("acpt"))]
    if main:
        found["main WA"] = f"{100 * main[0]['wa']:.1f}"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="emodb")
    parser.add_argument("--data-root", type=Path, default=os.environ.get("BENCH_EMODB_ROOT"))
    parser.add_argument("--heads", default=",".join(HEADS), help="text_head choices, comma-separated")
    parser.add_argument("--methods", default="zero-shot", help="bench run --method (add clep-dg for the main row)")
    parser.add_argument("--output", type=Path, help="run folders (kept; a second call reuses the finished runs)")
    parser.add_argument("--set", action="append", default=[], help="passed to bench run --set")
    args = parser.parse_args()
    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    output = args.output or Path(tempfile.mkdtemp(prefix="mini-clap-text-head-"))
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    words = [registry.dataset(args.dataset).text_label(c) for c in registry.dataset(args.dataset).classes]
    desc = texts.descriptions(words)
    labels, scapes = torch.tensor(desc.labels), torch.tensor(desc.soundscapes)
    table: list[tuple[str, dict[str, float], dict[str, str]]] = []
    raw = None
    for head in heads:
        rc, seconds, tail, folder = run_bench(head, args, output / head)
        print(f"text_head={head}: bench run exit {rc} in {seconds:.0f} s ({folder})", flush=True)
        if rc != 0:
            print("  " + tail.replace("\n", "\n  "), flush=True)
        torch.manual_seed(0)
        backbone = registry.backbone("mini-clap", text_head=head).eval()
        if raw is None:
            with torch.no_grad():
                raw = backbone.text_features(desc.texts), backbone.text_features(texts.captions(words))
            table.append(
                (
                    "MiniLM (no head)",
                    text_figures(F.normalize(raw[0], dim=1), F.normalize(raw[1], dim=1), labels, scapes),
                    {},
                )
            )
        table.append(
            (f"{head} init", text_figures(joint(backbone, raw[0]), joint(backbone, raw[1]), labels, scapes), {})
        )
        checkpoints = sorted((folder / "checkpoints").glob("*.pt")) if folder else []
        per_fold = []
        for path in checkpoints:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            backbone.load_trainable_state(payload["state"])
            per_fold.append(text_figures(joint(backbone, raw[0]), joint(backbone, raw[1]), labels, scapes))
        if per_fold:
            mean = {k: sum(f[k] for f in per_fold) / len(per_fold) for k in COLUMNS}
            table.append((f"{head} fine-tuned ({len(per_fold)} folds)", mean, summary_figures(folder)))

    extra = ("zs WA", "zs UA", "main WA")
    print(
        f"\n{args.dataset}, bench run --profile quick --seeds 1 --no-ablation --method {args.methods}; runs in {output}"
    )
    print(f"{'':40}" + "".join(f"{c:>12}" for c in (*COLUMNS, *extra)))
    for name, figures, record in table:
        cells = [f"{figures[c]:12.3f}" for c in COLUMNS] + [f"{record.get(c, '–'):>12}" for c in extra]
        print(f"{name:40}" + "".join(cells))
    print(
        "cosines in the joint space; scape-NN chance 0.083; zs = zero-shot on the test folds (%), main = first main row"
    )


if __name__ == "__main__":
    main()
