"""The encoder probe's C chosen by speaker folds or by holding out a training corpus, on a
leave-one-corpus-out protocol of real speech (bench.methods.probes.inner_folds).

    python benchmarks/probe_selection.py              # EmoDB as 5 pseudo-corpora, each in its own channel
    python benchmarks/probe_selection.py --control    # and the same 5 speaker pairs all clean

Only one real corpus with every speaker is at hand (EmoDB: ``BENCH_EMODB_ROOT``, else
``$BENCH_SHARED_DATA/emodb`` or ``../shared/data/emodb``), so the pooled protocol is built
from it: its 10 speakers in 5 male/female pairs, each pair a "corpus" recorded through its
own channel (clean, telephone, reverb, street noise, far-field; bench.data.conditions, rendered
once into the cache). That is a channel-and-speaker shift between corpora, not a change of
language, script or elicitation as between real corpora: what it measures is whether choosing
C on a held-out training channel gives a different C, and a different accuracy on the unseen
channel, than choosing it on speaker folds that see every training channel. ``--control``
repeats it with every pair clean (the corpora then differ only by speakers).

Per held-out corpus: the chosen C and WA / UA (%) on it for both selections, side by side;
features: mini-clap's encoder (GE2E) embedding from bench's cache; the probe is
bench.methods.probes.fit_encoder_probe as the encoder-probe method runs it (the outer folds
are bench.data.pooling's). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from bench.data import conditions
from bench.data.pooling import leave_one_corpus_out, pool
from bench.features.embed import audio_features
from bench.methods.probes import fit_encoder_probe, held_out_corpus, inner_folds
from bench.plugins import registry

PAIRS = [("03", "08"), ("10", "09"), ("11", "13"), ("12", "14"), ("15", "16")]  # male, female
CHANNELS = ["clean", "telephone", "reverb@0.9s", "street@5dB", "far-field@0.6s"]
SELECTIONS = ("speaker", "corpus")


def emodb_root() -> Path:
    if os.environ.get("BENCH_EMODB_ROOT"):
        return Path(os.environ["BENCH_EMODB_ROOT"])
    shared = os.environ.get("BENCH_SHARED_DATA")
    return (Path(shared) if shared else Path(__file__).resolve().parents[1] / ".." / "shared" / "data") / "emodb"


def pseudo_corpora(utterances, channels):
    """Speaker pair i under ``channels[i]``: a name per corpus -> its utterances."""
    corpora = {}
    for (male, female), channel in zip(PAIRS, channels):
        pair = [u for u in utterances if u.speaker in (male, female)]
        if channel != "clean":
            pair, skipped = conditions.apply(conditions.parse(channel), pair)
            assert not skipped, skipped[:3]
        corpora[f"{male}+{female}:{channel.split('@')[0]}"] = pair
    return corpora


def evaluate(title: str, corpora, backbone) -> dict[str, list[float]]:
    pooled = pool(corpora)
    torch.manual_seed(0)
    feats = audio_features(backbone, pooled.utterances)
    row = {uid: i for i, uid in enumerate(feats.uids)}
    by_uid = {u.uid: u for u in pooled.utterances}
    n_classes = len(pooled.classes)
    print(f"\n{title}: {len(feats.uids)} clips, {n_classes} classes {', '.join(pooled.classes)}", flush=True)
    head = " | ".join(f"{s + ' selection':^36}" for s in SELECTIONS)
    print(f"{'held-out corpus':<22} {'n':>4} | {head}")
    print(
        f"{'':<22} {'':>4} | "
        + " | ".join(f"{'inner folds':<16}{'C':>5}{'inner':>6}{'WA':>5}{'UA':>5}" for _ in SELECTIONS)
    )
    totals: dict[str, list[float]] = {s: [] for s in SELECTIONS}
    for fold in leave_one_corpus_out(pooled.utterances):
        train = [by_uid[u] for u in fold.train if u in row]
        test = [by_uid[u] for u in fold.test if u in row]
        x_train = feats.features[[row[u.uid] for u in train]]
        x_test = feats.features[[row[u.uid] for u in test]]
        y_test = np.array([pooled.classes.index(u.label) for u in test])
        held_out = held_out_corpus(fold.name, train)
        cells = []
        for selection in SELECTIONS:
            inner = inner_folds(train, {u.speaker for u in test}, held_out, selection)
            probe = fit_encoder_probe(x_train, train, inner, pooled.classes, 0)
            predicted = probe(x_test).numpy()
            wa = 100 * float(np.mean(predicted == y_test))
            ua = 100 * float(np.mean([np.mean(predicted[y_test == k] == k) for k in np.unique(y_test)]))
            totals[selection].append((probe.C, wa, ua, 100 * probe.inner_accuracy))
            kind = inner.describe().replace(" groups)", ")").replace(" folds of ", "/")
            cells.append(f"{kind:<16}{probe.C:>5.0e}{100 * probe.inner_accuracy:>6.1f}{wa:>5.1f}{ua:>5.1f}")
        print(f"{held_out:<22} {len(test):>4} | " + " | ".join(cells), flush=True)
    means = [
        f"{'':<21}" + "".join(f"{np.mean([t[i] for t in totals[s]]):>{w}.1f}" for i, w in ((3, 6), (1, 5), (2, 5)))
        for s in SELECTIONS
    ]
    print(f"{'mean over corpora':<22} {'':>4} | " + " | ".join(means))
    differ = sum(a[0] != b[0] for a, b in zip(*totals.values()))
    print(f"the two selections chose different C on {differ} of {len(totals[SELECTIONS[0]])} held-out corpora")
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", action="store_true", help="also the same speaker pairs, all clean")
    args = parser.parse_args()
    started = time.perf_counter()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    scan = registry.dataset("emodb").scan(emodb_root())
    torch.manual_seed(0)
    backbone = registry.backbone("mini-clap")
    evaluate(
        "EmoDB, 5 speaker pairs x 5 channels, leave one pseudo-corpus out",
        pseudo_corpora(scan.utterances, CHANNELS),
        backbone,
    )
    if args.control:
        evaluate(
            "control: the same 5 speaker pairs, all clean",
            pseudo_corpora(scan.utterances, ["clean"] * len(PAIRS)),
            backbone,
        )
    print(
        "\nC: chosen inverse regularisation; inner: mean accuracy (%) of the inner folds at that C, the selection's "
        "estimate of the outer figure; WA = accuracy, UA = mean per-class recall (%) on the held-out corpus; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
