"""Statistics across seeds, against numbers computed by hand."""

import itertools

import numpy as np
import pytest

from qlearn.core.stats import bootstrap_ci, iqm, mean, standard_error, summarize


def test_iqm_is_the_mean_of_the_middle_half():
    # sorted: 1 2 | 3 4 5 6 | 10 100 -> (3 + 4 + 5 + 6) / 4
    x = np.array([10, 1, 2, 3, 100, 4, 5, 6])
    assert iqm(x) == 4.5
    assert mean(x) == 16.375
    # n = 10: floor(10 / 4) = 2 dropped at each end -> mean of 3..8
    assert iqm(np.arange(1, 11)) == pytest.approx((3 + 4 + 5 + 6 + 7 + 8) / 6)
    # n = 5: one dropped at each end
    assert iqm(np.array([-50.0, 1.0, 2.0, 3.0, 50.0])) == 2.0
    # fewer than four values: nothing to drop
    assert iqm(np.array([1.0, 2.0, 9.0])) == 4.0


def test_iqm_matches_scipy_trim_mean_and_works_along_the_last_axis():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for n in [1, 2, 3, 4, 5, 7, 8, 16, 17, 100]:
        x = rng.standard_cauchy(n)
        assert iqm(x) == pytest.approx(stats.trim_mean(x, 0.25))
    batch = rng.normal(size=(3, 9))
    assert np.allclose(iqm(batch), [iqm(row) for row in batch])


def test_standard_error_by_hand():
    # sample variance of 1, 2, 3, 4 is 5/3; se = sqrt(5/3) / sqrt(4)
    assert standard_error(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(np.sqrt(5 / 3) / 2)
    assert np.isnan(standard_error(np.array([3.0])))


def test_bootstrap_of_a_constant_is_that_constant():
    assert bootstrap_ci(np.full(7, -13.0), iqm) == (-13.0, -13.0)


def _exact_bootstrap_quantile(x, statistic, q):
    """The q-quantile of the statistic over all n^n equally likely resamples."""
    values = np.sort([statistic(np.array(s)) for s in itertools.product(x, repeat=len(x))])
    return values[int(np.ceil(q * len(values))) - 1]


def test_percentile_bootstrap_matches_the_exact_bootstrap_distribution():
    # Two values: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    assert bootstrap_ci(np.array([0.0, 1.0]), mean) == (0.0, 1.0)
    assert bootstrap_ci(np.array([0.0, 1.0]), mean, confidence=0.4) == (0.5, 0.5)
    # Three values: 27 equally likely resamples, enumerated exactly. The CDF has no
    # atom boundary near these quantiles, so Monte Carlo gives the exact atoms.
    x = np.array([1.0, 2.0, 4.0])
    assert bootstrap_ci(x, mean) == (1.0, 4.0)  # P(mean = 1) = 1/27 > 2.5%
    low, high = bootstrap_ci(x, mean, confidence=0.6, resamples=50_000)
    assert low == pytest.approx(_exact_bootstrap_quantile(x, mean, 0.2))
    assert high == pytest.approx(_exact_bootstrap_quantile(x, mean, 0.8))


def test_bootstrap_is_reproducible_from_its_seed():
    x = np.random.default_rng(0).normal(size=16)
    first = bootstrap_ci(x, iqm, seed=3)
    assert bootstrap_ci(x, iqm, seed=3) == first
    assert bootstrap_ci(x, iqm, seed=4) != first
    low, high = first
    assert low < iqm(x) < high


def test_bootstrap_interval_of_the_mean_is_close_to_the_normal_interval():
    x = np.random.default_rng(7).normal(10.0, 2.0, size=64)
    low, high = bootstrap_ci(x, mean, resamples=20_000)
    se = standard_error(x)
    # the percentile bootstrap's se is the plug-in one (ddof 0): a touch narrower
    assert low == pytest.approx(x.mean() - 1.96 * se, abs=0.25 * se)
    assert high == pytest.approx(x.mean() + 1.96 * se, abs=0.25 * se)


def test_summarize_one_seed():
    s = summarize(np.array([2.5]))
    assert (s.n, s.mean, s.iqm, s.mean_ci, s.iqm_ci) == (1, 2.5, 2.5, (2.5, 2.5), (2.5, 2.5))
    assert np.isnan(s.se)


def test_summarize_uses_one_seed_for_both_intervals():
    x = np.arange(12.0) ** 2
    s = summarize(x, seed=np.random.SeedSequence([0, 5]))
    assert s.mean_ci == bootstrap_ci(x, mean, seed=np.random.SeedSequence([0, 5]))
    assert s.iqm_ci == bootstrap_ci(x, iqm, seed=np.random.SeedSequence([0, 5]))
    assert s.mean == x.mean() and s.iqm == iqm(x)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci(np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(np.array([1.0]), confidence=1.5)
