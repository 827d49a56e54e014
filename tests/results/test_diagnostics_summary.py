"""A record's diagnostics: each arm's unit figures averaged, names kept, the PCA left in the units."""

from bench.results.records import summarize_diagnostics


def unit(share, drift, names=("studio", "car")):
    return [
        {
            "finetune": True,
            "method": "clep-dg",
            "arm": "ACPT prompts",
            "acpt": {"soundscapes": list(names), "specificity": {"share": share, "matrix": [[share, 0], [0, 1]]}},
            "drift": drift,
            "target": "class",
            "pca": {"audio": [[0.0, 1.0]]},
        }
    ]


def test_diagnostic_summary_averages_numbers_keeps_names_and_leaves_the_pca_in_units():
    (summary,) = summarize_diagnostics([unit(0.2, [1.0, None]), unit(0.4, [3.0, 2.0])])
    assert summary["units"] == 2 and "pca" not in summary
    assert summary["acpt"]["soundscapes"] == ["studio", "car"]
    assert summary["acpt"]["specificity"] == {"share": 0.3, "matrix": [[0.3, 0.0], [0.0, 1.0]]}
    assert summary["drift"] == [2.0, 2.0] and summary["target"] == "class"
    (differ,) = summarize_diagnostics([unit(0.2, [1.0, 1.0]), unit(0.2, [1.0, 1.0], names=("car", "studio"))])
    assert differ["acpt"]["soundscapes"] is None  # names that differ between units are not averaged
