"""The Parzen-window log-likelihood (npgan/parzen.py) against cases with a known answer."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from npgan.parzen import (SIGMAS, choose_sigma, logsumexp, parzen_estimate,
                          parzen_log_likelihood, squared_distances)


def gaussian_log_pdf(x, mean, sigma):
    """log N(x; mean, sigma^2 I) of each row of x, written out."""
    d = x.shape[1]
    return -((x - mean) ** 2).sum(1) / (2 * sigma ** 2) - d / 2 * np.log(2 * np.pi * sigma ** 2)


def test_one_sample_is_one_gaussian():
    rng = np.random.default_rng(0)
    s, x = rng.standard_normal((1, 5)), rng.standard_normal((7, 5))
    for sigma in (0.1, 0.5, 2.0):
        np.testing.assert_allclose(parzen_log_likelihood(s, x, sigma),
                                   gaussian_log_pdf(x, s, sigma), rtol=1e-12)


def test_two_samples_are_an_equal_mixture():
    rng = np.random.default_rng(1)
    s, x = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    want = np.log(0.5 * np.exp(gaussian_log_pdf(x, s[0], 0.7))
                  + 0.5 * np.exp(gaussian_log_pdf(x, s[1], 0.7)))
    np.testing.assert_allclose(parzen_log_likelihood(s, x, 0.7), want, rtol=1e-12)


def test_far_points_stay_finite():
    """In 784 dimensions the exponents are around -1,000: exp() alone would give log 0."""
    s, x = np.zeros((3, 784)), np.ones((2, 784))
    ll = parzen_log_likelihood(s, x, 0.1)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, gaussian_log_pdf(x, s[0], 0.1), rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 50), st.integers(1, 40), st.floats(0.05, 3.0))
def test_chunks_and_distances_agree_with_the_direct_formula(n, chunk, sigma):
    rng = np.random.default_rng(n)
    s, x = rng.uniform(0, 1, (9, 6)), rng.uniform(0, 1, (n, 6))
    d2 = ((x[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(x, s), d2, atol=1e-12)
    direct = logsumexp(-d2 / (2 * sigma ** 2), 1) - np.log(9) - 3 * np.log(2 * np.pi * sigma ** 2)
    np.testing.assert_allclose(parzen_log_likelihood(s, x, sigma, chunk=chunk), direct, rtol=1e-10)


def test_sigma_is_chosen_by_the_held_out_likelihood():
    """Data from N(0, sigma0^2 I) scored under one sample at 0: the best bandwidth of the
    grid is the grid's nearest to sigma0 (the Gaussian's maximum-likelihood scale)."""
    rng = np.random.default_rng(2)
    sigma0 = SIGMAS[4]
    valid = sigma0 * rng.standard_normal((4000, 20))
    sigma, means = choose_sigma(np.zeros((1, 20)), valid)
    assert sigma == pytest.approx(sigma0) and len(means) == len(SIGMAS)
    assert max(means.values()) == means[sigma]


def test_estimate_reports_the_mean_and_its_standard_error():
    rng = np.random.default_rng(3)
    samples, valid, test = (rng.uniform(0, 1, (m, 4)) for m in (50, 30, 40))
    est = parzen_estimate(samples, valid, test)
    ll = parzen_log_likelihood(samples, test, est["sigma"])
    assert est["mean"] == pytest.approx(ll.mean())
    assert est["std_error"] == pytest.approx(ll.std(ddof=1) / np.sqrt(40))
    assert (est["n_samples"], est["n_valid"], est["n_test"]) == (50, 30, 40)


def test_the_samples_own_points_score_higher_than_elsewhere():
    """A density made of the samples is highest at them: the property the figure rewards."""
    rng = np.random.default_rng(4)
    s = rng.uniform(0, 1, (20, 10))
    at = parzen_log_likelihood(s, s, 0.1).mean()
    away = parzen_log_likelihood(s, rng.uniform(0, 1, (20, 10)), 0.1).mean()
    assert at > away + 10


@pytest.mark.parametrize("x, s, sigma", [(np.zeros((2, 3)), np.zeros((2, 4)), 1.0),
                                         (np.zeros(3), np.zeros((2, 3)), 1.0),
                                         (np.zeros((2, 3)), np.zeros((2, 3)), 0.0)])
def test_bad_input_is_refused(x, s, sigma):
    with pytest.raises(ValueError):
        parzen_log_likelihood(s, x, sigma)


def test_evaluate_parzen_reports_samples_and_the_real_reference(tmp_path, capsys):
    import json
    from npgan.evaluate import main as evaluate_main
    from small_runs import small_checkpoint
    ckpt = small_checkpoint(tmp_path / "run")
    assert evaluate_main([str(ckpt), "-n", "200", "--parzen", "--json",
                          str(tmp_path / "m.json")]) == 0
    assert "Parzen log-likelihood (nats)" in capsys.readouterr().out
    d = json.loads((tmp_path / "m.json").read_text())["parzen"]
    gen, real = d["generated"], d["real_training_digits"]
    assert (gen["n_samples"], gen["n_valid"], gen["n_test"]) == (200, 1000, 10000)
    assert real["n_samples"] == 200 and gen["sigma"] in [pytest.approx(s) for s in SIGMAS]
    # 200 real digits model the test digits far better than an untrained G's 200 samples
    assert real["mean"] > gen["mean"] + 50
