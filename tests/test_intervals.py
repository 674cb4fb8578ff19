"""Intervals over seeds (eqlab.report.intervals): the t and Welch formulas, their coverage, and the
three-way verdicts they decide."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eqlab.report.intervals import (
    Interval,
    below_at_taps,
    binomial_interval,
    combine,
    decide_sign,
    decide_within,
    difference_interval,
    mean_interval,
    seed_note,
)


def test_mean_interval_is_the_student_t_interval():
    iv = mean_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (iv.estimate, iv.low, iv.high, iv.n) == pytest.approx((2.0, 2 - half, 2 + half, 3))
    one = mean_interval([5.0])
    assert one.bounds is None and one.format() == "5.00 (n = 1)"
    with pytest.raises(ValueError, match="NaN"):
        mean_interval([1.0, float("nan")])


def test_difference_interval_matches_scipys_welch_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 5), rng.normal(0.0, 3.0, 4)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    iv = difference_interval(a, b)
    assert (iv.low, iv.high) == pytest.approx((ci.low, ci.high)) and iv.n == 4
    same = difference_interval([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])  # identical runs: a point, decided
    assert same.bounds == (1.0, 1.0) and decide_sign(same) is True


def test_intervals_cover_the_true_difference_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = sum(
        (lambda iv: iv.low <= 0.5 <= iv.high)(difference_interval(rng.normal(0.5, 1, 3), rng.normal(0, 2, 4)))
        for _ in range(4000)
    )
    assert 0.935 <= hits / 4000 <= 0.965


def test_verdicts_need_three_runs_and_an_interval_on_one_side():
    assert decide_sign(Interval(1.0, 0.2, 1.8, 3)) is True
    assert decide_sign(Interval(-1.0, -1.8, -0.2, 3)) is False
    assert decide_sign(Interval(0.5, -0.1, 1.1, 3)) is None  # straddles 0
    assert decide_sign(Interval(1.0, 0.2, 1.8, 2)) is None  # two seeds decide nothing
    assert decide_sign(-Interval(1.0, 0.2, 1.8, 3)) is False and (Interval(1.0, 0.2, 1.8, 3) + 1).low == 1.2
    assert decide_within(Interval(0.2, -0.5, 0.9, 3), 1.0) is True
    assert decide_within(Interval(2.0, 1.5, 2.5, 3), 1.0) is False
    assert decide_within(Interval(0.8, 0.1, 1.5, 3), 1.0) is None
    assert combine([True, True]) is True and combine([True, None]) is None and combine([None, False]) is False
    assert combine([]) is None


def test_below_at_taps_reads_log_gaps_per_tap():
    a = pd.DataFrame({"t1": [0.01, 0.011, 0.012], "t2": [0.5, 0.6, 0.7]})
    b = pd.DataFrame({"t1": [0.1, 0.11, 0.12], "t2": [0.5, 0.55, 0.65]})
    gaps, ok, worse = below_at_taps(a, b, ["t1", "t2"])
    assert gaps["t1"].estimate == pytest.approx(-1.0) and decide_sign(-gaps["t1"]) is True
    assert ok is None and worse == []  # t2 undecided
    gaps, ok, worse = below_at_taps(b, a, ["t1"])
    assert ok is False and worse == ["t1"]
    assert seed_note(a, b.iloc[:1]) == "n = 1 < 3 seeds, not established" and seed_note(a, b) == "n = 3 seeds"


def test_wilson_interval_sizes_a_test_set():
    iv = binomial_interval(0.1, 1024)
    assert iv.low < 0.1 < iv.high and iv.radius * 100 <= 2.0  # the LV maps' ≤ 2-point target at 10 % error
    assert binomial_interval(0.1, 128).radius * 100 > 5  # the 128 images scored before
    zero = binomial_interval(0.0, 50)
    assert zero.low == pytest.approx(0.0, abs=1e-12) and 0 < zero.high < 0.08  # never negative, still an interval at p = 0
    with pytest.raises(ValueError, match="n ≥ 1"):
        binomial_interval(0.5, 0)
