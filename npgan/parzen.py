r"""The Gaussian Parzen-window log-likelihood: the number of the GAN paper's Table 1.

Goodfellow et al. 2014 fit a Gaussian kernel density to a generator's samples and report the
mean log-likelihood of the MNIST test digits under it (GAN: 225 +- 2 nats; Mirza and
Osindero 2014, conditional: 132 +- 1.8). With samples s_1..s_N (pixels in [0, 1], D = 784)
and bandwidth sigma, the density at a test image x is

    p(x) = 1/N sum_i N(x; s_i, sigma^2 I)
    log p(x) = logsumexp_i( -|x - s_i|^2 / (2 sigma^2) ) - log N - D/2 log(2 pi sigma^2)

computed in float64 with a log-sum-exp (the exponents are around -10^3: exp() alone would
give 0 for every term). The protocol, as in the authors' published code (goodfeli/adversarial,
``parzen_ll.py``): N = 10,000 samples; sigma chosen from ``logspace(-1, 0, 10)`` by the mean
log-likelihood of 1,000 held-out digits; then the mean over the 10,000 test digits, with its
standard error std / sqrt(n).

It is a weak measure, and the paper says so (Theis, van den Oord and Bethge 2016 show why):
in 784 dimensions 10,000 samples cover the space thinly, so the figure rewards samples close
to test digits more than it measures the density. npgan reports it because it is the number
readers compare with.

    parzen_log_likelihood(samples, x, sigma)      (n,) log p(x) of each row of x
    choose_sigma(samples, valid, sigmas)          the best sigma and each sigma's mean
    parzen_estimate(samples, valid, test)         the whole protocol, as a dict
"""

import numpy as np

SIGMAS = np.logspace(-1, 0, 10)          # the bandwidths the paper's code searches
CHUNK = 250      # rows of x per distance block: (CHUNK, N) float64, 20 MB for N = 10,000


def squared_distances(x, samples):
    """|x_j - s_i|^2 for every pair: (n, D) and (N, D) -> (n, N), float64, >= 0.

    From |x|^2 + |s|^2 - 2 x.s: one matrix product instead of an (n, N, D) array."""
    x, s = np.asarray(x, np.float64), np.asarray(samples, np.float64)
    d2 = x @ s.T                                                    # (n, N)
    d2 *= -2
    d2 += np.einsum("ij,ij->i", x, x)[:, None]                      # |x|^2, no (n, D) temporary
    d2 += np.einsum("ij,ij->i", s, s)[None, :]                      # |s|^2
    return np.maximum(d2, 0.0, out=d2)               # round-off can make tiny ones negative


def logsumexp(a, axis):
    """log sum exp(a) along ``axis``, stable: max + log sum exp(a - max)."""
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def log_density(d2, sigma, dim):
    """log p(x) for each row of squared distances d2 (n, N) to the N samples: (n,)."""
    n_samples = d2.shape[1]
    return (logsumexp(-d2 / (2 * sigma ** 2), axis=1) - np.log(n_samples)
            - dim / 2 * np.log(2 * np.pi * sigma ** 2))


def parzen_log_likelihood(samples, x, sigma, *, chunk=CHUNK):
    """log p(x) of each row of x (n, D) under the Parzen window of samples (N, D): (n,)."""
    x = np.asarray(x)
    if x.ndim != 2 or np.ndim(samples) != 2 or x.shape[1] != np.shape(samples)[1]:
        raise ValueError(f"x {x.shape} and samples {np.shape(samples)} must be (n, D) and (N, D)")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return np.concatenate([log_density(squared_distances(x[a:a + chunk], samples), sigma,
                                       x.shape[1]) for a in range(0, len(x), chunk)])


def choose_sigma(samples, valid, sigmas=SIGMAS):
    """The sigma of ``sigmas`` with the highest mean log-likelihood of ``valid`` (m, D).
    Returns (sigma, {sigma: mean}); each block of distances is computed once for all sigmas."""
    totals = dict.fromkeys(map(float, sigmas), 0.0)
    for a in range(0, len(valid), CHUNK):            # one (CHUNK, N) block at a time
        d2 = squared_distances(valid[a:a + CHUNK], samples)
        for s in totals:
            totals[s] += float(log_density(d2, s, valid.shape[1]).sum())
    means = {s: total / len(valid) for s, total in totals.items()}
    return max(means, key=means.get), means


def parzen_estimate(samples, valid, test, sigmas=SIGMAS):
    """The protocol: sigma by ``valid``, then the mean log-likelihood of ``test`` and its
    standard error. Returns {"sigma", "mean", "std_error", "n_samples", "n_valid", "n_test",
    "valid_means"}; log-likelihoods in nats."""
    sigma, means = choose_sigma(samples, valid, sigmas)
    ll = parzen_log_likelihood(samples, test, sigma)
    return {"sigma": sigma, "mean": float(ll.mean()),
            "std_error": float(ll.std(ddof=1) / np.sqrt(len(ll))) if len(ll) > 1 else 0.0,
            "n_samples": len(samples), "n_valid": len(valid), "n_test": len(test),
            "valid_means": means}
