"""Fixed-sequence calibration of the auto-approval threshold, against numbers worked out by hand.

With α = δ = 0.1: (0.9)^21 = 0.1094 > 0.1 ≥ (0.9)^22 = 0.0985, so at least 22 agreeing
steps are needed before any threshold can pass; one disagreement needs 38 steps
(0.9^37 · (0.9 + 3.8) = 0.0953, while 0.9^36 · (0.9 + 3.7) = 0.1036)."""

import math

import pytest

from webagent.calibration import binomial_cdf, calibrate, clopper_pearson_upper, min_testable
from webagent.errors import DataError


def levels(n, top=0.99, step=0.01):
    return [round(top - step * i, 4) for i in range(n)]


def test_the_fewest_steps_that_can_pass():
    assert min_testable(0.1, 0.1) == 22
    assert min_testable(0.2, 0.05) == 14  # 0.8^13 = 0.055 > 0.05 ≥ 0.8^14 = 0.044


def test_binomial_cdf_and_bound_by_hand():
    assert binomial_cdf(0, 30, 0.1) == pytest.approx(0.9**30)
    assert binomial_cdf(1, 26, 0.1) == pytest.approx(0.9**25 * 3.5)  # 0.9^26 + 26 · 0.1 · 0.9^25
    assert binomial_cdf(1, 38, 0.1) == pytest.approx(0.9**37 * 4.7)
    # k = 0 has a closed form: 1 − δ^(1/n)
    assert clopper_pearson_upper(0, 30, 0.1) == pytest.approx(1 - 0.1 ** (1 / 30))
    assert clopper_pearson_upper(5, 5, 0.1) == 1.0
    # with one event the bound is where the cdf falls to δ; at 38 trials just under 0.1
    bound = clopper_pearson_upper(1, 38, 0.1)
    assert binomial_cdf(1, 38, bound) == pytest.approx(0.1, abs=1e-9) and 0.09 < bound < 0.1


def test_bound_matches_the_beta_quantile():
    stats = pytest.importorskip("scipy.stats")
    for k, n, delta in [(1, 38, 0.1), (3, 50, 0.05), (7, 200, 0.1), (0, 10, 0.2)]:
        assert clopper_pearson_upper(k, n, delta) == pytest.approx(stats.beta.ppf(1 - delta, k + 1, n - k), rel=1e-6)


def test_all_agree_gives_the_lowest_confidence():
    pairs = [(c, True) for c in levels(30)]
    cal = calibrate(pairs, alpha=0.1, delta=0.1, min_samples=30)
    assert cal.threshold == pytest.approx(0.70)
    assert cal.coverage == 1.0 and cal.covered == 30 and cal.agreement == 1.0
    assert cal.bound == pytest.approx(0.073881, abs=1e-6)  # 1 − 0.1^(1/30)
    assert cal.p_value == pytest.approx(0.042391, abs=1e-6)  # 0.9^30


def test_the_first_disagreement_below_ends_the_scan():
    # 25 agreeing steps at 0.99 … 0.75, then 5 disagreeing ones at 0.74 … 0.70
    conf = levels(30)
    pairs = [(c, i < 25) for i, c in enumerate(conf)]
    cal = calibrate(pairs, alpha=0.1, delta=0.1)
    # n = 26, k = 1: P = 0.9^25 · 3.5 = 0.2513 > 0.1 — the scan stops; 0.75 was the last to pass
    assert cal.threshold == pytest.approx(0.75)
    assert cal.coverage == pytest.approx(25 / 30) and cal.covered == 25
    assert cal.bound == pytest.approx(1 - 0.1 ** (1 / 25)) and cal.bound == pytest.approx(0.087989, abs=1e-6)
    assert cal.p_value == pytest.approx(0.9**25)


def test_fixed_sequence_never_resumes_after_a_failure():
    # 22 agree, one disagrees, then 100 more agree: at n = 123, k = 1 the bound would
    # pass, but the sequence already failed at n = 23 (P = 0.9^22 · 3.2 = 0.315)
    conf = levels(123, top=0.999, step=0.001)
    pairs = [(c, i != 22) for i, c in enumerate(conf)]
    assert binomial_cdf(1, 123, 0.1) < 0.1
    cal = calibrate(pairs, alpha=0.1, delta=0.1)
    assert cal.threshold == pytest.approx(conf[21]) and cal.covered == 22


def test_a_disagreement_among_the_most_confident_leaves_no_threshold():
    pairs = [(1.0, False)] + [(c, True) for c in levels(39)]
    cal = calibrate(pairs, alpha=0.1, delta=0.1)  # first test at n = 22, k = 1: 0.339 > 0.1
    assert cal.threshold is None and cal.coverage == 0.0 and "no confidence level" in cal.reason
    # the first tested set is the smallest that could pass with no disagreement at all, so
    # one disagreement among the most confident steps ends it (with α = 0.2 too: at n = 11,
    # P = 0.8^11 + 11 · 0.2 · 0.8^10 = 0.322); without it every level passes
    assert calibrate(pairs, alpha=0.2, delta=0.1).threshold is None
    assert calibrate(pairs[1:], alpha=0.1, delta=0.1).threshold == pytest.approx(min(c for c, _ in pairs))


def test_ties_enter_together():
    # 21 steps at 0.9 and 1 at 0.8: at 0.9 only 21 steps (untestable), at 0.8 all 22 pass
    pairs = [(0.9, True)] * 21 + [(0.8, True)] + [(0.5, False)] * 10
    cal = calibrate(pairs, alpha=0.1, delta=0.1, min_samples=10)
    assert cal.threshold == pytest.approx(0.8) and cal.covered == 22 and cal.coverage == pytest.approx(22 / 32)
    # a disagreement tied with agreeing steps drags its whole level down with it
    tied = [(0.9, True)] * 22 + [(0.8, True)] * 3 + [(0.8, False)]  # at 0.8: n = 26, k = 1 fails
    assert calibrate(tied, alpha=0.1, delta=0.1, min_samples=10).threshold == pytest.approx(0.9)
    apart = [(0.9, True)] * 22 + [(0.8, True)] * 3 + [(0.7, False)]  # at 0.8: n = 25, k = 0 passes
    assert calibrate(apart, alpha=0.1, delta=0.1, min_samples=10).threshold == pytest.approx(0.8)


def test_too_little_data_always_asks():
    cal = calibrate([(0.99, True)] * 10, alpha=0.1, delta=0.1, min_samples=30)
    assert cal.threshold is None and cal.coverage == 0.0 and cal.n == 10
    assert "fewer than the 30" in cal.reason and "always asks" in cal.guarantee
    # enough rows but too few to pass even with perfect agreement
    cal = calibrate([(0.99, True)] * 21, alpha=0.1, delta=0.1, min_samples=5)
    assert cal.threshold is None


def test_bad_settings_are_errors():
    with pytest.raises(DataError, match="alpha and delta"):
        calibrate([], alpha=0.0)
    with pytest.raises(DataError, match="NaN"):
        calibrate([(math.nan, True)] * 40)
