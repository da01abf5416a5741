"""The primary verdict and the statistics beside the secondary ones, on hand-made per-protein hit rates."""

import numpy as np
import pandas as pd
import pytest

from pslmodels.verdict import PRIMARY_MODELS, bh_qvalues, detectable_effect, paired_tests, primary_verdict


def _hits(model, diffs, seed=0, method="attention", start=0):
    n = len(diffs)
    return pd.DataFrame({"model": model, "method": method, "seed": seed,
                         "accession": [f"P{start + i}" for i in range(n)], "true_label": "Nucleus",
                         "pred_label": "Nucleus", "n_peptides": 1, "hitrate_true": 0.5, "hitrate_pred": 0.5,
                         "control_hitrate_true": [0.5 - d for d in diffs], "control_hitrate_pred": 0.5})


def _study(diffs_for, seeds=1):
    rng = np.random.default_rng(0)
    return pd.concat([_hits(m, diffs_for(rng), seed=s, start=1000 * s) for m in PRIMARY_MODELS for s in range(seeds)])


def test_a_clear_effect_is_above_chance():
    v = primary_verdict(_study(lambda rng: rng.normal(0.1, 0.05, 200)), "attention")
    assert v["verdict"] == "above chance" and 0.09 < v["difference"] < 0.11 and v["n"] == 600


def test_no_effect_with_many_proteins_is_equivalent_to_chance():
    v = primary_verdict(_study(lambda rng: rng.normal(0.0, 0.05, 400), seeds=3), "attention")
    lo, hi = v["90% interval"]
    assert v["verdict"] == "equivalent to chance within +-0.02" and -0.02 < lo < hi < 0.02
    assert v["models"].count("3 seeds") == 3


def test_no_effect_with_few_noisy_proteins_is_undecided_and_says_how_large():
    v = primary_verdict(_study(lambda rng: rng.normal(0.0, 0.3, 30)), "attention")
    assert v["verdict"].startswith("undecided: effects up to ")
    assert float(v["verdict"].split("up to ")[1].split()[0]) > 0.02


def test_seed_variation_widens_the_interval():
    """Seeds that disagree: the hierarchical bootstrap carries the seed-to-seed spread into the interval."""
    def study(spread):
        return pd.concat([_hits(m, np.full(300, 0.05 + spread * (s - 1)) + np.random.default_rng(s).normal(0, .05, 300),
                                seed=s, start=1000 * s) for m in PRIMARY_MODELS for s in range(3)])
    narrow, wide = (primary_verdict(study(x), "attention")["95% interval"] for x in (0.0, 0.1))
    assert wide[1] - wide[0] > 2 * (narrow[1] - narrow[0])


def test_a_missing_model_is_not_judged():
    hits = _study(lambda rng: rng.normal(0.1, 0.05, 50))
    v = primary_verdict(hits[hits.model != "cnn35-att"], "attention")
    assert v["verdict"] == "not judged: no hit rates of cnn35-att"


def test_the_secondary_statistics():
    assert bh_qvalues([0.01, 0.02, 0.03, 0.5]).round(3).tolist() == [0.04, 0.04, 0.04, 0.5]
    assert detectable_effect(-0.0392, 0.0392) == pytest.approx(0.056, abs=1e-3)  # 2.8 standard errors of 0.02
    tests = paired_tests([0.1] * 9 + [-0.1])
    assert (tests["favour"], tests["against"]) == (9, 1) and tests["p_sign"] == pytest.approx(0.0215, abs=1e-3)


def test_calibration_counts_null_cells_that_exclude_zero_and_null_proteins_with_small_p():
    from pslmodels.verdict import calibration_table, clopper_pearson

    rng = np.random.default_rng(1)
    fair = pd.concat([_hits(f"m{i}", rng.normal(0, 0.1, 40), method="shifted").assign(p_true=rng.uniform(0, 1, 40),
                                                                                       p_pred=np.nan)
                      for i in range(20)])
    biased = pd.concat([_hits(f"m{i}", rng.normal(0.1, 0.05, 40), method="random").assign(p_true=0.01, p_pred=np.nan)
                        for i in range(5)])
    table = calibration_table({"fair": fair, "biased": biased}).set_index("hit rate")
    assert table.loc["fair", "null cells"] == 20 and table.loc["fair", "above 5 %"] == "no"
    assert table.loc["biased", "excluding 0"].startswith("5 (100.0%") and table.loc["biased", "above 5 %"] == "yes"
    assert table.loc["all", "null cells"] == 25 and table.loc["all", "null proteins"] == 1000
    lo, hi = clopper_pearson(5, 100)
    assert lo < 0.05 < hi


def test_calibration_counts_cells_that_share_proteins_as_dependent():
    """One null cell that excludes 0 by chance, repeated over six models on the same proteins: six of six cells
    exclude 0, which a binomial over cells calls far above 5 %; with the dependence kept (sign flips per protein)
    it is one chance event."""
    from pslmodels.verdict import calibration_table

    rng = np.random.default_rng(3)
    diffs = rng.normal(0, 0.1, 60)
    diffs += 2.2 * diffs.std(ddof=1) / np.sqrt(60) - diffs.mean()  # t = 2.2: excluded, by chance
    copies = pd.concat([_hits(f"m{i}", diffs, method="shifted").assign(p_true=0.5, p_pred=np.nan) for i in range(6)])
    row = calibration_table({"copies": copies}).set_index("hit rate").loc["copies"]
    assert row["excluding 0"].startswith("6 (100.0%") and row["t-interval, p (sign flips)"].startswith("6, p=")
    assert float(row["t-interval, p (sign flips)"].split("p=")[1]) > 0.02 and row["above 5 %"] == "no"
