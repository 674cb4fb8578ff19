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
    paired_binomial_difference,
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


def test_paired_difference_interval_covers_and_beats_two_unpaired_ones():
    # Agresti–Min by hand: 30 images only the map gets wrong, 10 only the reference, n = 1,000
    iv = paired_binomial_difference(30, 10, 1000)
    pw, pb = 30.5 / 1002, 10.5 / 1002
    half = 1.959964 * math.sqrt((pw + pb - (pw - pb) ** 2) / 1002)
    assert iv.estimate == pytest.approx(0.02) and iv.low == pytest.approx(pw - pb - half, rel=1e-5)
    assert iv.high == pytest.approx(pw - pb + half, rel=1e-5) and iv.n == 1000
    # where the two classifiers agree on most images, the paired interval is far narrower than the
    # Wilson intervals of the two error rates (30 % and 28 %) would suggest
    assert iv.radius < 0.3 * (binomial_interval(0.30, 1000).radius + binomial_interval(0.28, 1000).radius)
    # 95 % coverage, simulated: 2,000 draws of 300 paired outcomes with P(worse) = 4 %, P(better) = 7 %
    rng = np.random.default_rng(0)
    cells = rng.multinomial(300, [0.04, 0.07, 0.89], size=2000)
    hits = [paired_binomial_difference(int(w), int(b), 300).low <= -0.03 <= paired_binomial_difference(int(w), int(b), 300).high
            for w, b, _ in cells]
    assert 0.93 <= np.mean(hits) <= 0.975
    assert paired_binomial_difference(0, 0, 50).bounds is not None  # no discordant pair: still an interval
    with pytest.raises(ValueError, match="0 ≤ worse \\+ better ≤ n"):
        paired_binomial_difference(30, 30, 50)
